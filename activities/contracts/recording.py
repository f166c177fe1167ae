"""The recording activity's input, progress and result, and what it tells the
workflow as segments close."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from activities.contracts.policy import RecordingPolicy
from activities.contracts.streamer import OwnedInput, WaitReason
from activities.contracts.streams import (
    MediaStream,
    Priority,
    StreamSource,
)


class RecordInput(OwnedInput):
    streamer_id: int
    streamer_name: str
    platform: str
    session_id: int
    session_start: datetime
    title: str
    source: StreamSource
    start_index: int = Field(default=0, description="First segment index to use")
    priority: Priority = Priority.NORMAL
    policy: RecordingPolicy = Field(
        default_factory=RecordingPolicy,
        description="Engine, splitting, naming and stream selection, as the "
        "workflow last loaded them: the activity follows later changes of the "
        "segment limits itself (`activities.config.follow`)",
    )
    workflow_id: str = Field(description="Workflow to signal `segment_closed` to")
    announce_start: bool = Field(
        default=False,
        description="Signal `recording_wait` (waiting_for=None) once the guards let "
        "the recording start: the workflow shows a guard wait until then",
    )
    refusal_as_result: bool = Field(
        default=False,
        description="Report a guard's refusal as `RecordResult.refused` instead of "
        "raising it (workflows from before the state machine expect the error)",
    )


class RecordProgress(BaseModel):
    """Heartbeat details of a recording; a retry resumes from them."""

    next_index: int = 0
    bytes_written: int = 0
    media_time_secs: float = 0.0
    segments_closed: int = 0


class RecordResult(BaseModel):
    next_index: int = Field(description="Index the next segment of the session gets")
    segments_closed: int
    bytes_written: int
    media_time_secs: float
    reason: str = Field(description="Why the recording stopped (ended, stalled, ...)")
    session_segments: int | None = Field(
        default=None,
        description="Completed segments of the whole session in the DB at the end",
    )
    url_refreshes: int = Field(
        default=0, description="Fresh stream URLs asked for as signed ones expired"
    )
    refused: WaitReason | None = Field(
        default=None,
        description="A guard held the recording back (no slot, breaker open, "
        "output root degraded); only with `RecordInput.refusal_as_result`",
    )
    retry_after_secs: float = Field(
        default=0.0, description="Refused: when asking again may succeed"
    )
    detail: str = Field(default="", description="Refused: the guard's words")


class SegmentClosed(BaseModel):
    """Payload of the `segment_closed` signal, sent as each segment file closes."""

    session_id: int
    index: int
    file_path: str
    size_bytes: int
    duration_secs: float
    session_segments: int | None = Field(
        default=None,
        description="Completed segments of the whole session in the DB, this one "
        "included: a lost or repeated signal does not skew the workflow's count",
    )
    valid: bool | None = Field(
        default=None,
        description="The file opens and holds its streams; None: not checked",
    )
    streams: list[MediaStream] = Field(
        default_factory=list, description="The file's audio and video streams"
    )
    host: str | None = Field(
        default=None,
        description="The host whose disk holds the file (per-host placement), "
        "whose queues its pipeline steps go to (`host_queue`); None: shared storage",
    )


class RecordingWait(BaseModel):
    """Payload of `recording_wait`: the record activity waits for (or got) a slot."""

    waiting_for: WaitReason | None = Field(
        default=None, description="None once the recording really starts"
    )
    detail: str = ""


class ProbeSegmentInput(OwnedInput):
    session_id: int
    index: int
    file_path: str


class ProbeSegmentResult(BaseModel):
    duration_secs: float | None
    streams: list[str] = Field(default_factory=list, description="codec names")
    valid: bool

"""The streamer workflow's models: its state, its configuration, the store
activities' inputs and results, signal payloads and the state query."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from activities.contracts.filters import FilterSpec
from activities.contracts.names import (
    ERROR_ENGINE_CIRCUIT_OPEN,
    ERROR_NO_RECORDING_SLOT,
    ERROR_OUTPUT_PATH_INACCESSIBLE,
)
from activities.contracts.policy import RecordingPolicy
from activities.contracts.streams import Priority


class StreamerState(StrEnum):
    """What a streamer is doing, as shown in the API and the Temporal UI.

    The workflow's state machine (`workflows.streamer`) moves between them; the
    states after DISABLED came with it (older histories hold only the first three).
    """

    NOT_LIVE = "NOT_LIVE"
    LIVE = "LIVE"
    DISABLED = "DISABLED"
    # live, but a filter fails (the reason says which); or the schedule is closed
    OUT_OF_SCHEDULE = "OUT_OF_SCHEDULE"
    # live, and the output root's write gate holds the recording back
    OUT_OF_SPACE = "OUT_OF_SPACE"
    # transient check errors in a row: no checks until the backoff passes
    TEMPORAL_DISABLED = "TEMPORAL_DISABLED"
    # the platform's answer will not change by asking again (banned, private…)
    FATAL_ERROR = "FATAL_ERROR"
    # the channel (or the URL) does not exist
    NOT_FOUND = "NOT_FOUND"
    # the workflow ended (stopped, or its streamer deleted)
    CANCELLED = "CANCELLED"


class WaitReason(StrEnum):
    """Why a live streamer is not recording yet: a guard holds it back."""

    RECORDING_SLOT = "recording_slot"
    OUTPUT_ROOT = "output_root"
    ENGINE_BREAKER = "engine_breaker"


GUARD_ERRORS: dict[str, WaitReason] = {
    ERROR_NO_RECORDING_SLOT: WaitReason.RECORDING_SLOT,
    ERROR_ENGINE_CIRCUIT_OPEN: WaitReason.ENGINE_BREAKER,
    ERROR_OUTPUT_PATH_INACCESSIBLE: WaitReason.OUTPUT_ROOT,
}


class StreamerConfig(BaseModel):
    """Everything the streamer workflow needs to know about its streamer.

    `policy` is the streamer's effective configuration (every level merged);
    `priority` repeats `policy.priority` for histories recorded before it was there.
    """

    streamer_id: int
    name: str
    url: str
    platform: str
    priority: Priority = Priority.NORMAL
    enabled: bool = True
    policy: RecordingPolicy = Field(default_factory=RecordingPolicy)
    filters: list[FilterSpec] = Field(
        default_factory=list,
        description="Recorded only while all pass (`activities.filters`); empty "
        "in histories from before filters",
    )


class OwnedInput(BaseModel):
    """Input of an activity that reads or writes the owning instance's app database.

    The streamer workflow fills `instance_id` in; a worker whose database has another
    id refuses the task (`ERROR_FOREIGN_INSTANCE`) instead of touching its own rows.
    """

    instance_id: str | None = Field(
        default=None,
        description="Instance id of the app database that owns the workflow; None "
        "only from a workflow that has not adopted one yet (started before ids)",
    )


class LoadStreamerInput(OwnedInput):
    streamer_id: int


class LoadStreamerResult(BaseModel):
    config: StreamerConfig | None = Field(
        default=None, description="None when the streamer was deleted"
    )
    instance_id: str | None = Field(
        default=None,
        description="Instance id of the database read (a workflow without one "
        "adopts it)",
    )
    config_version: str | None = Field(
        default=None,
        description="Names the effective configuration read; a live check that "
        "finds another one in the database says the config is stale",
    )
    pollers: bool = Field(
        default=False,
        description="This instance's workers run shard pollers: an offline "
        "streamer's workflow waits for their `detected` signal instead of checking "
        "itself on its interval",
    )


class ProjectStateInput(OwnedInput):
    """The workflow's state, written to the DB so the API can list streamers."""

    streamer_id: int
    state: StreamerState
    enabled: bool
    last_error: str | None = Field(
        default=None, description="Why the last live check failed; None = it did not"
    )
    reason: str | None = Field(
        default=None,
        description="Why the streamer is in its state (the failing filter, the "
        "platform's fatal answer, the backoff's end); None for plain states",
    )


class ProjectStateResult(BaseModel):
    pass


class OpenSessionInput(OwnedInput):
    streamer_id: int
    title: str
    start_time: datetime
    open_key: str | None = Field(
        default=None,
        description="Names the workflow step opening the session: a retry with the "
        "same key returns the same session",
    )


class OpenSessionResult(BaseModel):
    session_id: int


class CloseSessionInput(OwnedInput):
    session_id: int
    end_time: datetime


class CloseSessionResult(BaseModel):
    total_size_bytes: int
    segment_count: int
    removed: bool = Field(
        default=False,
        description="The session recorded nothing and was deleted (or was gone)",
    )


class SignalInput(BaseModel):
    """Optional payload of pause/resume/check_now/stop; unknown fields are ignored."""

    reason: str = ""


class StreamerWorkflowState(BaseModel):
    """The streamer workflow's durable state, carried across continue-as-new."""

    paused: bool | None = Field(
        default=None, description="None = take `enabled` from the DB"
    )
    state: StreamerState = StreamerState.NOT_LIVE
    sessions_recorded: int = 0
    last_error: str | None = None
    reason: str | None = Field(default=None, description="Why `state` (projected)")
    errors: int = Field(default=0, description="Transient check errors in a row")
    backoff_level: int = Field(
        default=0, description="Backoffs in a row: the next lasts base x 2^level"
    )
    backoff_until: datetime | None = Field(
        default=None, description="TEMPORAL_DISABLED until then"
    )
    check_now: bool = Field(
        default=False,
        description="A check was asked for (or news signalled) as "
        "the last run ended: the next checks at once",
    )


class StreamerWorkflowInput(BaseModel):
    streamer_id: int
    carried: StreamerWorkflowState | None = None
    instance_id: str | None = Field(
        default=None,
        description="Instance id of the app database that owns this workflow; None "
        "(a workflow started before ids) adopts the id of the first database it loads",
    )


class StreamerWorkflowResult(BaseModel):
    reason: str


class StateQueryResult(BaseModel):
    state: StreamerState
    paused: bool
    session_id: int | None = None
    segments_closed: int = 0
    sessions_recorded: int = 0
    waiting_for: WaitReason | None = Field(
        default=None, description="The guard a live streamer waits on, if any"
    )
    danmu_files: int = Field(default=0, description="The session's closed chat files")
    danmu_error: str | None = Field(
        default=None, description="Why the session's chat recording stopped, if it did"
    )
    last_error: str | None = Field(
        default=None,
        description="Why the last live check failed or could not reach the stream; "
        "None once a check succeeds",
    )
    reason: str | None = Field(
        default=None, description="Why the streamer is in its state, when it says"
    )
    errors: int = Field(default=0, description="Transient check errors in a row")
    backoff_until: datetime | None = Field(
        default=None, description="TEMPORAL_DISABLED until then"
    )

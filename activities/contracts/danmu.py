"""The danmu activity's input, progress and result, and what it tells the workflow.

One `danmu.record_session` activity runs for a whole session beside the recording.
It signals the streamer workflow `danmu_closed` (`DanmuClosed`) as each file closes,
paired with the video segment of the same index, and `danmu_stream_closed`
(`DanmuStreamClosed`) when the chat says the broadcast ended. Signals may be lost or
repeated: the `danmu_file` rows are the truth, and `DanmuClosed.session_files`
counts them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from activities.contracts.streamer import OwnedInput


class RecordDanmuInput(OwnedInput):
    """Input of `danmu.record_session`; the room's credentials are read from the DB."""

    streamer_id: int = Field(description="Whose platform options (cookies) to use")
    streamer_name: str = Field(description="Written into each file's header")
    url: str = Field(description="The channel URL: its platform resolves the chat")
    session_id: int
    session_start: datetime = Field(description="Time 0 of the rate statistics")
    title: str = ""
    workflow_id: str = Field(description="Workflow to signal the danmu events to")


class DanmuFileProgress(BaseModel):
    """The file being written, as far as it was flushed."""

    index: int
    path: str
    messages: int = Field(description="Message elements flushed to it")
    flushed_until: float | None = Field(
        default=None, description="Receipt time (epoch) of its last flushed message"
    )


class RecordDanmuProgress(BaseModel):
    """Heartbeat details; a retry reads `recent_ids` to drop repeated messages."""

    connected: bool = False
    messages: int = Field(default=0, description="Distinct messages received")
    duplicates: int = 0
    files_closed: int = 0
    current: DanmuFileProgress | None = None
    connects: int = 0
    last_error: str = ""
    recent_ids: list[str] = Field(
        default_factory=list,
        description="Ids of the last messages received (platforms that give ids)",
    )


class DanmuClosed(BaseModel):
    """Payload of `danmu_closed`: danmu file `index` of a session is complete."""

    session_id: int
    index: int = Field(description="Pairs with the video segment of this index")
    file_path: str
    message_count: int
    session_files: int | None = Field(
        default=None,
        description="Closed danmu files of the session in the DB, this one included",
    )


class DanmuStreamClosed(BaseModel):
    """Payload of `danmu_stream_closed`: the chat said the broadcast ended.

    The workflow ends the recording when its policy's
    `end_stream_on_danmu_stream_closed` is set, and ignores it otherwise.
    """

    session_id: int
    platform: str
    detail: str = Field(default="", description="The platform's words, if any")
    received_at: datetime


class RecordDanmuResult(BaseModel):
    """How a danmu activity ended (it ends by cancellation as a rule)."""

    reason: str = Field(
        description="`session_closed`, `session_gone`, or `unsupported` (the "
        "platform has no chat srec records)"
    )
    files: list[DanmuClosed] = Field(default_factory=list)
    messages: int = 0
    duplicates: int = 0

"""Response models of a session's chat: its danmu files and its statistics."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from activities.danmu import DanmuStatistics


class SegmentDanmu(BaseModel):
    """The danmu file paired with a segment (same index, beside it)."""

    file_path: str
    message_count: int = Field(
        description="Messages in the file (flushed so far while it is written)"
    )
    started_at: datetime = Field(description="Time 0 of the file: the first frame")
    closed_at: datetime | None = Field(description="Null while it is written")


class DanmuStatisticsPublic(DanmuStatistics):
    """A session's chat statistics (kept current while it records)."""

    session_id: int
    complete: bool = Field(description="The session ended: these are final")
    updated_at: datetime

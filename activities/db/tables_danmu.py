"""Tables of a session's chat: its danmu files and its statistics.

A danmu file pairs with the video segment of the same index (`segment.index`) and
lies beside it (same name, `.xml`). Its row is written before the file is created
and closed (`closed_at`, final `message_count`) when the danmu activity moves on to
the next segment or the session ends; a row left open was the file of an attempt
that died, which the next attempt repairs and continues.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from activities.db.tables import UTCDateTime, utcnow

DANMU_ERROR_MAX_LENGTH = 1000


class DanmuFileBase(SQLModel):
    session_id: int = Field(index=True)
    index: int = Field(description="The index of the video segment it pairs with")
    file_path: str = Field(max_length=4096)
    message_count: int = Field(
        default=0, description="Message elements in the file (flushed so far if open)"
    )
    started_at: datetime = Field(
        sa_column=sa.Column(UTCDateTime(), nullable=False),
        description="Time 0 of the file: its video segment's first frame",
    )


class DanmuFile(DanmuFileBase, table=True):
    """One danmu XML file of a session; `closed_at` is null while it is written."""

    __tablename__ = "danmu_file"
    __table_args__ = (sa.UniqueConstraint("session_id", "index"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    closed_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    error: str | None = Field(default=None, max_length=DANMU_ERROR_MAX_LENGTH)


class DanmuStatisticsRow(SQLModel, table=True):
    """A session's chat statistics (`activities.danmu.DanmuStatistics`).

    `state` is the accumulator's own state (`StatisticsAccumulator.state()`), from
    which a retried danmu activity continues counting; `complete` is set by the
    write at the session's end.
    """

    __tablename__ = "danmu_statistics"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(unique=True)
    statistics: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=sa.Column(sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
    state: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=sa.Column(sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
    complete: bool = Field(default=False)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )

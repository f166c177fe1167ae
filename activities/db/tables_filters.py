"""The table of streamer filters (`activities.contracts.filters` holds their specs).

A row is one filter: its `type` and the rest of its spec as JSON (`config`), as the
seed stores them. A streamer's filters apply in id order, all of them (AND).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from activities.db.tables import UTCDateTime, utcnow


class StreamerFilter(SQLModel, table=True):
    """One filter of a streamer; deleted with it."""

    __tablename__ = "streamer_filter"

    id: int | None = Field(default=None, primary_key=True)
    streamer_id: int = Field(index=True)
    type: str = Field(max_length=20)
    config: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=sa.Column(sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )

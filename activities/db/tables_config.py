"""The configuration levels above a streamer: global, platform, template.

Each level stores only the fields it sets (`settings`, validated by
`activities.config.OVERRIDES` on the way in and read back tolerantly) and, below
global, platform options (validated by the platform's options model; secrets among
them are never shown back). The streamer level is `streamer.settings` and
`streamer.platform_options`, with `streamer.template_id` naming its template.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from activities.db.tables import UTCDateTime, utcnow

GLOBAL_ROW_ID = 1


def _json_column() -> Any:
    return sa.Column(sa.JSON(), nullable=False, server_default=sa.text("'{}'"))


class GlobalConfig(SQLModel, table=True):
    """The global level: one row (id 1), written by migration 0011.

    `seeded_at` is null until the first process to start fills `settings` from its
    `SREC_*` environment; `generation` grows with every configuration write at any
    level, so a running recording notices a change by reading one number.
    """

    __tablename__ = "config_global"

    id: int = Field(default=GLOBAL_ROW_ID, primary_key=True)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
    generation: int = Field(default=0, sa_type=sa.BigInteger)
    seeded_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )


class PlatformConfig(SQLModel, table=True):
    """The level of one platform (by its registry name); a missing row sets nothing."""

    __tablename__ = "config_platform"

    name: str = Field(primary_key=True, max_length=40)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
    options: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )


class ConfigTemplateBase(SQLModel):
    name: str = Field(max_length=100, description="Unique name")
    description: str = Field(default="", max_length=1000)


class ConfigTemplate(ConfigTemplateBase, table=True):
    """A template: settings and per-platform options streamers share.

    `platform_options` maps a platform name to its options for the streamers of that
    platform that use the template.
    """

    __tablename__ = "config_template"
    __table_args__ = (sa.UniqueConstraint("name", name="uq_config_template_name"),)

    id: int | None = Field(default=None, primary_key=True)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
    platform_options: dict[str, Any] = Field(
        default_factory=dict, sa_column=_json_column()
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )

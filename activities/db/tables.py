"""SQLModel tables of the app database, each beside its `XBase`.

`XBase` holds the user-facing fields that `api/schemas.py` derives its
`XCreate`/`XUpdate`/`XPublic` from; table models do not validate on construction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

LAST_ERROR_MAX_LENGTH = 1000
TITLE_MAX_LENGTH = 500
CATEGORY_MAX_LENGTH = 255
AVATAR_URL_MAX_LENGTH = 2048


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A DateTime that is always timezone-aware, also on SQLite (which drops tzinfo)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored in the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class StreamerBase(SQLModel):
    name: str = Field(max_length=100, description="Display name, used in file names")
    url: str = Field(max_length=2048, description="Channel or stream URL")
    enabled: bool = Field(default=True)
    template_id: int | None = Field(
        default=None,
        foreign_key="config_template.id",
        index=True,
        description="The configuration template the streamer uses, if any",
    )
    # the streamer level: only the fields it sets. `activities.config.OVERRIDES`
    # validates them on the way in (API) and out (every reader)
    settings: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=sa.Column(sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        description="Configuration fields set for this streamer (the streamer level)",
    )
    # the platform's options model validates them on the way in (API) and out
    # (the activities); secrets among them are never shown back
    platform_options: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=sa.Column(sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        description="Platform options of this streamer: cookies, tokens, quality",
    )


class Streamer(StreamerBase, table=True):
    __tablename__ = "streamer"
    # one streamer per URL, also when two requests race past the API's check; the
    # name is the streamer's folder: two of a name would write into one
    __table_args__ = (
        sa.Index("ix_streamer_url", "url", unique=True),
        sa.UniqueConstraint("name", name="uq_streamer_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=40, index=True)
    channel: str | None = Field(
        default=None,
        max_length=255,
        description="The streamer's id on the platform (room id, login), from the URL",
    )
    state: str = Field(default="NOT_LIVE", max_length=20)
    # the workflow projects why its last live check failed; null after a good one
    last_error: str | None = Field(default=None, max_length=LAST_ERROR_MAX_LENGTH)
    last_error_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    # why the workflow is in `state` (a failing filter, a fatal answer, a backoff)
    state_reason: str | None = Field(default=None, max_length=LAST_ERROR_MAX_LENGTH)
    # the channel as its last clean live check described it (`crud_profile`): kept
    # apart from `updated_at`, which the pollers watch for the workflow's changes
    title: str | None = Field(default=None, max_length=TITLE_MAX_LENGTH)
    category: str | None = Field(default=None, max_length=CATEGORY_MAX_LENGTH)
    avatar_url: str | None = Field(default=None, max_length=AVATAR_URL_MAX_LENGTH)
    profile_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )


class StreamSessionBase(SQLModel):
    streamer_id: int = Field(index=True)
    title: str = Field(default="", max_length=TITLE_MAX_LENGTH)


class StreamSession(StreamSessionBase, table=True):
    """One live broadcast: from going live to really ending (grace window included).

    `total_size_bytes` and `duration_secs` sum the session's completed segments and
    are kept current as each one closes. `open_key` names the workflow step that
    opened the session, so a retried `open_session` finds it instead of opening a
    second one.
    """

    __tablename__ = "stream_session"
    __table_args__ = (sa.Index("ix_stream_session_open_key", "open_key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    start_time: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    end_time: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    total_size_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    duration_secs: float = Field(
        default=0.0, sa_column=sa.Column(sa.Float(), nullable=False, server_default="0")
    )
    open_key: str | None = Field(default=None, max_length=255)
    # the recording attempt allowed to write the session's files, and when it last
    # said it is alive (`activities.fence`): a stale attempt stops, never writes twice
    recorder: str | None = Field(default=None, max_length=64)
    recorder_seen_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )


class SegmentBase(SQLModel):
    session_id: int = Field(index=True)
    index: int
    file_path: str = Field(max_length=4096)
    size_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    duration_secs: float = Field(default=0.0)
    valid: bool | None = Field(
        default=None,
        description="The file opens and holds audio or video; null until it closes",
    )
    # `contracts.MediaStream` dicts, as the engine read them or the close check saw
    streams: list[dict[str, Any]] | None = Field(
        default=None,
        sa_column=sa.Column(sa.JSON(), nullable=True),
        description="Its audio and video streams: kind, codec, size, sample rate",
    )
    # --- segment start (issue 12): what the danmu file of the same index aligns to
    started_at: datetime | None = Field(
        default=None,
        sa_column=sa.Column(UTCDateTime(), nullable=True),
        description="Wall clock of the file's first frame",
    )
    media_start_secs: float | None = Field(
        default=None, description="The timestamp its first frame has in the file"
    )


class Segment(SegmentBase, table=True):
    """One output file of a session. `completed_at` is null while it is written.

    `resume_marker` is engine-specific (the last HLS media sequence in the file) and
    is written together with `size_bytes`, so a retry after a crash can cut the file
    back to the last consistent point and continue exactly after it;
    `resume_edge_ms` is the same point as a live-edge time, for the engines that
    cannot resume by sequence (`engines.remux.resume`).
    """

    __tablename__ = "segment"
    __table_args__ = (sa.UniqueConstraint("session_id", "index"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    completed_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    persisted_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    resume_marker: int | None = Field(default=None, sa_type=sa.BigInteger)
    resume_edge_ms: int | None = Field(default=None, sa_type=sa.BigInteger)
    # the host whose disk holds the file, with per-host placement (None: shared
    # storage): its pipeline steps go to that host's queues
    host: str | None = Field(default=None, max_length=200)


class UserBase(SQLModel):
    username: str = Field(max_length=64, unique=True, index=True)


class User(UserBase, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=512)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    password_changed_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )


class RefreshToken(SQLModel, table=True):
    """A refresh token, stored by the hash of its `jti`; rotated on every use."""

    __tablename__ = "refresh_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(index=True)
    jti_hash: str = Field(max_length=128, unique=True, index=True)
    expires_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )


# --- recording guards ---------------------------------------------------------------


class RecordingSlot(SQLModel, table=True):
    """A lease on one global recording slot, or a place in the queue for one.

    One row per holder (the streamer workflow id): `state` is `held` or `queued`.
    Holders renew `expires_at` while they record or wait; a row past it belongs to a
    crashed worker and is reclaimed by the next acquirer. `token` names the activity
    attempt that holds the row, so a stale attempt cannot release its successor's.
    """

    __tablename__ = "recording_slot"

    id: int | None = Field(default=None, primary_key=True)
    holder: str = Field(max_length=255, unique=True)
    token: str = Field(max_length=64)
    state: str = Field(max_length=10, description="held | queued")
    kind: str = Field(default="normal", max_length=10, description="normal | extra")
    priority: str = Field(max_length=10)
    queued_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    acquired_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    expires_at: datetime = Field(
        sa_column=sa.Column(UTCDateTime(), nullable=False, index=True)
    )


class OutputRoot(SQLModel, table=True):
    """The write gate's state of one output root (`healthy` or `degraded`).

    `probe_at` is when the last real probe (or the trip) happened: while degraded,
    the first caller at least one cooldown later claims the next probe.
    """

    __tablename__ = "output_root"

    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(max_length=4096, unique=True)
    state: str = Field(default="healthy", max_length=10)
    since: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    error: str | None = Field(default=None, max_length=1000)
    probe_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    rejected: int = Field(default=0, description="Attempts refused this incident")


class OutputRootBlock(SQLModel, table=True):
    """A workflow the write gate turned away; it is signalled when the root heals."""

    __tablename__ = "output_root_block"
    __table_args__ = (sa.UniqueConstraint("root_id", "workflow_id"),)

    id: int | None = Field(default=None, primary_key=True)
    root_id: int = Field(index=True)
    workflow_id: str = Field(max_length=255)
    blocked_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )


class AppInstance(SQLModel, table=True):
    """The identity of this app database: one row, written by migration 0004.

    Streamer workflows carry its `instance_id` (in their input and the `SrecInstance`
    search attribute), so two installs sharing a Temporal server act only on their own.
    """

    __tablename__ = "app_instance"

    id: int | None = Field(default=None, primary_key=True)
    instance_id: str = Field(max_length=36, unique=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )

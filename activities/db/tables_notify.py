"""Tables of notifications: the event log, channels, deliveries and dead letters.

    event ──< notify_delivery >── notify_channel ──< notify_subscription
                    │                   │
             notify_dead_letter    notify_breaker

An `event` row is recorded once per idempotency key. In the same transaction one
`notify_delivery` row is created per channel the event goes to (unique per event
and channel); each row is sent until it is `delivered`, and a delivered row is never
sent again. A delivery that exhausts its retries gets a `notify_dead_letter` row.
Channel ids are not foreign keys: deleting a channel deletes its rows in
`crud_notify.delete_channel`, whatever the dialect enforces.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from activities.db.tables import UTCDateTime, utcnow

PENDING = "pending"
DELIVERED = "delivered"
SKIPPED = "skipped"
DEAD = "dead"


class Event(SQLModel, table=True):
    """One event of the log (`activities.events.NotifyEvent`, as recorded).

    `kind` is the event type. `dispatched_at` is set once a delivery workflow was
    started for the event (or none was needed); the maintenance schedule starts the
    ones a crash left undispatched.
    """

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    kind: str = Field(max_length=64, index=True)
    priority: int = Field(default=5)
    streamer_id: int | None = Field(default=None, index=True)
    streamer_name: str = Field(default="", max_length=255)
    session_id: int | None = Field(default=None, index=True)
    title: str = Field(default="", max_length=1000)
    summary: str = Field(default="", max_length=1000)
    subject: str = Field(max_length=4096, description="What it is about (a path, …)")
    detail: str = Field(default="", max_length=4000)
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_column=sa.Column(UTCDateTime(), nullable=False, index=True),
    )
    dispatched_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True, index=True)
    )


class NotifyChannelBase(SQLModel):
    name: str = Field(max_length=100, description="Unique display name")
    kind: str = Field(
        max_length=20,
        description="discord | email | webhook | telegram | gotify | apprise",
    )
    enabled: bool = Field(default=True)
    min_priority: int = Field(
        default=0, description="Only events of at least this priority (0-10)"
    )
    streamer_ids: list[int] = Field(
        default_factory=list,
        sa_column=sa.Column(sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        description="Only these streamers' events; empty = every event (global)",
    )
    title_template: str = Field(default="srec: {label}", max_length=256)
    body_template: str = Field(default="{summary}", max_length=2000)


class NotifyChannel(NotifyChannelBase, table=True):
    """A configured channel. `config` holds its settings, secrets included: they
    never leave the DB except to the channel they belong to."""

    __tablename__ = "notify_channel"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
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


class NotifySubscription(SQLModel, table=True):
    """A channel receives events of this type."""

    __tablename__ = "notify_subscription"
    __table_args__ = (sa.UniqueConstraint("channel_id", "event_type"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(index=True)
    event_type: str = Field(max_length=64)


class NotifyDelivery(SQLModel, table=True):
    """One event to one channel: pending → delivered | skipped | dead.

    `claim_token` and `claimed_until` name the activity attempt sending it, so two
    attempts never send the same row at once.
    """

    __tablename__ = "notify_delivery"
    __table_args__ = (sa.UniqueConstraint("event_id", "channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(index=True)
    channel_id: int = Field(index=True)
    status: str = Field(default=PENDING, max_length=10)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=1000)
    claim_token: str | None = Field(default=None, max_length=255)
    claimed_until: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False)
    )
    delivered_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )


class NotifyDeadLetter(SQLModel, table=True):
    """A delivery that failed its last attempt: what it would have sent, and why."""

    __tablename__ = "notify_dead_letter"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(unique=True)
    event_id: int = Field(index=True)
    channel_id: int = Field(index=True)
    event_type: str = Field(max_length=64)
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON(), nullable=False)
    )
    error: str = Field(default="", max_length=4000)
    attempts: int = Field(default=0)
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_column=sa.Column(UTCDateTime(), nullable=False, index=True),
    )


class NotifyBreaker(SQLModel, table=True):
    """The circuit breaker of one channel, shared by every worker.

    `failures` counts consecutive failures; at the threshold the breaker opens until
    `open_until`. After that one attempt (`trial_until` claims it) may try: success
    closes the breaker, failure opens it again.
    """

    __tablename__ = "notify_breaker"

    channel_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    failures: int = Field(default=0)
    open_until: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    trial_until: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    last_error: str | None = Field(default=None, max_length=1000)

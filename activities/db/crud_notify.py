"""Notifications' SQL: recording events, claiming and finishing deliveries, breakers.

Same rules as `crud.py`: functions take a `sqlmodel.Session`, each call is one
transaction and commits it (`record_event(commit=False)` joins the caller's, so an
event is stored in the same transaction as the decision it reports). Channel CRUD,
listings and pruning are in `crud_notify_admin.py`, the channels' circuit breakers
in `crud_notify_breaker.py`.

Exactly once: `event.key` is unique and recording is an insert that ignores a
conflict, so recording the same key twice stores one event; its deliveries are
created in the same transaction, one per channel (unique per event and channel).
A delivery is sent by the attempt that claims it (`claim_token`, until
`claimed_until`) and never again once `delivered`.

Read-modify-write transactions take the writer lock first on SQLite (`BEGIN
IMMEDIATE`, as `crud_guards` does) and lock their rows on Postgres (`FOR UPDATE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from activities.db.tables_notify import (
    DEAD,
    DELIVERED,
    PENDING,
    SKIPPED,
    Event,
    NotifyChannel,
    NotifyDeadLetter,
    NotifyDelivery,
    NotifySubscription,
)

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from sqlmodel import Session

    from activities.events import NotifyEvent

ERROR_MAX = 1000


def begin_write(db: Session) -> None:
    """Start the transaction holding SQLite's writer lock (a no-op elsewhere)."""
    conn = db.connection()
    if conn.dialect.name == "sqlite":
        # pysqlite begins lazily, before the first write: a read-then-write
        # transaction must hold the lock from its first read
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def insert_ignore(db: Session, table: Any, values: dict[str, Any], key: str) -> bool:
    """INSERT … ON CONFLICT (key) DO NOTHING; True when a row was inserted."""
    dialect = db.connection().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = make(table).values(**values).on_conflict_do_nothing(index_elements=[key])
    # a row comes back only if one was inserted. Not `rowcount`: on Postgres
    # SQLAlchemy adds RETURNING for the primary key, and rowcount is then -1
    # whether or not the conflict skipped the insert
    inserted: sa.Insert = stmt.returning(sa.literal_column("1"))
    return db.connection().execute(inserted).first() is not None


# --- recording --------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """What `record_event` stored (or found stored under the same key)."""

    event_id: int
    created: bool
    delivery_ids: list[int]
    dispatched: bool


def _in_scope(channel: NotifyChannel, streamer_id: int | None) -> bool:
    scope = channel.streamer_ids if isinstance(channel.streamer_ids, list) else []
    return not scope or streamer_id in scope


def matching_channels(db: Session, event: NotifyEvent) -> list[NotifyChannel]:
    """Enabled channels subscribed to the event's type, priority and streamer."""
    rows = db.exec(
        select(NotifyChannel)
        .join(
            NotifySubscription,
            col(NotifySubscription.channel_id) == col(NotifyChannel.id),
        )
        .where(
            col(NotifyChannel.enabled).is_(True),
            col(NotifyChannel.min_priority) <= event.effective_priority(),
            NotifySubscription.event_type == event.type.value,
        )
        .order_by(col(NotifyChannel.id))
    ).all()
    return [c for c in rows if _in_scope(c, event.streamer_id)]


def record_event(
    db: Session, event: NotifyEvent, *, now: datetime, commit: bool = True
) -> Recorded:
    """Store an event and its deliveries, once per key.

    Args:
        db: the session (with `commit=False`, inside the caller's transaction).
        event: the event; `occurred_at` defaults to `now`.
        now: the current time.
        commit: commit here (False: the caller commits).

    Returns:
        The event's id, whether this call created it, and its pending deliveries.
    """
    created = insert_ignore(
        db,
        Event,
        {
            "key": event.key,
            "kind": event.type.value,
            "priority": event.effective_priority(),
            "streamer_id": event.streamer_id,
            "streamer_name": event.streamer_name,
            "session_id": event.session_id,
            "title": event.title,
            "summary": event.summary,
            "subject": event.subject,
            "detail": event.detail,
            "created_at": event.occurred_at or now,
        },
        "key",
    )
    row = db.exec(select(Event).where(Event.key == event.key)).one()
    assert row.id is not None
    event_id, dispatched = row.id, row.dispatched_at is not None
    if created:
        channels = matching_channels(db, event)
        for channel in channels:
            assert channel.id is not None
            db.add(NotifyDelivery(event_id=event_id, channel_id=channel.id))
        if not channels:
            # nothing to deliver: nothing for the redrive to pick up either
            row.dispatched_at, dispatched = now, True
            db.add(row)
        db.flush()
    ids = pending_deliveries(db, event_id)
    if commit:
        db.commit()
    return Recorded(event_id, created, ids, dispatched)


def pending_deliveries(db: Session, event_id: int) -> list[int]:
    ids = db.exec(
        select(NotifyDelivery.id)
        .where(NotifyDelivery.event_id == event_id, NotifyDelivery.status == PENDING)
        .order_by(col(NotifyDelivery.id))
    ).all()
    return [i for i in ids if i is not None]


def mark_dispatched(db: Session, event_id: int, now: datetime) -> None:
    db.exec(
        sa.update(Event)
        .where(col(Event.id) == event_id, col(Event.dispatched_at).is_(None))
        .values(dispatched_at=now)
    )
    db.commit()


def undispatched_events(
    db: Session, *, before: datetime, limit: int
) -> list[tuple[int, list[int]]]:
    """Events recorded before `before` whose delivery was never started.

    Returns:
        (event id, pending delivery ids) pairs, oldest first.
    """
    ids = db.exec(
        select(Event.id)
        .where(col(Event.dispatched_at).is_(None), col(Event.created_at) < before)
        .order_by(col(Event.id))
        .limit(limit)
    ).all()
    return [(i, pending_deliveries(db, i)) for i in ids if i is not None]


def get_event_by_key(db: Session, key: str) -> Event | None:
    return db.exec(select(Event).where(Event.key == key)).first()


# --- delivering -------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryJob:
    """A claimed delivery with copies of its event and channel (rows expire)."""

    delivery_id: int
    attempts: int
    event: dict[str, Any]
    channel: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """`claimed` (send `job`), `done` (nothing to send: `status`), or `busy`."""

    outcome: str
    status: str = ""
    detail: str = ""
    wait_secs: float = 0.0
    job: DeliveryJob | None = None


def _locked_delivery(db: Session, delivery_id: int) -> NotifyDelivery | None:
    begin_write(db)
    return db.exec(
        select(NotifyDelivery).where(NotifyDelivery.id == delivery_id).with_for_update()
    ).first()


def snapshot(db: Session, delivery: NotifyDelivery) -> DeliveryJob | None:
    """Copies of a delivery's event and channel; None when either is gone."""
    event = db.get(Event, delivery.event_id)
    channel = db.get(NotifyChannel, delivery.channel_id)
    if event is None or channel is None or delivery.id is None:
        return None
    return DeliveryJob(
        delivery_id=delivery.id,
        attempts=delivery.attempts,
        event=event.model_dump(),
        channel=channel.model_dump(),
    )


def claim_delivery(
    db: Session,
    delivery_id: int,
    *,
    token: str,
    now: datetime,
    ttl: timedelta,
    redeliver: bool = False,
) -> Claim:
    """Take a delivery for one send attempt, unless it is done or taken.

    Args:
        db: the session.
        delivery_id: the delivery.
        token: names the attempt (a retry of the same attempt may take it again).
        now: the current time.
        ttl: how long the claim holds; past it another attempt may take over.
        redeliver: a dead delivery may be sent again (a dead letter's retry).
    """
    row = _locked_delivery(db, delivery_id)
    if row is None:
        db.rollback()
        return Claim("done", status=SKIPPED, detail="delivery deleted")
    if row.status in (DELIVERED, SKIPPED) or (row.status == DEAD and not redeliver):
        db.rollback()
        return Claim("done", status=row.status)
    if row.claim_token not in (None, token) and row.claimed_until is not None:
        if row.claimed_until > now:
            db.rollback()
            wait = (row.claimed_until - now).total_seconds()
            return Claim("busy", wait_secs=wait)
    job = snapshot(db, row)
    if job is None or not job.channel["enabled"]:
        row.status = SKIPPED
        row.last_error = "channel deleted" if job is None else "channel disabled"
        db.add(row)
        db.commit()
        return Claim("done", status=SKIPPED, detail=row.last_error)
    row.claim_token, row.claimed_until = token, now + ttl
    db.add(row)
    db.commit()
    return Claim("claimed", job=job)


def release_delivery(db: Session, delivery_id: int, *, token: str) -> None:
    """Give a claim back without a send (the breaker refused it)."""
    row = _locked_delivery(db, delivery_id)
    if row is not None and row.claim_token == token:
        row.claim_token, row.claimed_until = None, None
        db.add(row)
    db.commit()


def finish_delivery(
    db: Session,
    delivery_id: int,
    *,
    token: str,
    now: datetime,
    error: str | None,
) -> None:
    """Record a send attempt: delivered (`error` None) or failed.

    A success is recorded whoever holds the claim now: the message went out, so no
    one may send it again. A failure is recorded only by the claim's holder.
    """
    row = _locked_delivery(db, delivery_id)
    if row is None:
        db.rollback()
        return
    mine = row.claim_token == token
    if error is None:
        row.status, row.delivered_at, row.last_error = DELIVERED, now, None
        db.exec(
            sa.delete(NotifyDeadLetter).where(
                col(NotifyDeadLetter.delivery_id) == delivery_id
            )
        )
    elif not mine:
        # a late attempt whose claim expired: its successor owns the row now
        db.rollback()
        return
    else:
        row.last_error = error[:ERROR_MAX]
    row.attempts += 1
    row.claim_token, row.claimed_until = None, None
    db.add(row)
    db.commit()


def add_dead_letter(
    db: Session,
    delivery_id: int,
    *,
    error: str,
    payload: dict[str, Any],
    now: datetime,
) -> int | None:
    """Mark a delivery dead and keep (or refresh) its dead letter.

    Returns:
        The dead letter's id; None when the delivery is gone or was delivered
        after all (an attempt that timed out after sending).
    """
    row = _locked_delivery(db, delivery_id)
    if row is None or row.status in (DELIVERED, SKIPPED):
        db.rollback()
        return None
    row.status, row.claim_token, row.claimed_until = DEAD, None, None
    row.last_error = error[:ERROR_MAX]
    db.add(row)
    letter = db.exec(
        select(NotifyDeadLetter).where(NotifyDeadLetter.delivery_id == delivery_id)
    ).first()
    if letter is None:
        letter = NotifyDeadLetter(
            delivery_id=delivery_id,
            event_id=row.event_id,
            channel_id=row.channel_id,
            event_type=str(payload.get("event", {}).get("type", "")),
        )
    letter.payload, letter.error = payload, error[:4000]
    letter.attempts, letter.created_at = row.attempts, now
    db.add(letter)
    db.commit()
    db.refresh(letter)
    return letter.id


def delivery_job(db: Session, delivery_id: int) -> DeliveryJob | None:
    """A delivery's event and channel, for a dead letter's payload."""
    row = db.get(NotifyDelivery, delivery_id)
    return None if row is None else snapshot(db, row)

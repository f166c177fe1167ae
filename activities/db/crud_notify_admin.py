"""Notifications' SQL for the API and the maintenance schedule.

Channels and their subscriptions, the event log and dead letters as pages, and
pruning. Same rules as `crud.py`: each call is one transaction and commits it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import col, select

from activities.db.tables import utcnow
from activities.db.tables_notify import (
    Event,
    NotifyBreaker,
    NotifyChannel,
    NotifyDeadLetter,
    NotifyDelivery,
    NotifySubscription,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from sqlmodel import Session

PRUNE_BATCH = 500


# --- channels ---------------------------------------------------------------------


def create_channel(
    db: Session, channel: NotifyChannel, event_types: Iterable[str]
) -> NotifyChannel:
    db.add(channel)
    db.flush()
    assert channel.id is not None
    for kind in sorted(set(event_types)):
        db.add(NotifySubscription(channel_id=channel.id, event_type=kind))
    db.commit()
    db.refresh(channel)
    return channel


def get_channel(db: Session, channel_id: int) -> NotifyChannel | None:
    return db.get(NotifyChannel, channel_id)


def get_channel_by_name(db: Session, name: str) -> NotifyChannel | None:
    return db.exec(select(NotifyChannel).where(NotifyChannel.name == name)).first()


def list_channels(
    db: Session, *, limit: int, offset: int
) -> tuple[Sequence[NotifyChannel], int]:
    total = db.exec(select(func.count()).select_from(NotifyChannel)).one()
    rows = db.exec(
        select(NotifyChannel)
        .order_by(col(NotifyChannel.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return rows, total


def update_channel(
    db: Session, channel: NotifyChannel, changes: dict[str, Any]
) -> NotifyChannel:
    for key, value in changes.items():
        setattr(channel, key, value)
    channel.updated_at = utcnow()
    db.add(channel)
    db.commit()
    db.refresh(channel)
    return channel


def delete_channel(db: Session, channel: NotifyChannel) -> None:
    """Delete a channel with its subscriptions, deliveries, dead letters, breaker.

    A delivery workflow still running finds its rows gone and skips them.
    """
    cid = channel.id
    db.exec(
        sa.delete(NotifySubscription).where(col(NotifySubscription.channel_id) == cid)
    )
    db.exec(sa.delete(NotifyDelivery).where(col(NotifyDelivery.channel_id) == cid))
    db.exec(sa.delete(NotifyDeadLetter).where(col(NotifyDeadLetter.channel_id) == cid))
    db.exec(sa.delete(NotifyBreaker).where(col(NotifyBreaker.channel_id) == cid))
    db.delete(channel)
    db.commit()


def get_subscriptions(db: Session, channel_id: int) -> list[str]:
    return list(
        db.exec(
            select(NotifySubscription.event_type)
            .where(NotifySubscription.channel_id == channel_id)
            .order_by(col(NotifySubscription.event_type))
        ).all()
    )


def set_subscriptions(
    db: Session, channel_id: int, event_types: Iterable[str]
) -> list[str]:
    """Replace a channel's subscriptions; returns them sorted."""
    wanted = sorted(set(event_types))
    db.exec(
        sa.delete(NotifySubscription).where(
            col(NotifySubscription.channel_id) == channel_id
        )
    )
    for kind in wanted:
        db.add(NotifySubscription(channel_id=channel_id, event_type=kind))
    db.commit()
    return wanted


# --- the event log ----------------------------------------------------------------


def page_events(
    db: Session,
    *,
    kinds: Sequence[str] = (),
    streamer_id: int | None = None,
    session_id: int | None = None,
    min_priority: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Event], int]:
    """Events matching every filter given, newest first, and how many match."""
    where: list[Any] = []
    if kinds:
        where.append(col(Event.kind).in_(kinds))
    if streamer_id is not None:
        where.append(col(Event.streamer_id) == streamer_id)
    if session_id is not None:
        where.append(col(Event.session_id) == session_id)
    if min_priority is not None:
        where.append(col(Event.priority) >= min_priority)
    if since is not None:
        where.append(col(Event.created_at) >= since)
    if until is not None:
        where.append(col(Event.created_at) < until)
    total = db.exec(select(func.count()).select_from(Event).where(*where)).one()
    rows = db.exec(
        select(Event)
        .where(*where)
        .order_by(col(Event.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return rows, total


def get_event(db: Session, event_id: int) -> Event | None:
    return db.get(Event, event_id)


def list_deliveries(db: Session, event_id: int) -> Sequence[NotifyDelivery]:
    return db.exec(
        select(NotifyDelivery)
        .where(NotifyDelivery.event_id == event_id)
        .order_by(col(NotifyDelivery.channel_id))
    ).all()


def get_delivery(db: Session, delivery_id: int) -> NotifyDelivery | None:
    return db.get(NotifyDelivery, delivery_id)


# --- dead letters -----------------------------------------------------------------


def list_dead_letters(
    db: Session, *, channel_id: int | None, limit: int, offset: int
) -> tuple[Sequence[NotifyDeadLetter], int]:
    where: list[Any] = []
    if channel_id is not None:
        where.append(col(NotifyDeadLetter.channel_id) == channel_id)
    total = db.exec(
        select(func.count()).select_from(NotifyDeadLetter).where(*where)
    ).one()
    rows = db.exec(
        select(NotifyDeadLetter)
        .where(*where)
        .order_by(col(NotifyDeadLetter.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return rows, total


def get_dead_letter(db: Session, letter_id: int) -> NotifyDeadLetter | None:
    return db.get(NotifyDeadLetter, letter_id)


def delete_dead_letter(db: Session, letter: NotifyDeadLetter) -> None:
    db.delete(letter)
    db.commit()


# --- pruning ----------------------------------------------------------------------


def prune(
    db: Session,
    *,
    events_before: datetime,
    dead_letters_before: datetime,
    batch: int = PRUNE_BATCH,
) -> tuple[int, int]:
    """Delete old dead letters, then old events with their deliveries.

    An event that still has a dead letter stays until the dead letter goes, so a
    kept dead letter can always be retried. Deletes run in batches, each its own
    transaction, so writers are never held for long.

    Returns:
        How many events and dead letters were deleted.
    """
    letters = 0
    while True:
        ids = db.exec(
            select(NotifyDeadLetter.id)
            .where(col(NotifyDeadLetter.created_at) < dead_letters_before)
            .limit(batch)
        ).all()
        if not ids:
            break
        db.exec(sa.delete(NotifyDeadLetter).where(col(NotifyDeadLetter.id).in_(ids)))
        db.commit()
        letters += len(ids)
    events = 0
    kept = select(NotifyDeadLetter.event_id)
    while True:
        ids = db.exec(
            select(Event.id)
            .where(
                col(Event.created_at) < events_before,
                col(Event.id).not_in(kept),
            )
            .limit(batch)
        ).all()
        if not ids:
            break
        db.exec(sa.delete(NotifyDelivery).where(col(NotifyDelivery.event_id).in_(ids)))
        db.exec(sa.delete(Event).where(col(Event.id).in_(ids)))
        db.commit()
        events += len(ids)
    return events, letters

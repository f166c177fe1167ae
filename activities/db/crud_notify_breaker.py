"""The notification channels' circuit breakers, shared by every worker via the DB.

One row per channel that has failed (`NotifyBreaker`): `failures` counts
consecutive failures; at the threshold the breaker opens for the cooldown; then
the first caller claims the one trial attempt (`trial_until`), whose success
closes the breaker and whose failure opens it again. Same transaction rules as
`crud_notify.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import select

from activities.db.crud_notify import begin_write
from activities.db.tables_notify import NotifyBreaker

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from sqlmodel import Session

ERROR_MAX = 1000


def breaker_allow(
    db: Session, channel_id: int, *, now: datetime, trial_ttl: timedelta
) -> float | None:
    """May the channel be tried now?

    Returns:
        None to go ahead; else the seconds until it may be tried again. Once the
        cooldown is over, the first caller claims the one trial attempt.
    """
    begin_write(db)
    row = db.exec(
        select(NotifyBreaker)
        .where(NotifyBreaker.channel_id == channel_id)
        .with_for_update()
    ).first()
    if row is None or row.open_until is None:
        db.rollback()
        return None
    if now < row.open_until:
        db.rollback()
        return (row.open_until - now).total_seconds()
    if row.trial_until is not None and now < row.trial_until:
        db.rollback()
        return (row.trial_until - now).total_seconds()
    row.trial_until = now + trial_ttl
    db.add(row)
    db.commit()
    return None


def breaker_record(
    db: Session,
    channel_id: int,
    *,
    error: str | None,
    now: datetime,
    threshold: int,
    cooldown: timedelta,
) -> bool:
    """Count a success (closes the breaker) or a failure.

    Returns:
        True when this failure opened (or re-opened) the breaker.
    """
    begin_write(db)
    row = db.exec(
        select(NotifyBreaker)
        .where(NotifyBreaker.channel_id == channel_id)
        .with_for_update()
    ).first()
    if row is None:
        if error is None:
            db.rollback()
            return False
        row = NotifyBreaker(channel_id=channel_id)
    opened = False
    if error is None:
        row.failures, row.last_error = 0, None
        row.open_until, row.trial_until = None, None
    else:
        row.failures += 1
        row.last_error = error[:ERROR_MAX]
        if row.failures >= threshold:
            row.open_until, row.trial_until, opened = now + cooldown, None, True
    db.add(row)
    db.commit()
    return opened


def get_breaker(db: Session, channel_id: int) -> NotifyBreaker | None:
    return db.get(NotifyBreaker, channel_id)

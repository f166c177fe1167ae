"""The recording guards' SQL: slot leases and the output-root write gate.

Split from `crud.py` (which it extends, with the same rules: functions take a
`sqlmodel.Session`, each call is one transaction and commits it) to keep both
modules a readable size.

Read-modify-write transactions take a writer lock first, because their decision
depends on rows other processes change: `BEGIN IMMEDIATE` on SQLite (a deferred
transaction that reads and then writes can fail with SQLITE_BUSY instead of
waiting, in WAL mode), a transaction-scoped advisory lock on Postgres (one per
guard). Any number of worker processes on one host (SQLite WAL) or many hosts
(Postgres) then see one consistent count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import col, delete, select

from activities.contracts import Priority
from activities.db.crud_notify import record_event
from activities.db.tables import OutputRoot, OutputRootBlock, RecordingSlot
from activities.events import EventType, NotifyEvent, output_root_event_key

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

    from sqlmodel import Session

# Any constants work: they name the advisory locks of the two guards on Postgres.
_PG_SLOTS_LOCK = 0x5245_4301
_PG_GATE_LOCK = 0x5245_4302

HELD = "held"
QUEUED = "queued"
DEGRADED = "degraded"
HEALTHY = "healthy"
_RANK = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}
_LAST = 2**63


def _lock(db: Session, pg_key: int) -> None:
    """Start the session's transaction holding the writer lock of one guard."""
    conn = db.connection()
    if conn.dialect.name == "sqlite":
        # pysqlite has not begun a transaction yet (it does so lazily, before the
        # first write): begin one that holds the write lock from the start
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": pg_key})


# --- recording slots ----------------------------------------------------------------


@dataclass(frozen=True)
class SlotAnswer:
    """What `acquire_recording_slot` decided.

    Attributes:
        granted: the holder now has a slot.
        kind: `normal` or `extra` (a high-priority slot), when granted.
        held: leases live at the time of the decision (the holder's included).
        position: 1-based place in the queue when not granted (0 when granted).
    """

    granted: bool
    kind: str | None
    held: int
    position: int


def _rank(priority: str) -> int:
    try:
        return _RANK[Priority(priority)]
    except ValueError:
        return _RANK[Priority.NORMAL]


def acquire_recording_slot(
    db: Session,
    *,
    holder: str,
    token: str,
    priority: str,
    capacity: int,
    extra: int,
    now: datetime,
    ttl: timedelta,
    queue_ttl: timedelta | None = None,
) -> SlotAnswer:
    """Take a slot for `holder`, or keep its place in the queue.

    Expired rows (their worker died) are deleted first. A holder that already has a
    live lease gets it back (a retry after a crash adopts its own lease). Otherwise
    the holder is granted a slot when the leases held plus the waiters ahead of it
    (higher priority, then earlier) leave room under its limit: `capacity` for
    normal and low priority, `capacity + extra` for high priority.

    Args:
        db: the session.
        holder: who holds the slot (the streamer workflow id).
        token: the activity attempt taking it.
        priority: `high`, `normal` or `low`.
        capacity: slots every priority may use (the global limit).
        extra: further slots only high priority may use.
        now: the current time.
        ttl: how long the lease lives without renewal.
        queue_ttl: how long a queue place lives without renewal (default `ttl`):
            short, so a waiter that went away soon stops holding others back.

    Returns:
        The decision.
    """
    _lock(db, _PG_SLOTS_LOCK)
    db.exec(delete(RecordingSlot).where(col(RecordingSlot.expires_at) <= now))
    rows = db.exec(select(RecordingSlot)).all()
    mine = next((r for r in rows if r.holder == holder), None)
    held = sum(1 for r in rows if r.state == HELD)
    if mine is not None and mine.state == HELD:
        mine.token, mine.expires_at = token, now + ttl
        db.add(mine)
        db.commit()
        return SlotAnswer(granted=True, kind=mine.kind, held=held, position=0)
    # a newcomer queues behind everyone who arrived at the same instant
    key = (_rank(priority), mine.queued_at if mine else now, mine.id if mine else _LAST)
    ahead = sum(
        1
        for r in rows
        if r.state == QUEUED
        and r.holder != holder
        and (_rank(r.priority), r.queued_at, r.id or 0) < key
    )
    limit = capacity + (extra if priority == Priority.HIGH else 0)
    granted = held + ahead < limit
    if mine is None:
        mine = RecordingSlot(
            holder=holder,
            token=token,
            priority=priority,
            state=QUEUED,
            queued_at=now,
            expires_at=now,
        )
    mine.token, mine.priority = token, priority
    mine.expires_at = now + (queue_ttl or ttl)
    if granted:
        mine.state, mine.acquired_at, mine.expires_at = HELD, now, now + ttl
        mine.kind = "normal" if held < capacity else "extra"
    db.add(mine)
    db.commit()
    if granted:
        return SlotAnswer(granted=True, kind=mine.kind, held=held + 1, position=0)
    return SlotAnswer(granted=False, kind=None, held=held, position=ahead + 1)


def renew_recording_slot(
    db: Session,
    *,
    holder: str,
    token: str,
    priority: str,
    now: datetime,
    ttl: timedelta,
) -> str:
    """Extend a held lease.

    Returns:
        `renewed`; `reinstated` when the lease had expired and was reclaimed (the
        recording goes on, over the limit for a while, rather than lose the
        stream); `superseded` when a newer attempt of the holder took it over.
    """
    _lock(db, _PG_SLOTS_LOCK)
    row = db.exec(select(RecordingSlot).where(RecordingSlot.holder == holder)).first()
    if row is not None and row.token != token:
        db.rollback()
        return "superseded"
    outcome = "renewed" if row is not None and row.state == HELD else "reinstated"
    if row is None:
        row = RecordingSlot(
            holder=holder,
            token=token,
            priority=priority,
            state=HELD,
            queued_at=now,
            expires_at=now,
        )
    row.state, row.expires_at = HELD, now + ttl
    row.acquired_at = row.acquired_at or now
    db.add(row)
    db.commit()
    return outcome


def release_recording_slot(db: Session, *, holder: str, token: str) -> None:
    """Give up the attempt's lease or queue place (a successor's is left alone)."""
    db.exec(
        delete(RecordingSlot).where(
            col(RecordingSlot.holder) == holder, col(RecordingSlot.token) == token
        )
    )
    db.commit()


def list_recording_slots(db: Session) -> Sequence[RecordingSlot]:
    """Every lease and queue place, expired ones included, oldest first."""
    return db.exec(select(RecordingSlot).order_by(col(RecordingSlot.id))).all()


def live_recording_slots(db: Session, now: datetime) -> tuple[int, int]:
    """How many leases are held and how many holders queue, ignoring expired rows."""
    rows = db.exec(
        select(RecordingSlot.state, sa.func.count())
        .where(col(RecordingSlot.expires_at) > now)
        .group_by(col(RecordingSlot.state))
    ).all()
    counts = dict(rows)
    return counts.get(HELD, 0), counts.get(QUEUED, 0)


# --- output-root write gate ---------------------------------------------------------


def get_output_root(db: Session, path: str) -> OutputRoot | None:
    return db.exec(select(OutputRoot).where(OutputRoot.path == path)).first()


def list_degraded_roots(db: Session) -> Sequence[OutputRoot]:
    return db.exec(
        select(OutputRoot)
        .where(OutputRoot.state == DEGRADED)
        .order_by(col(OutputRoot.path))
    ).all()


def _root_for_update(db: Session, path: str, now: datetime) -> OutputRoot:
    _lock(db, _PG_GATE_LOCK)
    root = get_output_root(db, path)
    if root is None:
        root = OutputRoot(path=path, state=HEALTHY, since=now)
        db.add(root)
        db.flush()
    return root


def _block(db: Session, root: OutputRoot, workflow_id: str | None) -> None:
    root.rejected += 1
    db.add(root)
    if workflow_id is None:
        return
    assert root.id is not None
    known = db.exec(
        select(OutputRootBlock).where(
            OutputRootBlock.root_id == root.id,
            OutputRootBlock.workflow_id == workflow_id,
        )
    ).first()
    if known is None:
        db.add(OutputRootBlock(root_id=root.id, workflow_id=workflow_id))


def _record(
    db: Session,
    kind: EventType,
    path: str,
    summary: str,
    detail: str,
    now: datetime,
) -> None:
    # in the gate's transaction: the event exists exactly when the decision does
    record_event(
        db,
        NotifyEvent(
            type=kind,
            key=output_root_event_key(kind, path, now),
            summary=summary[:1000],
            subject=path[:4096],
            detail=detail[:4000],
            occurred_at=now,
        ),
        now=now,
        commit=False,
    )


def trip_output_root(
    db: Session, *, path: str, error: str, workflow_id: str | None, now: datetime
) -> bool:
    """Mark a root degraded after a write failed; block the workflow that hit it.

    Returns:
        True for the one call that moved the root from healthy to degraded: it
        also stored the incident's `output_path_inaccessible` event, under
        `output_root_event_key(…, path, now)`.
    """
    root = _root_for_update(db, path, now)
    opened = root.state != DEGRADED
    if opened:
        root.state, root.since, root.error = DEGRADED, now, error[:1000]
        root.probe_at, root.rejected = now, 0
        summary = f"Output root {path} is inaccessible; recordings there wait"
        _record(db, EventType.OUTPUT_PATH_INACCESSIBLE, path, summary, error, now)
    _block(db, root, workflow_id)
    db.commit()
    return opened


def claim_output_root_probe(
    db: Session,
    *,
    path: str,
    workflow_id: str | None,
    now: datetime,
    cooldown: timedelta,
) -> tuple[float | None, str]:
    """Decide who probes a degraded root: one caller per cooldown.

    Returns:
        The seconds until the next probe may run, and the incident's error. The
        seconds are None when the caller may go ahead: it claimed the probe, or
        the root is healthy. Otherwise the caller is blocked (signalled on
        recovery) and counted as rejected.
    """
    root = _root_for_update(db, path, now)
    error = root.error or ""
    if root.state != DEGRADED:
        db.commit()
        return None, error
    due = (root.probe_at or root.since) + cooldown
    if now >= due:
        root.probe_at = now
        db.add(root)
        db.commit()
        return None, error
    _block(db, root, workflow_id)
    db.commit()
    return (due - now).total_seconds(), error


def fail_output_root_probe(
    db: Session, *, path: str, error: str, workflow_id: str | None, now: datetime
) -> None:
    """A probe of a degraded root failed: keep it degraded, block the prober."""
    root = _root_for_update(db, path, now)
    root.error = error[:1000]
    _block(db, root, workflow_id)
    db.commit()


def heal_output_root(
    db: Session, *, path: str, now: datetime, healed_by: str | None
) -> list[str] | None:
    """Mark a degraded root healthy after a probe succeeded.

    Returns:
        None when the root was not degraded (someone else healed it); otherwise the
        workflows it had blocked (their rows are deleted), to be signalled.
    """
    root = _root_for_update(db, path, now)
    if root.state != DEGRADED:
        db.commit()
        return None
    assert root.id is not None
    blocks = db.exec(
        select(OutputRootBlock.workflow_id).where(OutputRootBlock.root_id == root.id)
    ).all()
    db.exec(delete(OutputRootBlock).where(col(OutputRootBlock.root_id) == root.id))
    detail = f"degraded since {root.since.isoformat()}: {root.error}"
    if healed_by:
        detail += f"; healed by {healed_by}"
    summary = f"Output root {path} is writable again"
    _record(db, EventType.OUTPUT_PATH_RECOVERED, path, summary, detail, now)
    root.state, root.since, root.error = HEALTHY, now, None
    root.probe_at, root.rejected = None, 0
    db.add(root)
    db.commit()
    return sorted(set(blocks))

"""Danmu files and chat statistics in the app database.

Functions take a `sqlmodel.Session` and commit their own writes (but
`delete_for_session`, which its caller's transaction commits); they are
synchronous: async callers run them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from activities.db.tables import Segment, StreamSession, utcnow
from activities.db.tables_danmu import (
    DANMU_ERROR_MAX_LENGTH,
    DanmuFile,
    DanmuStatisticsRow,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from sqlmodel import Session


@dataclass(frozen=True)
class SegmentStart:
    """Where a video segment starts: what its danmu file aligns to."""

    index: int
    file_path: str
    started_at: datetime | None
    media_start_secs: float | None


@dataclass(frozen=True)
class SessionView:
    """What the danmu activity follows of a session, read in one go."""

    exists: bool
    ended: bool
    segments: list[SegmentStart]


def session_view(db: Session, session_id: int, from_index: int) -> SessionView:
    """The session's end and its segments from `from_index` on, in index order."""
    session = db.get(StreamSession, session_id)
    if session is None:
        return SessionView(exists=False, ended=True, segments=[])
    rows = db.exec(
        select(Segment)
        .where(Segment.session_id == session_id, col(Segment.index) >= from_index)
        .order_by(col(Segment.index))
    ).all()
    return SessionView(
        exists=True,
        ended=session.end_time is not None,
        segments=[
            SegmentStart(r.index, r.file_path, r.started_at, r.media_start_secs)
            for r in rows
        ],
    )


# --- files ------------------------------------------------------------------------


def get_file(db: Session, session_id: int, index: int) -> DanmuFile | None:
    return db.exec(
        select(DanmuFile).where(
            DanmuFile.session_id == session_id, DanmuFile.index == index
        )
    ).first()


def list_files(db: Session, session_id: int) -> Sequence[DanmuFile]:
    return db.exec(
        select(DanmuFile)
        .where(DanmuFile.session_id == session_id)
        .order_by(col(DanmuFile.index))
    ).all()


def resume_index(db: Session, session_id: int) -> int:
    """The segment index a danmu activity of this session starts following at.

    The first file an earlier attempt left open (it is continued), else the one
    after the last closed file, else 0.
    """
    files = list_files(db, session_id)
    open_ones = [f.index for f in files if f.closed_at is None]
    if open_ones:
        return min(open_ones)
    return files[-1].index + 1 if files else 0


def begin_file(
    db: Session, *, session_id: int, index: int, file_path: str, started_at: datetime
) -> DanmuFile:
    """Insert the row of a danmu file about to be written (idempotent)."""
    found = get_file(db, session_id, index)
    if found is not None:
        return found
    row = DanmuFile(
        session_id=session_id, index=index, file_path=file_path, started_at=started_at
    )
    try:
        db.add(row)
        db.commit()
    except IntegrityError:
        db.rollback()
        found = get_file(db, session_id, index)
        if found is None:
            raise
        return found
    db.refresh(row)
    return row


def record_count(db: Session, session_id: int, index: int, message_count: int) -> None:
    """Store how many messages an open file holds so far."""
    row = get_file(db, session_id, index)
    if row is not None and row.closed_at is None:
        row.message_count = message_count
        db.add(row)
        db.commit()


def close_file(
    db: Session,
    *,
    session_id: int,
    index: int,
    message_count: int,
    error: str = "",
) -> tuple[DanmuFile, int]:
    """Mark a file closed with its final count (a second call changes nothing).

    Returns:
        The row, and how many of the session's danmu files are closed.

    Raises:
        LookupError: no such file row.
    """
    row = get_file(db, session_id, index)
    if row is None:
        raise LookupError(f"danmu file {session_id}/{index} does not exist")
    if row.closed_at is None:
        row.closed_at = utcnow()
        row.message_count = message_count
        row.error = error[:DANMU_ERROR_MAX_LENGTH] or None
        db.add(row)
        db.commit()
        db.refresh(row)
    closed = db.exec(
        select(func.count())
        .select_from(DanmuFile)
        .where(
            DanmuFile.session_id == session_id, col(DanmuFile.closed_at).is_not(None)
        )
    ).one()
    return row, closed


def delete_for_session(db: Session, session_id: int) -> list[str]:
    """Delete a session's danmu rows (not committed); return the files' paths."""
    paths = []
    for row in list_files(db, session_id):
        paths.append(row.file_path)
        db.delete(row)
    stats = get_statistics(db, session_id)
    if stats is not None:
        db.delete(stats)
    return paths


# --- statistics -------------------------------------------------------------------


def get_statistics(db: Session, session_id: int) -> DanmuStatisticsRow | None:
    return db.exec(
        select(DanmuStatisticsRow).where(DanmuStatisticsRow.session_id == session_id)
    ).first()


def save_statistics(
    db: Session,
    session_id: int,
    *,
    statistics: dict[str, Any],
    state: dict[str, Any],
    complete: bool = False,
) -> bool:
    """Insert or replace a session's statistics.

    Returns:
        False when the session is gone (nothing is written for it).
    """
    if db.get(StreamSession, session_id) is None:
        return False
    for _ in range(2):  # a concurrent first insert: the second round updates it
        row = get_statistics(db, session_id) or DanmuStatisticsRow(
            session_id=session_id
        )
        row.statistics = statistics
        row.state = state
        row.complete = complete
        row.updated_at = utcnow()
        try:
            db.add(row)
            db.commit()
            return True
        except IntegrityError:
            db.rollback()
    raise RuntimeError(f"statistics of session {session_id} could not be saved")

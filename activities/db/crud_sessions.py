"""Sessions and segments in the app database, for the API and the activities.

A session's totals (size, duration) are kept current as its segments close, in the
same transaction. Functions take a `sqlmodel.Session` and commit their own writes;
they are synchronous: async callers run them in a thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from activities.db import crud_danmu
from activities.db.tables import Segment, StreamSession, utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlmodel import Session


# --- sessions ---------------------------------------------------------------------


def open_session(
    db: Session,
    *,
    streamer_id: int,
    title: str,
    start_time: datetime,
    open_key: str | None = None,
) -> StreamSession:
    """Insert a session, or return the one already opened under `open_key`.

    Args:
        db: the database session.
        streamer_id: whose broadcast it is.
        title: the broadcast's title.
        start_time: when it went live.
        open_key: names the step that opens it (unique); a retry with the same
            key gets the same session.
    """
    if open_key is not None:
        found = _session_by_key(db, open_key)
        if found is not None:
            return found
    session = StreamSession(
        streamer_id=streamer_id, title=title, start_time=start_time, open_key=open_key
    )
    try:
        db.add(session)
        db.commit()
    except IntegrityError:
        db.rollback()
        # a concurrent attempt with the same key committed first
        found = _session_by_key(db, open_key) if open_key is not None else None
        if found is None:
            raise
        return found
    db.refresh(session)
    return session


def _session_by_key(db: Session, open_key: str) -> StreamSession | None:
    return db.exec(
        select(StreamSession).where(StreamSession.open_key == open_key)
    ).first()


def close_session(
    db: Session, session_id: int, end_time: datetime
) -> StreamSession | None:
    """End a session: set its end time (first call wins) and its totals.

    A session that recorded nothing (no segment row: the stream ended while it
    waited for a slot, or every attempt was refused) is deleted instead, so no
    empty session is ever listed.

    Returns:
        The closed session, or None when it was empty and is gone.

    Raises:
        LookupError: no such session.
    """
    session = db.get(StreamSession, session_id)
    if session is None:
        raise LookupError(f"session {session_id} does not exist")
    if db.exec(select(Segment.id).where(Segment.session_id == session_id)).first():
        # every row counts now, an unsettled one too: its bytes are confirmed
        _refresh_totals(db, session_id, completed_only=False)
        if session.end_time is None:
            session.end_time = end_time
            db.add(session)
        db.commit()
        db.refresh(session)
        return session
    crud_danmu.delete_for_session(db, session_id)  # chat of a session never recorded
    db.delete(session)
    db.commit()
    return None


def _refresh_totals(
    db: Session, session_id: int, *, completed_only: bool | None = None
) -> None:
    """Recompute a session's size and duration from its segments (not committed).

    While the session is live only completed segments count, so the totals grow as
    segments close; once it ended, every row does (an unsettled row's size is bytes
    confirmed on disk). The session row is locked first, so on Postgres a second
    writer's sum waits for this one and then sees its segment.
    """
    ended = db.exec(
        select(StreamSession.end_time)
        .where(col(StreamSession.id) == session_id)
        .with_for_update()
    ).first()
    if completed_only is None:
        completed_only = ended is None
    where = [col(Segment.session_id) == session_id]
    if completed_only:
        where.append(col(Segment.completed_at).is_not(None))

    def total(column: Any) -> Any:
        return (
            sa.select(func.coalesce(func.sum(column), 0))
            .where(*where)
            .scalar_subquery()
        )

    db.exec(
        sa.update(StreamSession)
        .where(col(StreamSession.id) == session_id)
        .values(
            total_size_bytes=total(Segment.size_bytes),
            duration_secs=total(Segment.duration_secs),
        )
    )


def get_session(db: Session, session_id: int) -> StreamSession | None:
    return db.get(StreamSession, session_id)


def list_sessions(
    db: Session, *, streamer_id: int | None = None, limit: int = 50, offset: int = 0
) -> tuple[Sequence[StreamSession], int]:
    count = select(func.count()).select_from(StreamSession)
    query = select(StreamSession)
    if streamer_id is not None:
        count = count.where(StreamSession.streamer_id == streamer_id)
        query = query.where(StreamSession.streamer_id == streamer_id)
    total = db.exec(count).one()
    items = db.exec(
        query.order_by(col(StreamSession.id).desc()).offset(offset).limit(limit)
    ).all()
    return items, total


def list_segments(db: Session, session_id: int) -> Sequence[Segment]:
    return db.exec(
        select(Segment)
        .where(Segment.session_id == session_id)
        .order_by(col(Segment.index))
    ).all()


# --- segments ---------------------------------------------------------------------


def get_segment(db: Session, session_id: int, index: int) -> Segment | None:
    return db.exec(
        select(Segment).where(Segment.session_id == session_id, Segment.index == index)
    ).first()


def begin_segment(
    db: Session,
    *,
    session_id: int,
    index: int,
    file_path: str,
    started_at: datetime | None = None,
    media_start_secs: float | None = None,
    host: str | None = None,
) -> Segment:
    """Insert the row of a segment that is being written (idempotent).

    `started_at` and `media_start_secs` are its first frame's wall clock and
    timestamp (`SegmentState`): what the danmu file of the same index aligns to.
    `host` is the recording worker's, with per-host placement.
    """
    segment = get_segment(db, session_id, index)
    if segment is None:
        segment = Segment(
            session_id=session_id,
            index=index,
            file_path=file_path,
            started_at=started_at,
            media_start_secs=media_start_secs,
            host=host,
        )
        db.add(segment)
        db.commit()
        db.refresh(segment)
    return segment


def record_segment_progress(
    db: Session,
    *,
    session_id: int,
    index: int,
    size_bytes: int,
    duration_secs: float,
    resume_marker: int | None,
    resume_edge_ms: int | None = None,
) -> None:
    """Store how far an open segment's file is known to be consistent."""
    segment = get_segment(db, session_id, index)
    if segment is None or segment.completed_at is not None:
        return
    segment.size_bytes = size_bytes
    segment.duration_secs = duration_secs
    segment.resume_marker = resume_marker
    segment.resume_edge_ms = resume_edge_ms
    db.add(segment)
    db.commit()


def complete_segment(
    db: Session,
    *,
    session_id: int,
    index: int,
    size_bytes: int,
    duration_secs: float,
    resume_marker: int | None = None,
    resume_edge_ms: int | None = None,
    valid: bool | None = None,
    streams: list[dict[str, Any]] | None = None,
) -> Segment:
    """Mark a segment closed (idempotent: a second call changes nothing).

    Args:
        db: the session.
        session_id: the segment's session.
        index: the segment's index.
        size_bytes: its final size.
        duration_secs: its media duration.
        resume_marker: where a later attempt continues (engine-specific).
        resume_edge_ms: the same point as a live-edge time (ffmpeg, streamlink).
        valid: whether the file opens and holds audio or video.
        streams: its streams (`contracts.MediaStream` dicts).

    Raises:
        LookupError: no such segment.
    """
    segment = get_segment(db, session_id, index)
    if segment is None:
        raise LookupError(f"segment {session_id}/{index} does not exist")
    if segment.completed_at is None:
        now = utcnow()
        segment.size_bytes = size_bytes
        segment.duration_secs = duration_secs
        segment.resume_marker = resume_marker
        segment.resume_edge_ms = resume_edge_ms
        segment.valid = valid
        segment.streams = streams
        segment.completed_at = now
        segment.persisted_at = now
        db.add(segment)
        db.flush()
        _refresh_totals(db, session_id)
        db.commit()
        db.refresh(segment)
    return segment


def set_segment_media(
    db: Session,
    *,
    session_id: int,
    index: int,
    valid: bool,
    streams: list[dict[str, Any]],
) -> None:
    """Store what a check of a closed segment's file found."""
    segment = get_segment(db, session_id, index)
    if segment is not None:
        segment.valid = valid
        segment.streams = streams
        db.add(segment)
        db.flush()
        _refresh_totals(db, session_id)
        db.commit()


def delete_segment(db: Session, session_id: int, index: int) -> None:
    segment = get_segment(db, session_id, index)
    if segment is not None:
        db.delete(segment)
        db.flush()
        _refresh_totals(db, session_id)
        db.commit()


def open_segments(db: Session, session_id: int) -> Sequence[Segment]:
    """Segments of a session whose files were not closed (a crashed attempt's)."""
    return db.exec(
        select(Segment)
        .where(Segment.session_id == session_id, col(Segment.completed_at).is_(None))
        .order_by(col(Segment.index))
    ).all()


def count_completed_segments(db: Session, session_id: int) -> int:
    """How many of a session's segments are closed (what its pipelines count)."""
    return db.exec(
        select(func.count())
        .select_from(Segment)
        .where(Segment.session_id == session_id, col(Segment.completed_at).is_not(None))
    ).one()


def last_segment(db: Session, session_id: int) -> Segment | None:
    return db.exec(
        select(Segment)
        .where(Segment.session_id == session_id)
        .order_by(col(Segment.index).desc())
    ).first()


def delete_streamer_sessions(db: Session, streamer_id: int) -> list[str]:
    """Delete a streamer's sessions, their segments and danmu files; return the
    files' paths."""
    sessions = db.exec(
        select(StreamSession).where(StreamSession.streamer_id == streamer_id)
    ).all()
    paths: list[str] = []
    for session in sessions:
        for segment in db.exec(
            select(Segment).where(Segment.session_id == session.id)
        ).all():
            paths.append(segment.file_path)
            db.delete(segment)
        if session.id is not None:
            paths += crud_danmu.delete_for_session(db, session.id)
        db.delete(session)
    db.commit()
    return paths


def claim_recorder(
    db: Session, session_id: int, token: str, now: datetime
) -> tuple[str | None, datetime | None]:
    """Make attempt `token` the session's recorder (the newest attempt wins).

    Returns:
        The previous recorder and when it was last seen, if another one held it
        (None, None when there was none or no such session).
    """
    row = db.get(StreamSession, session_id, with_for_update=True)
    if row is None:
        return None, None
    previous = (row.recorder, row.recorder_seen_at) if row.recorder != token else None
    row.recorder, row.recorder_seen_at = token, now
    db.add(row)
    db.commit()
    return previous if previous is not None else (None, None)


def renew_recorder(db: Session, session_id: int, token: str, now: datetime) -> bool:
    """Say attempt `token` is alive; False once another attempt is the recorder."""
    done = db.execute(
        sa.update(StreamSession)
        .where(
            col(StreamSession.id) == session_id,
            col(StreamSession.recorder) == token,
        )
        .values(recorder_seen_at=now)
    )
    db.commit()
    if done.rowcount:  # type: ignore[attr-defined]
        return True
    row = db.get(StreamSession, session_id)
    # a session that is gone (or never had a row, in tests) fences nobody
    return row is None or row.recorder in (None, token)


def release_recorder(db: Session, session_id: int, token: str) -> None:
    """Attempt `token` ended cleanly: the next one need not wait for it."""
    db.execute(
        sa.update(StreamSession)
        .where(
            col(StreamSession.id) == session_id,
            col(StreamSession.recorder) == token,
        )
        .values(recorder=None, recorder_seen_at=None)
    )
    db.commit()

"""Every read and write of the app database, for the API and the store activities.

Functions take a `sqlmodel.Session` and commit their own writes, so each call is one
transaction. They are synchronous: async callers run them in a thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from activities.db.tables import (
    LAST_ERROR_MAX_LENGTH,
    RefreshToken,
    Segment,
    Streamer,
    StreamSession,
    User,
    utcnow,
)
from activities.db.tables_notify import Event

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlmodel import Session


# --- streamers --------------------------------------------------------------------


class StreamerTakenError(Exception):
    """Another streamer has this URL or name (the database's unique index said so).

    Args:
        other: the streamer that has it.
        what: `URL` or `name`.
    """

    def __init__(self, other: Streamer, what: str) -> None:
        super().__init__(f"streamer {other.id} has this {what}")
        self.other = other
        self.what = what


def _commit_streamer(db: Session, streamer: Streamer) -> Streamer:
    """Commit a new or changed streamer; a URL or name another row has is
    `StreamerTakenError` (a request that won the race past the caller's check)."""
    url, name = streamer.url, streamer.name
    try:
        db.add(streamer)
        db.commit()
    except IntegrityError:
        db.rollback()
        for what, other in (
            ("URL", get_streamer_by_url(db, url)),
            ("name", get_streamer_by_name(db, name)),
        ):
            if other is not None and other.id != streamer.id:
                raise StreamerTakenError(other, what) from None
        raise
    db.refresh(streamer)
    return streamer


def create_streamer(db: Session, streamer: Streamer) -> Streamer:
    """Insert a streamer.

    Raises:
        StreamerTakenError: another streamer has its URL or name.
    """
    return _commit_streamer(db, streamer)


def get_streamer(db: Session, streamer_id: int) -> Streamer | None:
    return db.get(Streamer, streamer_id)


def list_streamers(
    db: Session, *, limit: int | None = None, offset: int = 0
) -> tuple[Sequence[Streamer], int]:
    total = db.exec(select(func.count()).select_from(Streamer)).one()
    query = select(Streamer).order_by(col(Streamer.id)).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return db.exec(query).all(), total


def update_streamer(
    db: Session, streamer: Streamer, changes: dict[str, Any]
) -> Streamer:
    """Apply `changes` to a streamer.

    Raises:
        StreamerTakenError: the new URL or name is another streamer's.
    """
    for key, value in changes.items():
        setattr(streamer, key, value)
    streamer.updated_at = utcnow()
    return _commit_streamer(db, streamer)


def delete_streamer(db: Session, streamer: Streamer) -> None:
    db.delete(streamer)
    db.commit()


def set_streamer_state(
    db: Session,
    streamer_id: int,
    *,
    state: str,
    enabled: bool,
    last_error: str | None = None,
) -> bool:
    """Write the workflow's state projection; False if the streamer is gone.

    `last_error` is why the last live check failed (None: it succeeded);
    `last_error_at` keeps when that error was first seen.
    """
    streamer = db.get(Streamer, streamer_id)
    if streamer is None:
        return False
    if last_error is not None:
        last_error = last_error[:LAST_ERROR_MAX_LENGTH]
    if (streamer.state, streamer.enabled, streamer.last_error) != (
        state,
        enabled,
        last_error,
    ):
        now = utcnow()
        if streamer.last_error != last_error:
            streamer.last_error_at = now if last_error is not None else None
        streamer.state = state
        streamer.enabled = enabled
        streamer.last_error = last_error
        streamer.updated_at = now
        db.add(streamer)
        db.commit()
    return True


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
    db: Session, *, session_id: int, index: int, file_path: str
) -> Segment:
    """Insert the row of a segment that is being written (idempotent)."""
    segment = get_segment(db, session_id, index)
    if segment is None:
        segment = Segment(session_id=session_id, index=index, file_path=file_path)
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


# --- events -----------------------------------------------------------------------


def list_events(
    db: Session, *, kind: str | None = None, limit: int = 100
) -> Sequence[Event]:
    """The newest events first, optionally of one kind."""
    query = select(Event)
    if kind is not None:
        query = query.where(Event.kind == kind)
    return db.exec(query.order_by(col(Event.id).desc()).limit(limit)).all()


# --- users and refresh tokens -----------------------------------------------------


def count_users(db: Session) -> int:
    return db.exec(select(func.count()).select_from(User)).one()


def get_user(db: Session, user_id: int) -> User | None:
    return db.get(User, user_id)


def get_user_by_username(db: Session, username: str) -> User | None:
    return db.exec(select(User).where(User.username == username)).first()


def create_user(db: Session, *, username: str, password_hash: str) -> User:
    user = User(username=username, password_hash=password_hash)
    db.add(user)
    db.commit()
    db.refresh(user)
    return user


def set_password_hash(db: Session, user: User, password_hash: str) -> None:
    user.password_hash = password_hash
    user.password_changed_at = utcnow()
    db.add(user)
    db.commit()


def add_refresh_token(
    db: Session, *, user_id: int, jti_hash: str, expires_at: datetime
) -> None:
    db.add(RefreshToken(user_id=user_id, jti_hash=jti_hash, expires_at=expires_at))
    db.commit()


def get_refresh_token(db: Session, jti_hash: str) -> RefreshToken | None:
    return db.exec(
        select(RefreshToken).where(RefreshToken.jti_hash == jti_hash)
    ).first()


def revoke_refresh_token(db: Session, token: RefreshToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.add(token)
        db.commit()


def revoke_user_refresh_tokens(db: Session, user_id: int) -> None:
    now = utcnow()
    tokens = db.exec(
        select(RefreshToken).where(
            RefreshToken.user_id == user_id, col(RefreshToken.revoked_at).is_(None)
        )
    ).all()
    for token in tokens:
        token.revoked_at = now
        db.add(token)
    db.commit()


# --- api helpers (appended for the API) -------------------------------------------


def ping(db: Session) -> None:
    """Run `SELECT 1`; raises if the database does not answer."""
    db.exec(select(1)).one()


def get_streamer_by_url(db: Session, url: str) -> Streamer | None:
    return db.exec(select(Streamer).where(Streamer.url == url)).first()


def get_streamer_by_name(db: Session, name: str) -> Streamer | None:
    return db.exec(select(Streamer).where(Streamer.name == name)).first()


def delete_streamer_sessions(db: Session, streamer_id: int) -> list[str]:
    """Delete a streamer's sessions and their segments; return the segment paths."""
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
        db.delete(session)
    db.commit()
    return paths

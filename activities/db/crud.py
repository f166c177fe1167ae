"""Every read and write of the app database, for the API and the store activities.

Functions take a `sqlmodel.Session` and commit their own writes, so each call is one
transaction. They are synchronous: async callers run them in a thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlmodel import col, select

from activities.db.tables import (
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


def create_streamer(db: Session, streamer: Streamer) -> Streamer:
    db.add(streamer)
    db.commit()
    db.refresh(streamer)
    return streamer


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
    for key, value in changes.items():
        setattr(streamer, key, value)
    streamer.updated_at = utcnow()
    db.add(streamer)
    db.commit()
    db.refresh(streamer)
    return streamer


def delete_streamer(db: Session, streamer: Streamer) -> None:
    db.delete(streamer)
    db.commit()


def set_streamer_state(
    db: Session, streamer_id: int, *, state: str, enabled: bool
) -> bool:
    """Write the workflow's state projection; False if the streamer is gone."""
    streamer = db.get(Streamer, streamer_id)
    if streamer is None:
        return False
    if streamer.state != state or streamer.enabled != enabled:
        streamer.state = state
        streamer.enabled = enabled
        streamer.updated_at = utcnow()
        db.add(streamer)
        db.commit()
    return True


# --- sessions ---------------------------------------------------------------------


def open_session(
    db: Session, *, streamer_id: int, title: str, start_time: datetime
) -> StreamSession:
    session = StreamSession(streamer_id=streamer_id, title=title, start_time=start_time)
    db.add(session)
    db.commit()
    db.refresh(session)
    return session


def close_session(db: Session, session_id: int, end_time: datetime) -> StreamSession:
    """Set the end time (first call wins) and the total size of its segments."""
    session = db.get(StreamSession, session_id)
    if session is None:
        raise LookupError(f"session {session_id} does not exist")
    total = db.exec(
        select(func.coalesce(func.sum(Segment.size_bytes), 0)).where(
            Segment.session_id == session_id
        )
    ).one()
    session.total_size_bytes = int(total)
    if session.end_time is None:
        session.end_time = end_time
    db.add(session)
    db.commit()
    db.refresh(session)
    return session


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
) -> None:
    """Store how far an open segment's file is known to be consistent."""
    segment = get_segment(db, session_id, index)
    if segment is None or segment.completed_at is not None:
        return
    segment.size_bytes = size_bytes
    segment.duration_secs = duration_secs
    segment.resume_marker = resume_marker
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
) -> Segment:
    """Mark a segment closed (idempotent: a second call changes nothing)."""
    segment = get_segment(db, session_id, index)
    if segment is None:
        raise LookupError(f"segment {session_id}/{index} does not exist")
    if segment.completed_at is None:
        now = utcnow()
        segment.size_bytes = size_bytes
        segment.duration_secs = duration_secs
        segment.resume_marker = resume_marker
        segment.completed_at = now
        segment.persisted_at = now
        db.add(segment)
        db.commit()
        db.refresh(segment)
    return segment


def set_segment_duration(
    db: Session, *, session_id: int, index: int, duration_secs: float
) -> None:
    segment = get_segment(db, session_id, index)
    if segment is not None:
        segment.duration_secs = duration_secs
        db.add(segment)
        db.commit()


def delete_segment(db: Session, session_id: int, index: int) -> None:
    segment = get_segment(db, session_id, index)
    if segment is not None:
        db.delete(segment)
        db.commit()


def open_segments(db: Session, session_id: int) -> Sequence[Segment]:
    """Segments of a session whose files were not closed (a crashed attempt's)."""
    return db.exec(
        select(Segment)
        .where(Segment.session_id == session_id, col(Segment.completed_at).is_(None))
        .order_by(col(Segment.index))
    ).all()


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

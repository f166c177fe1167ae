"""Every read and write of the app database, for the API and the store activities.

Functions take a `sqlmodel.Session` and commit their own writes, so each call is one
transaction. They are synchronous: async callers run them in a thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from activities.db import crud_filters
from activities.db.crud_config import bump_generation
from activities.db.tables import (
    LAST_ERROR_MAX_LENGTH,
    RefreshToken,
    Streamer,
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
        db.flush()
        # the streamer level of the configuration changed (running recordings look)
        bump_generation(db)
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
    """Delete a streamer and its filters (its sessions stay)."""
    if streamer.id is not None:
        crud_filters.delete_streamer_filters(db, streamer.id)
    db.delete(streamer)
    bump_generation(db)
    db.commit()


def set_streamer_state(
    db: Session,
    streamer_id: int,
    *,
    state: str,
    enabled: bool,
    last_error: str | None = None,
    reason: str | None = None,
) -> bool:
    """Write the workflow's state projection; False if the streamer is gone.

    `last_error` is why the last live check failed (None: it succeeded);
    `last_error_at` keeps when that error was first seen; `reason` says why the
    streamer is in its state.
    """
    streamer = db.get(Streamer, streamer_id)
    if streamer is None:
        return False
    if last_error is not None:
        last_error = last_error[:LAST_ERROR_MAX_LENGTH]
    if reason is not None:
        reason = reason[:LAST_ERROR_MAX_LENGTH]
    projected = (streamer.state, streamer.enabled, streamer.last_error)
    if (*projected, streamer.state_reason) != (state, enabled, last_error, reason):
        now = utcnow()
        if streamer.last_error != last_error:
            streamer.last_error_at = now if last_error is not None else None
        streamer.state = state
        streamer.enabled = enabled
        streamer.last_error = last_error
        streamer.state_reason = reason
        streamer.updated_at = now
        db.add(streamer)
        db.commit()
    return True


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

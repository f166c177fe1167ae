"""The app database's instance id: who owns the streamer workflows it starts."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import Session, select

from activities.db.tables import AppInstance


def app_instance_id(db: Session) -> str:
    """Return the instance id of this database, creating it if the row is missing.

    Migration 0004 writes the row; a database built another way gets one here. Two
    processes racing to create it both end with the row that won.

    Args:
        db: a session on the app database.

    Returns:
        The instance id (a uuid4 string), the same for every process on this database.
    """
    row = db.exec(select(AppInstance).order_by(AppInstance.id)).first()  # type: ignore[arg-type]
    if row is not None:
        return row.instance_id
    db.add(AppInstance(id=1, instance_id=str(uuid.uuid4())))
    try:
        db.commit()
    except sa.exc.IntegrityError:
        db.rollback()
    row = db.exec(select(AppInstance).order_by(AppInstance.id)).first()  # type: ignore[arg-type]
    assert row is not None
    return row.instance_id

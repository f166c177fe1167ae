"""The app database: SQLModel tables, the engine and migrations, and all CRUD."""

from activities.db import crud, crud_guards
from activities.db.engine import default_database_url, make_engine, migrate
from activities.db.instance import app_instance_id
from activities.db.tables import (
    AppInstance,
    Event,
    OutputRoot,
    OutputRootBlock,
    RecordingSlot,
    RefreshToken,
    Segment,
    SegmentBase,
    Streamer,
    StreamerBase,
    StreamSession,
    StreamSessionBase,
    User,
    UserBase,
    utcnow,
)

__all__ = [
    "AppInstance",
    "Event",
    "OutputRoot",
    "OutputRootBlock",
    "RecordingSlot",
    "RefreshToken",
    "Segment",
    "SegmentBase",
    "StreamSession",
    "StreamSessionBase",
    "Streamer",
    "StreamerBase",
    "User",
    "UserBase",
    "app_instance_id",
    "crud",
    "crud_guards",
    "default_database_url",
    "make_engine",
    "migrate",
    "utcnow",
]

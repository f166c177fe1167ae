"""The app database: SQLModel tables, the engine and migrations, and all CRUD."""

from activities.db import (
    crud,
    crud_guards,
    crud_notify,
    crud_notify_admin,
    crud_notify_breaker,
)
from activities.db.engine import default_database_url, make_engine, migrate
from activities.db.instance import app_instance_id
from activities.db.tables import (
    AppInstance,
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
from activities.db.tables_notify import (
    Event,
    NotifyBreaker,
    NotifyChannel,
    NotifyChannelBase,
    NotifyDeadLetter,
    NotifyDelivery,
    NotifySubscription,
)

__all__ = [
    "AppInstance",
    "Event",
    "NotifyBreaker",
    "NotifyChannel",
    "NotifyChannelBase",
    "NotifyDeadLetter",
    "NotifyDelivery",
    "NotifySubscription",
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
    "crud_notify",
    "crud_notify_admin",
    "crud_notify_breaker",
    "default_database_url",
    "make_engine",
    "migrate",
    "utcnow",
]

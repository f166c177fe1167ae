"""The app database: SQLModel tables, the engine and migrations, and all CRUD."""

from activities.db import crud, crud_guards, crud_pipeline
from activities.db.engine import default_database_url, make_engine, migrate
from activities.db.tables import (
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
from activities.db.tables_pipeline import (
    PipelineJob,
    PipelinePreset,
    PipelinePresetBase,
    PipelineRun,
    PipelineUpload,
)

__all__ = [
    "Event",
    "OutputRoot",
    "OutputRootBlock",
    "PipelineJob",
    "PipelinePreset",
    "PipelinePresetBase",
    "PipelineRun",
    "PipelineUpload",
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
    "crud",
    "crud_guards",
    "crud_pipeline",
    "default_database_url",
    "make_engine",
    "migrate",
    "utcnow",
]

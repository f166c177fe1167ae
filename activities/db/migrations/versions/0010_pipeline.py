"""post-processing: pipeline runs, jobs, presets (seeded) and the upload ledger

Revision ID: 0010_pipeline
Revises: 0009_notifications (see down_revision)
Create Date: 2026-11-30 12:00:00.000000
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import sqlmodel

import activities.db.tables

revision = "0010_pipeline"
down_revision = "0009_notifications"
branch_labels = None
depends_on = None

UPLOAD_TO = "remote:srec/{streamer}/%Y-%m-%d"

# (kind, name, description, body): frozen here, as every migration's data is
SEEDS = [
    ("step", "remux-mp4", "Remux to MP4 (stream copy, faststart), remove the input",
     {"processor": "remux", "config": {"format": "mp4"}}),
    ("step", "thumbnail", "A JPEG, 640 px wide, at 10% of the video",
     {"processor": "thumbnail", "config": {}}),
    ("step", "danmaku-ass", "Danmaku XML to ASS subtitles (1920x1080)",
     {"processor": "danmaku", "config": {}}),
    ("step", "burn-in", "Draw the ASS subtitles into the video (x264, veryfast)",
     {"processor": "burn", "config": {}}),
    ("step", "audio-m4a", "Extract the audio track (copy) into .m4a",
     {"processor": "audio", "config": {}}),
    ("step", "archive-zip", "Pack the files into one zip",
     {"processor": "archive", "config": {"format": "zip"}}),
    ("step", "upload", f"rclone copy to {UPLOAD_TO} (configure the rclone remote `remote`)",
     {"processor": "upload", "config": {"destination": UPLOAD_TO}}),
    ("step", "delete-inputs", "Delete the files the steps before produced",
     {"processor": "delete", "config": {}}),
    ("pipeline", "remux-mp4", "Remux each segment to MP4",
     {"steps": [{"id": "remux", "preset": "remux-mp4"}]}),
    ("pipeline", "remux-thumbnail", "Remux to MP4, then a thumbnail of it",
     {"steps": [
         {"id": "remux", "preset": "remux-mp4"},
         {"id": "thumbnail", "preset": "thumbnail", "depends_on": ["remux"]},
     ]}),
    ("pipeline", "danmaku-ass", "Render the danmaku XML into ASS",
     {"steps": [{"id": "danmaku", "preset": "danmaku-ass"}]}),
    ("pipeline", "burn-in", "Remux the video and render the danmaku, then burn them in",
     {"steps": [
         {"id": "remux", "preset": "remux-mp4"},
         {"id": "danmaku", "preset": "danmaku-ass"},
         {"id": "burn", "preset": "burn-in", "depends_on": ["remux", "danmaku"]},
     ]}),
    ("pipeline", "upload-then-delete", "Upload the files, then delete them locally",
     {"steps": [
         {"id": "upload", "preset": "upload"},
         {"id": "delete", "preset": "delete-inputs", "depends_on": ["upload"]},
     ]}),
    ("pipeline", "archive-to-cloud", "Zip the files, move the zip to the cloud, "
     "delete the originals",
     {"steps": [
         {"id": "archive", "preset": "archive-zip"},
         {"id": "upload", "preset": "upload", "config": {"mode": "move"},
          "depends_on": ["archive"]},
         {"id": "delete", "processor": "delete", "config": {"targets": "trigger"},
          "depends_on": ["upload"]},
     ]}),
]


def upgrade() -> None:
    op.create_table(
        "pipeline_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("streamer_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("segment_index", sa.Integer(), nullable=True),
        sa.Column("steps", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("inputs", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("context", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("queues", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("created_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id"),
    )
    with op.batch_alter_table("pipeline_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pipeline_run_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_run_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_run_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_run_streamer_id"), ["streamer_id"], unique=False)

    op.create_table(
        "pipeline_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("processor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("queue", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("depends_on", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("config", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("inputs", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("outputs", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("progress_detail", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("log", sa.Text(), server_default="", nullable=False),
        sa.Column("started_at", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "step_id"),
    )
    with op.batch_alter_table("pipeline_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pipeline_job_processor"), ["processor"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_job_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_job_status"), ["status"], unique=False)

    preset = op.create_table(
        "pipeline_preset",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("body", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("created_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "name"),
    )
    with op.batch_alter_table("pipeline_preset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pipeline_preset_kind"), ["kind"], unique=False)

    op.create_table(
        "pipeline_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("destination_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("destination", sqlmodel.sql.sqltypes.AutoString(length=4096), nullable=False),
        sa.Column("local_path", sqlmodel.sql.sqltypes.AutoString(length=4096), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("destination_hash"),
    )

    now = datetime.now(UTC)
    op.bulk_insert(
        preset,
        [
            {
                "kind": kind,
                "name": name,
                "description": description,
                "body": body,
                "builtin": True,
                "created_at": now,
                "updated_at": now,
            }
            for kind, name, description, body in SEEDS
        ],
    )


def downgrade() -> None:
    op.drop_table("pipeline_upload")
    with op.batch_alter_table("pipeline_preset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_preset_kind"))
    op.drop_table("pipeline_preset")
    with op.batch_alter_table("pipeline_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_job_status"))
        batch_op.drop_index(batch_op.f("ix_pipeline_job_run_id"))
        batch_op.drop_index(batch_op.f("ix_pipeline_job_processor"))
    op.drop_table("pipeline_job")
    with op.batch_alter_table("pipeline_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_run_streamer_id"))
        batch_op.drop_index(batch_op.f("ix_pipeline_run_status"))
        batch_op.drop_index(batch_op.f("ix_pipeline_run_session_id"))
        batch_op.drop_index(batch_op.f("ix_pipeline_run_kind"))
    op.drop_table("pipeline_run")

"""danmu: segment start times, danmu files beside segments, chat statistics

Revision ID: 0013_danmu
Revises: 0012_filters (see down_revision)
Create Date: 2026-12-01 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import sqlmodel

import activities.db.tables

revision = "0013_danmu"
down_revision = "0012_filters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("started_at", activities.db.tables.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("media_start_secs", sa.Float(), nullable=True))

    op.create_table(
        "danmu_file",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("file_path", sqlmodel.sql.sqltypes.AutoString(length=4096), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("started_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "index"),
    )
    with op.batch_alter_table("danmu_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_danmu_file_session_id"), ["session_id"], unique=False)

    op.create_table(
        "danmu_statistics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("statistics", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("state", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("updated_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id"),
    )


def downgrade() -> None:
    op.drop_table("danmu_statistics")
    with op.batch_alter_table("danmu_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_danmu_file_session_id"))
    op.drop_table("danmu_file")
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.drop_column("media_start_secs")
        batch_op.drop_column("started_at")

"""app instance: the id that marks the streamer workflows this database owns

Revision ID: 0005_instance
Revises: 0004_platform_channel (see down_revision)
Create Date: 2026-12-01 10:00:00.000000
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import sqlmodel

import activities.db.tables

revision = "0005_instance"
down_revision = "0004_platform_channel"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "app_instance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("created_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id"),
    )
    # generated once, here: every process that migrates this database then reads it
    op.bulk_insert(
        table,
        [{"id": 1, "instance_id": str(uuid.uuid4()), "created_at": datetime.now(UTC)}],
    )


def downgrade() -> None:
    op.drop_table("app_instance")

"""streamer filters: time window, cron, keyword, category, regex

Revision ID: 0012_filters
Revises: 0011_config (see down_revision)
Create Date: 2026-11-30 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import sqlmodel

import activities.db.tables

revision = "0012_filters"
down_revision = "0011_config"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "streamer_filter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("streamer_id", sa.Integer(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("config", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("streamer_filter", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_streamer_filter_streamer_id"), ["streamer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("streamer_filter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_streamer_filter_streamer_id"))
    op.drop_table("streamer_filter")

"""scale-out: a segment's host (per-host pipeline queues), a session's recorder fence

Revision ID: 0014_scaleout
Revises: 0013_danmu (see down_revision)
Create Date: 2026-12-01 20:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import sqlmodel

import activities.db.tables

revision = "0014_scaleout"
down_revision = "0013_danmu"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    with op.batch_alter_table("stream_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recorder", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "recorder_seen_at",
                activities.db.tables.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("stream_session", schema=None) as batch_op:
        batch_op.drop_column("recorder_seen_at")
        batch_op.drop_column("recorder")
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.drop_column("host")

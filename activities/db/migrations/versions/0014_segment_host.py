"""segment host: the host whose disk holds a segment (per-host pipeline queues)

Revision ID: 0014_segment_host
Revises: 0013_danmu (see down_revision)
Create Date: 2026-12-01 20:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import sqlmodel

revision = "0014_segment_host"
down_revision = "0013_danmu"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.drop_column("host")

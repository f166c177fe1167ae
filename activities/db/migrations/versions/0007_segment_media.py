"""segment media: what each file holds, and the live-edge resume point

Revision ID: 0007_segment_media
Revises: 0006_session_truth (see down_revision)
Create Date: 2026-11-30 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_segment_media"
down_revision = "0006_session_truth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("valid", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("streams", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("resume_edge_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.drop_column("resume_edge_ms")
        batch_op.drop_column("streams")
        batch_op.drop_column("valid")

"""streamer settings: per-streamer overrides of the recording policy

Revision ID: 0002_streamer_settings
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_streamer_settings"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # existing streamers override nothing: '{}' fills their rows
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "settings", sa.JSON(), nullable=False, server_default=sa.text("'{}'")
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.drop_column("settings")

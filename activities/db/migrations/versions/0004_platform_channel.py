"""platforms: the streamer's channel reference and its platform options

Revision ID: 0004_platform_channel
Revises: 0003_guards (see down_revision)
Create Date: 2026-11-30 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_platform_channel"
down_revision = "0003_guards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # existing rows: no reference known yet (null), no options ('{}')
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column(
                "platform_options",
                sa.JSON(),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.drop_column("platform_options")
        batch_op.drop_column("channel")

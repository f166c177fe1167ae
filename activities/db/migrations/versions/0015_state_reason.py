"""state_reason: why a streamer is in its state (the state machine of issue 10)

Revision ID: 0015_state_reason
Revises: 0014_scaleout (see down_revision)
Create Date: 2026-12-01 20:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import sqlmodel

revision = "0015_state_reason"
down_revision = "0014_scaleout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "state_reason",
                sqlmodel.sql.sqltypes.AutoString(length=1000),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.drop_column("state_reason")

"""streamer profile: the title, category and avatar of the last clean live check

Revision ID: 0016_streamer_profile
Revises: 0015_state_reason (see down_revision)
Create Date: 2026-12-01 23:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import sqlmodel
from activities.db.tables import UTCDateTime

revision = "0016_streamer_profile"
down_revision = "0015_state_reason"
branch_labels = None
depends_on = None

_TEXT = (("title", 500), ("category", 255), ("avatar_url", 2048))


def upgrade() -> None:
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        for name, length in _TEXT:
            batch_op.add_column(
                sa.Column(
                    name,
                    sqlmodel.sql.sqltypes.AutoString(length=length),
                    nullable=True,
                )
            )
        batch_op.add_column(sa.Column("profile_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.drop_column("profile_at")
        for name, _length in reversed(_TEXT):
            batch_op.drop_column(name)

"""recording guards: slot leases, output-root write gate, events

Revision ID: 0003_guards
Revises: 0002_streamer_settings (see down_revision)
Create Date: 2026-11-24 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import sqlmodel

import activities.db.tables

revision = "0003_guards"
down_revision = "0002_streamer_settings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("priority", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("queued_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("holder"),
    )
    with op.batch_alter_table("recording_slot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recording_slot_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "output_root",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=4096), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("since", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("probe_at", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
    )

    op.create_table(
        "output_root_block",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("blocked_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("root_id", "workflow_id"),
    )
    with op.batch_alter_table("output_root_block", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_output_root_block_root_id"), ["root_id"], unique=False)

    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=4096), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("created_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_kind"), ["kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_kind"))
    op.drop_table("event")
    with op.batch_alter_table("output_root_block", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_output_root_block_root_id"))
    op.drop_table("output_root_block")
    op.drop_table("output_root")
    with op.batch_alter_table("recording_slot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_slot_expires_at"))
    op.drop_table("recording_slot")

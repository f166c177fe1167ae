"""notifications: the event log grows keys and fields; channels, deliveries, dead letters

Revision ID: 0009_notifications
Revises: 0008_streamer_name_last_error (see down_revision)
Create Date: 2026-11-25 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import sqlmodel

import activities.db.tables

revision = "0009_notifications"
down_revision = "0008_streamer_name_last_error"
branch_labels = None
depends_on = None

_NEW_EVENT_COLUMNS = ("key", "priority", "streamer_name", "title", "summary")


def upgrade() -> None:
    # existing events (the write gate's) get a key, a priority and a summary, and
    # count as dispatched: no channel existed to deliver them to
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("streamer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("streamer_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column("session_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True))
        batch_op.add_column(sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True))
        batch_op.add_column(sa.Column("dispatched_at", activities.db.tables.UTCDateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE event SET key = 'legacy:' || id, streamer_name = '', title = '',"
        " summary = substr(kind || ': ' || subject, 1, 1000),"
        " priority = CASE kind WHEN 'output_path_inaccessible' THEN 10 ELSE 5 END,"
        " dispatched_at = created_at"
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        for name in _NEW_EVENT_COLUMNS:
            batch_op.alter_column(name, nullable=False)
        batch_op.create_unique_constraint("uq_event_key", ["key"])
        batch_op.create_index(batch_op.f("ix_event_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_dispatched_at"), ["dispatched_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_streamer_id"), ["streamer_id"], unique=False)

    op.create_table(
        "notify_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("min_priority", sa.Integer(), nullable=False),
        sa.Column("streamer_ids", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("title_template", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column("body_template", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("config", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )

    op.create_table(
        "notify_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id", "event_type"),
    )
    with op.batch_alter_table("notify_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_subscription_channel_id"), ["channel_id"], unique=False)

    op.create_table(
        "notify_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("claim_token", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("claimed_until", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "channel_id"),
    )
    with op.batch_alter_table("notify_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_delivery_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notify_delivery_event_id"), ["event_id"], unique=False)

    op.create_table(
        "notify_dead_letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("delivery_id"),
    )
    with op.batch_alter_table("notify_dead_letter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_dead_letter_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notify_dead_letter_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_notify_dead_letter_event_id"), ["event_id"], unique=False)

    op.create_table(
        "notify_breaker",
        sa.Column("channel_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("open_until", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("trial_until", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("channel_id"),
    )


def downgrade() -> None:
    op.drop_table("notify_breaker")
    with op.batch_alter_table("notify_dead_letter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_dead_letter_event_id"))
        batch_op.drop_index(batch_op.f("ix_notify_dead_letter_created_at"))
        batch_op.drop_index(batch_op.f("ix_notify_dead_letter_channel_id"))
    op.drop_table("notify_dead_letter")
    with op.batch_alter_table("notify_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_delivery_event_id"))
        batch_op.drop_index(batch_op.f("ix_notify_delivery_channel_id"))
    op.drop_table("notify_delivery")
    with op.batch_alter_table("notify_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_subscription_channel_id"))
    op.drop_table("notify_subscription")
    op.drop_table("notify_channel")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_streamer_id"))
        batch_op.drop_index(batch_op.f("ix_event_session_id"))
        batch_op.drop_index(batch_op.f("ix_event_dispatched_at"))
        batch_op.drop_index(batch_op.f("ix_event_created_at"))
        batch_op.drop_constraint("uq_event_key", type_="unique")
        batch_op.drop_column("dispatched_at")
        batch_op.drop_column("summary")
        batch_op.drop_column("title")
        batch_op.drop_column("session_id")
        batch_op.drop_column("streamer_name")
        batch_op.drop_column("streamer_id")
        batch_op.drop_column("priority")
        batch_op.drop_column("key")

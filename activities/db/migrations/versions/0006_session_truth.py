"""session truth: one streamer per URL, idempotent session opening, live totals

- `streamer.url` is unique. Streamers that already share a URL (two requests that
  raced past the API's check) are merged into the first one added: their sessions
  move to it and the later rows are deleted, so their workflows stop at their next
  load and no recording is lost. Each merge is logged.
- `stream_session.open_key` (unique) lets a retried `open_session` find the session
  it opened; `stream_session.duration_secs` sums its completed segments.
- Live sessions get their totals from the segments already completed, and closed
  sessions that never recorded a segment (a stream that ended while queued for a
  slot) are removed, as `close_session` now does.

Revision ID: 0006_session_truth
Revises: 0005_instance (see down_revision)
Create Date: 2026-11-30 12:00:00.000000
"""

import logging

import sqlalchemy as sa
from alembic import op

import sqlmodel

revision = "0006_session_truth"
down_revision = "0005_instance"
branch_labels = None
depends_on = None

log = logging.getLogger("srec.migrations")


def _merge_duplicate_urls(conn: sa.Connection) -> None:
    duplicated = conn.execute(
        sa.text(
            "SELECT url, MIN(id) FROM streamer GROUP BY url HAVING COUNT(*) > 1"
        )
    ).all()
    for url, keep in duplicated:
        later = [
            row[0]
            for row in conn.execute(
                sa.text("SELECT id FROM streamer WHERE url = :url AND id <> :keep"),
                {"url": url, "keep": keep},
            )
        ]
        for dup in later:
            conn.execute(
                sa.text(
                    "UPDATE stream_session SET streamer_id = :keep"
                    " WHERE streamer_id = :dup"
                ),
                {"keep": keep, "dup": dup},
            )
            conn.execute(sa.text("DELETE FROM streamer WHERE id = :dup"), {"dup": dup})
        log.warning(
            "streamers %s had the URL of streamer %s (%s): merged into it, "
            "their sessions kept",
            ", ".join(map(str, later)),
            keep,
            url,
        )


def upgrade() -> None:
    conn = op.get_bind()
    _merge_duplicate_urls(conn)
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.create_index("ix_streamer_url", ["url"], unique=True)

    with op.batch_alter_table("stream_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "duration_secs", sa.Float(), nullable=False, server_default="0"
            )
        )
        batch_op.add_column(
            sa.Column(
                "open_key",
                sqlmodel.sql.sqltypes.AutoString(length=255),
                nullable=True,
            )
        )
        batch_op.create_index("ix_stream_session_open_key", ["open_key"], unique=True)

    completed = (
        "FROM segment WHERE segment.session_id = stream_session.id"
        " AND segment.completed_at IS NOT NULL"
    )
    conn.execute(
        sa.text(
            f"UPDATE stream_session SET duration_secs ="
            f" (SELECT COALESCE(SUM(duration_secs), 0) {completed})"
        )
    )
    conn.execute(
        sa.text(
            f"UPDATE stream_session SET total_size_bytes ="
            f" (SELECT COALESCE(SUM(size_bytes), 0) {completed})"
            " WHERE end_time IS NULL"
        )
    )
    conn.execute(
        sa.text(
            "DELETE FROM stream_session WHERE end_time IS NOT NULL AND NOT EXISTS"
            " (SELECT 1 FROM segment WHERE segment.session_id = stream_session.id)"
        )
    )


def downgrade() -> None:
    # merged streamers and removed empty sessions stay as they are
    with op.batch_alter_table("stream_session", schema=None) as batch_op:
        batch_op.drop_index("ix_stream_session_open_key")
        batch_op.drop_column("open_key")
        batch_op.drop_column("duration_secs")
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.drop_index("ix_streamer_url")

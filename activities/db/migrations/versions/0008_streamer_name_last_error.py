"""streamer names unique (they are folders), and the last live check's error

Revision ID: 0008_streamer_name_last_error
Revises: 0007_segment_media (see down_revision)
Create Date: 2026-11-30 12:00:00.000000

Existing duplicate names are renamed before the constraint is added: the oldest
streamer keeps its name, the others become "name (2)", "name (3)", … (shortened to
fit the column, never colliding with another name).
"""

import sqlalchemy as sa
from alembic import op

import sqlmodel

import activities.db.tables

revision = "0008_streamer_name_last_error"
down_revision = "0007_segment_media"
branch_labels = None
depends_on = None

NAME_MAX_LENGTH = 100


def _free_name(base: str, taken: set[str]) -> str:
    for n in range(2, len(taken) + 3):
        suffix = f" ({n})"
        candidate = base[: NAME_MAX_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable: more candidates than names")


def _rename_duplicates() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, name FROM streamer ORDER BY id")).all()
    taken = {name for _, name in rows}
    seen: set[str] = set()
    for streamer_id, name in rows:
        if name not in seen:
            seen.add(name)
            continue
        new = _free_name(name, taken)
        taken.add(new)
        conn.execute(
            sa.text("UPDATE streamer SET name = :name WHERE id = :id"),
            {"name": new, "id": streamer_id},
        )


def upgrade() -> None:
    _rename_duplicates()
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_streamer_name", ["name"])
        batch_op.add_column(
            sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "last_error_at",
                activities.db.tables.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.drop_column("last_error_at")
        batch_op.drop_column("last_error")
        batch_op.drop_constraint("uq_streamer_name", type_="unique")

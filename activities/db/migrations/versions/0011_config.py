"""configuration levels: global, platform and template rows; streamer template_id

Revision ID: 0011_config
Revises: 0010_pipeline (see down_revision)
Create Date: 2026-12-01 12:00:00.000000

Stored streamer settings move to the new field list, so nothing changes for an
existing streamer:
* a `filename_template` holding its folder is split into `output_folder` and the
  file name (`{streamer}/{streamer}-%i` -> `{streamer}` + `{streamer}-%i`; one without
  a folder gets the empty folder, the recordings root, where it wrote);
* `grace_secs` becomes one offline check that long after a drop
  (`offline_check_count` 1, `offline_check_delay_secs` = the grace);
* the `priority` column becomes the `priority` setting (when not `normal`);
* the platform option `extractor` becomes the `extractor` setting.
The global row starts empty and unseeded: the first process to start fills it from
its `SREC_*` environment (`activities.config.seed`).
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import sqlmodel

import activities.db.tables

revision = "0011_config"
down_revision = "0010_pipeline"
branch_labels = None
depends_on = None

# what the settings of 0010's streamers could hold; others are dropped on downgrade
OLD_KEYS = {
    "engine", "container", "filename_template", "max_segment_duration_secs",
    "max_segment_size_bytes", "min_segment_size_bytes", "selection",
    "poll_interval_secs", "grace_secs", "stream_timeout_secs",
}

STREAMER = sa.table(
    "streamer",
    sa.column("id", sa.Integer()),
    sa.column("priority", sa.String()),
    sa.column("settings", sa.JSON()),
    sa.column("platform_options", sa.JSON()),
)


def _json() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("settings", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)


def _new_settings(settings: dict[str, Any], priority: str, options: dict[str, Any]):
    settings, options = dict(settings or {}), dict(options or {})
    template = settings.get("filename_template")
    if isinstance(template, str) and "output_folder" not in settings:
        *folders, name = template.replace("\\", "/").split("/")
        settings["output_folder"] = "/".join(folders)
        settings["filename_template"] = name
    grace = settings.pop("grace_secs", None)
    if grace is not None:
        settings.setdefault("offline_check_count", 1)
        settings.setdefault("offline_check_delay_secs", grace)
    if priority and priority != "normal":
        settings["priority"] = priority
    extractor = options.pop("extractor", None)
    if extractor == "streamlink":
        settings["extractor"] = "streamlink"
    return settings, options


def _old_settings(settings: dict[str, Any], options: dict[str, Any]):
    settings, options = dict(settings or {}), dict(options or {})
    priority = settings.pop("priority", "normal")
    if settings.pop("extractor", None) == "streamlink":
        options["extractor"] = "streamlink"
    folder = settings.pop("output_folder", None)
    if "filename_template" in settings and folder:
        settings["filename_template"] = f"{folder}/{settings['filename_template']}"
    count = settings.pop("offline_check_count", None)
    delay = settings.pop("offline_check_delay_secs", None)
    if count is not None or delay is not None:
        settings["grace_secs"] = (count or 3) * (20.0 if delay is None else delay)
    return {k: v for k, v in settings.items() if k in OLD_KEYS}, options, priority


def _rewrite(convert) -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(STREAMER.c.id, STREAMER.c.priority, STREAMER.c.settings,
                  STREAMER.c.platform_options)
    ).all()
    for row in rows:
        values = convert(row)
        conn.execute(STREAMER.update().where(STREAMER.c.id == row.id).values(**values))


def upgrade() -> None:
    now = datetime.now(UTC)
    config_global = op.create_table(
        "config_global",
        sa.Column("id", sa.Integer(), nullable=False),
        _json(),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("seeded_at", activities.db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(
        config_global,
        [{"id": 1, "settings": {}, "generation": 0, "seeded_at": None, "updated_at": now}],
    )
    op.create_table(
        "config_platform",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        _json(),
        sa.Column("options", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("updated_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "config_template",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        _json(),
        sa.Column("platform_options", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", activities.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_config_template_name"),
    )

    def up(row: Any) -> dict[str, Any]:
        settings, options = _new_settings(row.settings, row.priority, row.platform_options)
        return {"settings": settings, "platform_options": options}

    _rewrite(up)
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_streamer_template_id"), ["template_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_streamer_template_id", "config_template", ["template_id"], ["id"]
        )
        batch_op.drop_column("priority")


def downgrade() -> None:
    with op.batch_alter_table("streamer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority", sqlmodel.sql.sqltypes.AutoString(length=10),
                      server_default="normal", nullable=False)
        )
        batch_op.drop_constraint("fk_streamer_template_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_streamer_template_id"))
        batch_op.drop_column("template_id")

    def down(row: Any) -> dict[str, Any]:
        settings, options, priority = _old_settings(row.settings, row.platform_options)
        return {"settings": settings, "platform_options": options, "priority": priority}

    _rewrite(down)
    op.drop_table("config_template")
    op.drop_table("config_platform")
    op.drop_table("config_global")

"""Schema migrations upgrade a database that already holds rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlmodel import Session

from activities.db import Streamer, crud, make_engine, migrate
from activities.db.engine import MIGRATIONS_DIR

if TYPE_CHECKING:
    from pathlib import Path


def _alembic(engine: sa.Engine, action: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def test_streamer_settings_upgrade_keeps_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    _alembic(engine, "upgrade", "0001")
    now = datetime.now(UTC).isoformat()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO streamer (name, url, priority, enabled, platform, state,"
                " created_at, updated_at) VALUES ('Old', 'https://fake.tv/old',"
                " 'normal', 1, 'faketv', 'NOT_LIVE', :now, :now)"
            ),
            {"now": now},
        )

    migrate(engine)

    with Session(engine) as db:
        streamers, total = crud.list_streamers(db)
        assert total == 1
        old = streamers[0]
        assert (old.name, old.settings) == ("Old", {})
        crud.update_streamer(db, old, {"settings": {"engine": "ffmpeg"}})
    with Session(engine) as db:
        assert crud.list_streamers(db)[0][0].settings == {"engine": "ffmpeg"}

    _alembic(engine, "downgrade", "0001")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("streamer")}
        assert "settings" not in columns
        assert conn.execute(sa.text("SELECT name FROM streamer")).scalar() == "Old"
    engine.dispose()


def test_migrate_reaches_the_single_head(tmp_path: Path) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(cfg)
    (head,) = scripts.get_heads()  # one linear chain, no branches
    assert "0002_streamer_settings" in {r.revision for r in scripts.walk_revisions()}
    engine = make_engine(f"sqlite:///{tmp_path}/new.db")
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        assert version.scalar() == head
    engine.dispose()


def test_unique_names_upgrade_renames_duplicates(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    _alembic(engine, "upgrade", "0003_guards")
    now = datetime.now(UTC).isoformat()
    long = "L" * 100
    names = ["Alice", "Alice", "Alice (2)", "Alice", long, long, "Bob"]
    with engine.begin() as conn:
        for i, name in enumerate(names):
            conn.execute(
                sa.text(
                    "INSERT INTO streamer (name, url, priority, enabled, platform,"
                    " state, created_at, updated_at, settings) VALUES (:name, :url,"
                    " 'normal', 1, 'faketv', 'NOT_LIVE', :now, :now, '{}')"
                ),
                {"name": name, "url": f"https://fake.tv/s{i}", "now": now},
            )

    migrate(engine)

    with Session(engine) as db:
        streamers, _ = crud.list_streamers(db)
        renamed = [s.name for s in streamers]
    # the oldest keeps its name; the others get the first free "name (n)"
    assert renamed == [
        "Alice",
        "Alice (3)",
        "Alice (2)",
        "Alice (4)",
        long,
        "L" * 96 + " (2)",
        "Bob",
    ]
    with engine.connect() as conn:
        uniques = sa.inspect(conn).get_unique_constraints("streamer")
        assert {"name": "uq_streamer_name", "column_names": ["name"]} in [
            {"name": u["name"], "column_names": u["column_names"]} for u in uniques
        ]
    with Session(engine) as db, pytest.raises(sa.exc.IntegrityError):
        crud.create_streamer(
            db,
            Streamer(name="Bob", url="https://fake.tv/other", platform="faketv"),
        )

    _alembic(engine, "downgrade", "0003_guards")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("streamer")}
        assert not {"last_error", "last_error_at"} & columns
        assert not sa.inspect(conn).get_unique_constraints("streamer")
    engine.dispose()

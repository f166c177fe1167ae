"""Schema migrations upgrade a database that already holds rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlmodel import Session

from activities.db import crud, make_engine, migrate
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


def test_segment_media_upgrade_keeps_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    _alembic(engine, "upgrade", "0003_guards")
    now = datetime.now(UTC).isoformat()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                'INSERT INTO segment (session_id, "index", file_path, size_bytes,'
                " duration_secs, created_at, completed_at) VALUES (1, 0, '/r/a_0.ts',"
                " 100, 2.5, :now, :now)"
            ),
            {"now": now},
        )

    migrate(engine)

    with Session(engine) as db:
        row = crud.get_segment(db, 1, 0)
        assert row is not None
        # checked before this column existed: unknown, not invalid
        assert (row.size_bytes, row.valid, row.streams, row.resume_edge_ms) == (
            100,
            None,
            None,
            None,
        )
        crud.begin_segment(db, session_id=1, index=1, file_path="/r/a_1.ts")
        crud.complete_segment(
            db,
            session_id=1,
            index=1,
            size_bytes=5,
            duration_secs=1.0,
            resume_edge_ms=1_800_000_000_000,
            valid=True,
            streams=[{"kind": "audio", "codec": "aac"}],
        )
    with Session(engine) as db:
        row = crud.get_segment(db, 1, 1)
        assert row is not None
        assert (row.valid, row.streams, row.resume_edge_ms) == (
            True,
            [{"kind": "audio", "codec": "aac"}],
            1_800_000_000_000,
        )

    _alembic(engine, "downgrade", "0003_guards")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("segment")}
        assert not columns & {"valid", "streams", "resume_edge_ms"}
        assert conn.execute(sa.text("SELECT count(*) FROM segment")).scalar() == 2
    engine.dispose()

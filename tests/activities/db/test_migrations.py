"""Schema migrations upgrade a database that already holds rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session, SQLModel

from activities.db import (
    Streamer,
    crud,
    crud_config,
    crud_sessions,
    make_engine,
    migrate,
)
from activities.db.engine import MIGRATIONS_DIR
from tests.databases import alembic_to, reset_sequences


def test_streamer_settings_upgrade_keeps_rows(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    alembic_to(engine, "0001")
    now = datetime.now(UTC).isoformat()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO streamer (name, url, priority, enabled, platform, state,"
                " created_at, updated_at) VALUES ('Old', 'https://fake.tv/old',"
                " 'normal', TRUE, 'faketv', 'NOT_LIVE', :now, :now)"
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

    alembic_to(engine, "0001", "downgrade")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("streamer")}
        assert "settings" not in columns
        assert conn.execute(sa.text("SELECT name FROM streamer")).scalar() == "Old"
    engine.dispose()


def test_migrate_reaches_the_single_head(empty_db_url: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(cfg)
    (head,) = scripts.get_heads()  # one linear chain, no branches
    assert "0002_streamer_settings" in {r.revision for r in scripts.walk_revisions()}
    engine = make_engine(empty_db_url)
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        assert version.scalar() == head
    engine.dispose()


def test_platform_channel_upgrade_keeps_rows(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    alembic_to(engine, "0003_guards")
    now = datetime.now(UTC).isoformat()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO streamer (name, url, priority, enabled, platform, state,"
                " created_at, updated_at) VALUES ('Old', 'https://twitch.tv/old',"
                " 'normal', TRUE, 'twitch', 'NOT_LIVE', :now, :now)"
            ),
            {"now": now},
        )

    migrate(engine)

    with Session(engine) as db:
        old = crud.list_streamers(db)[0][0]
        assert (old.channel, old.platform_options) == (None, {})
        crud.update_streamer(db, old, {"channel": "old", "platform_options": {"a": 1}})
    with Session(engine) as db:
        again = crud.list_streamers(db)[0][0]
        assert (again.channel, again.platform_options) == ("old", {"a": 1})

    alembic_to(engine, "0003_guards", "downgrade")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("streamer")}
        assert not columns & {"channel", "platform_options"}
        assert conn.execute(sa.text("SELECT name FROM streamer")).scalar() == "Old"
    engine.dispose()


def test_session_truth_upgrade_merges_urls_and_fixes_sessions(
    empty_db_url: str,
) -> None:
    engine = make_engine(empty_db_url)
    alembic_to(engine, "0003_guards")
    now = datetime.now(UTC).isoformat()
    streamer = (
        "INSERT INTO streamer (id, name, url, priority, enabled, platform, state,"
        " created_at, updated_at, settings) VALUES (:id, :name, :url, 'normal', TRUE,"
        " 'faketv', 'NOT_LIVE', :now, :now, '{}')"
    )
    session = (
        "INSERT INTO stream_session (id, streamer_id, title, start_time, end_time,"
        " total_size_bytes) VALUES (:id, :sid, '', :now, :end, :total)"
    )
    segment = (
        'INSERT INTO segment (session_id, "index", file_path, size_bytes,'
        " duration_secs, created_at, completed_at) VALUES (:sid, :i, '/r', :size,"
        " 2.0, :now, :done)"
    )
    with engine.begin() as conn:
        for sid, name, url in [(1, "A", "u1"), (2, "A again", "u1"), (3, "B", "u2")]:
            conn.execute(
                sa.text(streamer), {"id": sid, "name": name, "url": url, "now": now}
            )
        # 10: streamer 2's finished session; 11: a live one of 3 with one closed
        # segment and one being written; 12: a closed session that recorded nothing
        for sess, sid, end, total in [
            (10, 2, now, 50),
            (11, 3, None, 0),
            (12, 3, now, 0),
        ]:
            conn.execute(
                sa.text(session),
                {"id": sess, "sid": sid, "now": now, "end": end, "total": total},
            )
        for sess, index, size, done in [
            (10, 0, 50, now),
            (11, 0, 70, now),
            (11, 1, 5, None),
        ]:
            conn.execute(
                sa.text(segment),
                {"sid": sess, "i": index, "size": size, "now": now, "done": done},
            )

    migrate(engine)
    reset_sequences(engine)  # the rows above have explicit ids

    with Session(engine) as db:
        streamers, _ = crud.list_streamers(db)
        assert [(s.id, s.url) for s in streamers] == [(1, "u1"), (3, "u2")]
        sessions = {s.id: s for s in crud_sessions.list_sessions(db)[0]}
        assert set(sessions) == {10, 11}
        assert sessions[10].streamer_id == 1  # moved to the streamer kept
        assert (sessions[10].total_size_bytes, sessions[10].duration_secs) == (50, 2)
        assert (sessions[11].total_size_bytes, sessions[11].duration_secs) == (70, 2)
        with pytest.raises(crud.StreamerTakenError):
            crud.create_streamer(db, Streamer(name="C", url="u2", platform="faketv"))

    alembic_to(engine, "0003_guards", "downgrade")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("stream_session")}
        assert not {"open_key", "duration_secs"} & columns
    engine.dispose()


def test_segment_media_upgrade_keeps_rows(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    alembic_to(engine, "0003_guards")
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
        row = crud_sessions.get_segment(db, 1, 0)
        assert row is not None
        # checked before this column existed: unknown, not invalid
        assert (row.size_bytes, row.valid, row.streams, row.resume_edge_ms) == (
            100,
            None,
            None,
            None,
        )
        crud_sessions.begin_segment(db, session_id=1, index=1, file_path="/r/a_1.ts")
        crud_sessions.complete_segment(
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
        row = crud_sessions.get_segment(db, 1, 1)
        assert row is not None
        assert (row.valid, row.streams, row.resume_edge_ms) == (
            True,
            [{"kind": "audio", "codec": "aac"}],
            1_800_000_000_000,
        )

    alembic_to(engine, "0003_guards", "downgrade")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("segment")}
        assert not columns & {"valid", "streams", "resume_edge_ms"}
        assert conn.execute(sa.text("SELECT count(*) FROM segment")).scalar() == 2
    engine.dispose()


def test_unique_names_upgrade_renames_duplicates(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    alembic_to(engine, "0003_guards")
    now = datetime.now(UTC).isoformat()
    long = "L" * 100
    names = ["Alice", "Alice", "Alice (2)", "Alice", long, long, "Bob"]
    with engine.begin() as conn:
        for i, name in enumerate(names):
            conn.execute(
                sa.text(
                    "INSERT INTO streamer (name, url, priority, enabled, platform,"
                    " state, created_at, updated_at, settings) VALUES (:name, :url,"
                    " 'normal', TRUE, 'faketv', 'NOT_LIVE', :now, :now, '{}')"
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
    with Session(engine) as db, pytest.raises(crud.StreamerTakenError):
        crud.create_streamer(
            db,
            Streamer(name="Bob", url="https://fake.tv/other", platform="faketv"),
        )

    alembic_to(engine, "0003_guards", "downgrade")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("streamer")}
        assert not {"last_error", "last_error_at"} & columns
        assert not sa.inspect(conn).get_unique_constraints("streamer")
    engine.dispose()


def _json(value: object) -> object:
    """A raw JSON column: text on SQLite, already decoded on Postgres."""
    return json.loads(value) if isinstance(value, str) else value


def test_config_upgrade_moves_stored_settings_to_the_new_fields(
    empty_db_url: str,
) -> None:
    engine = make_engine(empty_db_url)
    alembic_to(engine, "0010_pipeline")
    now = datetime.now(UTC).isoformat()
    old = {
        "filename_template": "{platform}/{streamer}/%Y_%i",
        "grace_secs": 90,
        "engine": "ffmpeg",
    }
    with engine.begin() as conn:
        for name, priority, settings, options in (
            ("a", "high", old, {"extractor": "streamlink", "cookies": "c"}),
            ("b", "normal", {"filename_template": "flat_%i"}, {"extractor": "native"}),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO streamer (name, url, priority, enabled, platform,"
                    " state, settings, platform_options, created_at, updated_at)"
                    " VALUES (:name, :url, :priority, TRUE, 'twitch', 'NOT_LIVE',"
                    " :settings, :options, :now, :now)"
                ),
                {
                    "name": name,
                    "url": f"https://twitch.tv/{name}",
                    "priority": priority,
                    "settings": json.dumps(settings),
                    "options": json.dumps(options),
                    "now": now,
                },
            )

    migrate(engine)

    with Session(engine) as db:
        a, b = crud.list_streamers(db)[0]
        assert a.settings == {
            "output_folder": "{platform}/{streamer}",
            "filename_template": "%Y_%i",
            "offline_check_count": 1,
            "offline_check_delay_secs": 90,
            "engine": "ffmpeg",
            "priority": "high",
            "extractor": "streamlink",
        }
        assert a.platform_options == {"cookies": "c"}
        assert (a.template_id, b.template_id) == (None, None)
        # a template without a folder wrote into the root: it still does
        assert b.settings == {"output_folder": "", "filename_template": "flat_%i"}
        assert b.platform_options == {}
        assert crud_config.get_global(db).seeded_at is None

    alembic_to(engine, "0010_pipeline", "downgrade")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT priority, settings, platform_options FROM streamer")
        ).all()
        assert rows[0][0] == "high"
        assert _json(rows[0][1]) == old
        assert _json(rows[0][2]) == {"cookies": "c", "extractor": "streamlink"}
        assert rows[1][0] == "normal"
        assert "config_global" not in sa.inspect(conn).get_table_names()
    engine.dispose()


# --- every migration, on both databases ----------------------------------------------


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    walked = ScriptDirectory.from_config(cfg).walk_revisions()
    return [script.revision for script in reversed(list(walked))]


def _names(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(sa.text("SELECT name FROM streamer ORDER BY id")))


def test_every_migration_steps_up_and_down_with_rows(empty_db_url: str) -> None:
    """Each revision upgrades, downgrades and upgrades again over existing rows.

    New migrations join this walk by themselves; a downgrade that cannot run on
    one of the databases, or loses the rows, fails here.
    """
    engine = make_engine(empty_db_url)
    first, *later = _revisions()
    alembic_to(engine, first)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO streamer (name, url, priority, enabled, platform, state,"
                " created_at, updated_at) VALUES ('Old', 'https://fake.tv/old',"
                " 'normal', TRUE, 'faketv', 'NOT_LIVE', :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO stream_session (streamer_id, title, start_time,"
                " total_size_bytes) VALUES (1, 't', :now, 0)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                'INSERT INTO segment (session_id, "index", file_path, size_bytes,'
                " duration_secs, created_at, completed_at) VALUES (1, 0, '/r/0.ts',"
                " 10, 1.0, :now, :now)"
            ),
            {"now": now},
        )
    previous = first
    for revision in later:
        alembic_to(engine, revision)
        alembic_to(engine, previous, "downgrade")
        alembic_to(engine, revision)
        assert _names(engine) == ["Old"], f"rows lost at {revision}"
        previous = revision

    # at the head, the rows are the app's: it adds one beside them
    with Session(engine) as db:
        crud.create_streamer(db, Streamer(name="New", url="u", platform="faketv"))
        assert crud_sessions.get_segment(db, 1, 0) is not None
    for revision in reversed([first, *later][:-1]):
        alembic_to(engine, revision, "downgrade")
        assert _names(engine) == ["Old", "New"], f"rows lost at {revision}"
    engine.dispose()


def test_the_migrated_schema_is_the_models(db_url: str) -> None:
    """Migrations create what the tables declare: columns, types, indexes."""
    engine = make_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        # server defaults are not compared: alembic cannot compare JSON ones on
        # Postgres (json has no equality operator)
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()

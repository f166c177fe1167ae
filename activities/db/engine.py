"""Database engine construction and schema migrations (alembic, run in-process)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def default_database_url(data_dir: Path) -> str:
    """The SQLite database of the embedded stack, inside the data directory."""
    return f"sqlite:///{data_dir.resolve() / 'srec.db'}"


def make_engine(url: str) -> sa.Engine:
    """Create an engine; SQLite gets WAL mode, a busy timeout and foreign keys.

    Args:
        url: SQLAlchemy database URL (`sqlite:///…` or `postgresql+psycopg://…`).

    Returns:
        The engine, shared by the whole process.
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the API read while the worker writes segment progress
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


# Any constant works: it names the lock all srec processes take while migrating.
_PG_MIGRATION_LOCK = 0x5245_4300


def migrate(engine: sa.Engine) -> None:
    """Bring the schema up to the newest migration (idempotent).

    The API and the worker both migrate at start-up; a lock (a file lock beside a
    SQLite database, an advisory lock on Postgres) makes the second one wait and
    then find nothing to do.

    Args:
        engine: the engine whose database to migrate.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with contextlib.ExitStack() as stack:
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            lock = stack.enter_context(Path(f"{database}.migrate-lock").open("a"))
            fcntl.flock(lock, fcntl.LOCK_EX)
        conn = stack.enter_context(engine.begin())
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

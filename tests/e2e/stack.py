"""The srec stack in parts for end-to-end tests: a Temporal dev server, the worker
and the API as real `srec` processes, and an authenticated API client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from pathlib import Path

ADMIN_PASSWORD = "e2e-admin-password"
# the API process answers within this even on a loaded 2-core machine (imports and
# migrations took 27 s at a load average of 12; a bound for a failure, not a delay)
API_START_SECS = 120.0

# the settings of an end-to-end stack; they seed the configuration's global level
# (the first process to start)
FAST_SETTINGS = {
    "SREC_POLL_INTERVAL_SECS": "1",
    "SREC_OFFLINE_CHECK_COUNT": "1",
    "SREC_OFFLINE_CHECK_DELAY_SECS": "3",
    "SREC_MAX_SEGMENT_DURATION_SECS": "2",
    "SREC_GRACEFUL_SHUTDOWN_SECS": "10",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll `check()` until it returns something truthy, in real time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (httpx.HTTPError, OSError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Stack:
    """`srec worker` and `srec api` processes sharing one data dir and Temporal."""

    data_dir: Path
    temporal_address: str
    settings: dict[str, str] = field(default_factory=dict)
    api_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SREC_DATA_DIR": str(self.data_dir),
            "SREC_TEMPORAL_ADDRESS": self.temporal_address,
            "SREC_ADMIN_PASSWORD": ADMIN_PASSWORD,
            **self.settings,
        }

    def start(self, part: str, command: str | None = None, **env: str) -> None:
        """Start `srec <command>` (default: `part`) as `part`, with more `env`.

        Several workers of one stack are parts of their own names, started with
        command "worker" (their log is `<part>.log`).
        """
        command = command or part
        argv = [sys.executable, "-m", "worker.cli", command]
        if command == "api":
            argv += ["--api-port", str(self.api_port)]
        log = (self.data_dir / f"{part}.log").open("ab")
        self.procs[part] = subprocess.Popen(
            argv,
            env=self.env() | env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def kill(self, part: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(part)
        os.killpg(proc.pid, sig)
        proc.wait(30)

    def freeze(self, part: str) -> None:
        """SIGSTOP the part's process group: what it wrote stays as it is."""
        os.killpg(self.procs[part].pid, signal.SIGSTOP)

    def thaw(self, part: str) -> None:
        os.killpg(self.procs[part].pid, signal.SIGCONT)

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        for part in list(self.procs):
            proc = self.procs[part]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                os.killpg(proc.pid, signal.SIGCONT)  # a frozen part must hear it
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            del self.procs[part]

    def log(self, part: str) -> str:
        return (self.data_dir / f"{part}.log").read_text(errors="replace")

    def api(self) -> httpx.Client:
        """An API client logged in as admin (waits for the API to answer)."""
        base = f"http://127.0.0.1:{self.api_port}"
        wait_until(
            lambda: httpx.get(f"{base}/api/health/live").status_code == 200,
            API_START_SECS,
            "the API to start",
        )
        tokens = httpx.post(
            f"{base}/api/auth/login",
            json={"username": "admin", "password": ADMIN_PASSWORD},
        ).json()
        client = httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=10,
        )
        self.clients.append(client)
        return client

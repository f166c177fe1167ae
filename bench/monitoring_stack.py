"""The stack the monitoring benchmarks measure, started one way for both.

`bench.monitoring` (one worker, intervals in turn) and `bench.scaleout` (1, 2, 4
workers) stand up the same thing: the fake HLS channels of `bench.fake_hls`, the
Temporal dev server, the app DB, one worker and the API as real processes; then
`--streamers` generic streamers created through the API while a prober times the
API. `started` does that and stops it all at its end; the benchmarks then restart
workers (`Monitored.restart_workers`) and measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import httpx
import sqlalchemy as sa

from activities.contracts import (
    SEARCH_ATTRIBUTE_STATE,
    LiveOutcome,
    StreamerState,
    streamer_workflow_id,
)
from activities.db import make_engine
from bench.receiver import QUERY_DETECTIONS, Detections
from bench.stack import Stack, free_port, start_process, stop_process, wait_for_port
from workflows.client import connect

if TYPE_CHECKING:
    import subprocess
    from collections.abc import AsyncIterator
    from pathlib import Path

log = logging.getLogger("bench.monitoring")

PASSWORD = "bench-password-1234"
# `--until detected`: the real worker with `bench.receiver.DetectionReceiver`
STUB_WORKER = [sys.executable, "-m", "bench.monitoring_worker"]
REAL_WORKER = [sys.executable, "-m", "worker.cli", "worker"]


@dataclass
class Flip:
    channel: int
    at: float  # wall clock (time.time())


@dataclass
class Probe:
    latencies: list[float] = field(default_factory=list)
    failures: int = 0


class Api:
    """The API as a user drives it."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=60.0)

    async def login(self) -> None:
        response = await self.http.post(
            "/api/auth/login", json={"username": "admin", "password": PASSWORD}
        )
        response.raise_for_status()
        token = response.json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    async def create(self, name: str, url: str) -> int:
        response = await self.http.post(
            "/api/streamers", json={"name": name, "url": url}
        )
        if response.status_code == 401:
            await self.login()
            return await self.create(name, url)
        response.raise_for_status()
        streamer_id: int = response.json()["id"]
        return streamer_id

    async def patch_global(self, fields: dict[str, object]) -> None:
        """Change the global configuration level, as a user does."""
        response = await self.http.patch("/api/config/global", json=fields)
        if response.status_code == 401:
            await self.login()
            return await self.patch_global(fields)
        response.raise_for_status()
        return None

    async def probe(self, probe: Probe, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                response = await self.http.get("/api/streamers", params={"limit": 1})
                response.raise_for_status()
                probe.latencies.append(time.perf_counter() - started)
            except httpx.HTTPError:
                probe.failures += 1
            await asyncio.sleep(1.0)


async def create_all(
    api: Api, urls: list[str], concurrency: int
) -> tuple[list[int], float, Probe]:
    """Create one streamer per URL; return their ids, the wall time and the probe."""
    ids = [0] * len(urls)
    todo = iter(range(len(urls)))
    probe, stop = Probe(), asyncio.Event()

    async def creator() -> None:
        for n in todo:
            ids[n] = await api.create(f"bench-{n:05d}", urls[n])
            if n and n % 1000 == 0:
                log.info("created %d streamers", n)

    prober = asyncio.create_task(api.probe(probe, stop))
    started = time.monotonic()
    await asyncio.gather(*(creator() for _ in range(concurrency)))
    secs = time.monotonic() - started
    stop.set()
    await prober
    return ids, secs, probe


async def settled(address: str, streamers: int, limit: float = 1800.0) -> float:
    """Wait until every streamer's workflow has run its first tasks (its state is
    in the Temporal UI's `SrecState`); return how long that took.

    Creating streamers faster than the worker starts their workflows leaves a
    backlog that a window after a fixed warm-up would measure instead of the
    steady state.
    """
    client = await connect(address)
    states = ", ".join(f'"{s.value}"' for s in StreamerState)
    query = (
        'WorkflowType = "StreamerWorkflow" AND ExecutionStatus = "Running" '
        f"AND {SEARCH_ATTRIBUTE_STATE} IN ({states})"
    )
    started = time.monotonic()
    while time.monotonic() - started < limit:
        count = (await client.count_workflows(query)).count
        if count >= streamers:
            break
        await asyncio.sleep(5.0)
    else:
        log.warning("not every workflow settled within %.0f s", limit)
    return time.monotonic() - started


async def detected_latencies(
    address: str, flips: list[Flip], ids: list[int]
) -> list[float | None]:
    """Flip → first `detected(live)` the receiver saw after it (None: never)."""
    client = await connect(address)
    found: list[float | None] = []
    for flip in flips:
        handle = client.get_workflow_handle(streamer_workflow_id(ids[flip.channel]))
        got = await handle.query(QUERY_DETECTIONS, result_type=Detections)
        times = [
            d.received_at.timestamp()
            for d in got.items
            if d.outcome is LiveOutcome.LIVE
            and d.received_at.timestamp() >= flip.at - 1
        ]
        found.append(min(times) - flip.at if times else None)
    return found


def session_latencies(
    db_url: str, flips: list[Flip], ids: list[int]
) -> list[float | None]:
    """Flip → the first session opened after it (None: none)."""
    engine = make_engine(db_url)
    found: list[float | None] = []
    with engine.connect() as conn:
        for flip in flips:
            rows = conn.execute(
                sa.text(
                    "SELECT start_time FROM stream_session WHERE streamer_id = :sid"
                ),
                {"sid": ids[flip.channel]},
            ).all()
            times = [_stamp(r[0]) for r in rows]
            after = [t for t in times if t >= flip.at - 1]
            found.append(min(after) - flip.at if after else None)
    engine.dispose()
    return found


def _stamp(value: object) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


@dataclass
class Monitored:
    """A started monitoring stack with its streamers created.

    `stub`: the workers are `bench.monitoring_worker` and latency is flip →
    `detected` received; else the real `srec worker` and flip → session opened.
    """

    stack: Stack
    fake_port: int
    api: subprocess.Popen[bytes]
    stub: bool
    ids: list[int]
    create_secs: float
    probe: Probe
    client: Api
    # creation's end → every workflow past its first tasks (`settled`)
    settle_secs: float = 0.0

    @property
    def worker_argv(self) -> list[str]:
        return STUB_WORKER if self.stub else REAL_WORKER

    def restart_workers(self, settings: dict[str, str], count: int = 1) -> list[int]:
        """Stop the running workers, start `count` with `settings`: their pids."""
        for proc in self.stack.workers:
            stop_process(proc)
        self.stack.workers.clear()
        return [
            self.stack.start_worker(settings, self.worker_argv) for _ in range(count)
        ]

    def pids(self, workers: list[int], *, numbered: bool = False) -> dict[str, int]:
        """The measured processes by name: dev server, API and `workers` ("worker",
        or "worker 0", "worker 1", … when `numbered`)."""
        assert self.stack.temporal is not None
        named = {"dev server": self.stack.temporal.pid, "api": self.api.pid}
        if not numbered and len(workers) == 1:
            return named | {"worker": workers[0]}
        return named | {f"worker {n}": pid for n, pid in enumerate(workers)}

    async def latency(self, flips: list[Flip]) -> list[float | None]:
        if self.stub:
            return await detected_latencies(self.stack.address, flips, self.ids)
        return session_latencies(self.stack.db_url, flips, self.ids)


@contextlib.asynccontextmanager
async def started(
    data_dir: Path,
    *,
    streamers: int,
    worker_settings: dict[str, str],
    stub: bool,
    create_concurrency: int,
) -> AsyncIterator[Monitored]:
    """Start the stack with one worker, create `streamers`; stop it all at the end.

    Args:
        data_dir: where the databases and every process's log go.
        streamers: how many generic streamers (and fake channels) to create.
        worker_settings: the first worker's `SREC_*` environment.
        stub: run `bench.monitoring_worker` rather than `srec worker`.
        create_concurrency: POSTs in flight while creating the streamers.
    """
    stack = Stack(data_dir)
    fake_port, api_port = free_port(), free_port()
    fake = start_process(
        [
            *(sys.executable, "-m", "bench.fake_hls", "--port", str(fake_port)),
            *("--channels", str(streamers), "--target-secs", "2"),
        ],
        dict(os.environ),
        data_dir / "fake.log",
    )
    api_proc = None
    try:
        stack.start_temporal()
        stack.instance_id()  # migrates the app DB before worker and API start
        stack.start_worker(worker_settings, STUB_WORKER if stub else REAL_WORKER)
        env = {
            **os.environ,
            "SREC_DATA_DIR": str(data_dir),
            "SREC_TEMPORAL_ADDRESS": stack.address,
            "SREC_ADMIN_PASSWORD": PASSWORD,
            "SREC_LOG_LEVEL": "WARNING",
        }
        api_argv = [sys.executable, "-m", "worker.cli", "api"]
        api_argv += ["--api-port", str(api_port)]
        api_proc = start_process(api_argv, env, data_dir / "api.log")
        wait_for_port(fake_port, 30)
        wait_for_port(api_port, 60)
        api = Api(f"http://127.0.0.1:{api_port}")
        await api.login()
        urls = [f"http://127.0.0.1:{fake_port}/live/{n}.m3u8" for n in range(streamers)]
        log.info("creating %d streamers through the API", streamers)
        ids, create_secs, probe = await create_all(api, urls, create_concurrency)
        settle_secs = 0.0 if stub else await settled(stack.address, streamers)
        log.info(
            "created in %.0f s, every workflow settled %.0f s later",
            create_secs,
            settle_secs,
        )
        yield Monitored(
            stack, fake_port, api_proc, stub, ids, create_secs, probe, api, settle_secs
        )
        await api.http.aclose()
    finally:
        if api_proc is not None:
            stop_process(api_proc)
        stack.stop()
        stop_process(fake)

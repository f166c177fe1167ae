"""Monitoring many offline streamers: CPU, memory and detection latency (issue 10).

The embedded stack as `srec up` runs it, each part a real process: the Temporal
dev server (SQLite file), one worker, the API. `--streamers` generic HLS streamers
on the fake channels of `bench.fake_hls` (a child process) are created through the
API, `--create-concurrency` POSTs at a time, while a prober times
`GET /api/streamers?limit=1` every second (is the stack responsive meanwhile?).
After `--warmup`, `--secs` are measured: the CPU of dev server + worker + API
(their process trees, from /proc), their peak RSS (VmHWM), and the detection
latency of the channels flipped live meanwhile (every `--flip-every` seconds a
`--flip-fraction` of the offline channels go live for `--live-secs`; no flip in
the last interval + 20 s, so every flip can be seen). `--intervals 60,30` measures the
same streamers at each interval in turn, restarting the worker in between (the
pollers read the interval from its settings; today's workflows keep the interval
they loaded, so measure `--design today` one interval per run).

Designs:

* `--design poller` (default): `SREC_POLL_SHARDS` shard pollers. Until the streamer
  workflow waits on the poller, the worker is `bench.monitoring_worker` (the real
  worker with `bench.receiver.DetectionReceiver` as the streamer workflow) and the
  latency is flip → `detected` received (`--until detected`). With
  `--until session` it is the real `srec worker` and flip → session opened: the
  measurement once the rewrite lands.
* `--design today`: no pollers (`SREC_POLL_SHARDS=0`): each streamer workflow
  checks itself (an activity and a timer per check); latency is flip → session
  opened. Live channels are then recorded (their segments are null packets).

    .venv/bin/python -m bench.monitoring --streamers 10000 --intervals 60,30
    .venv/bin/python -m bench.monitoring --design today --streamers 1000 --intervals 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import sqlalchemy as sa

from activities.contracts import LiveOutcome, streamer_workflow_id
from activities.db import make_engine
from bench.checks import percentile
from bench.measure import machine_busy, status_kib, tree_cpu_secs
from bench.receiver import QUERY_DETECTIONS, Detections
from bench.stack import Stack, free_port, start_process, stop_process, wait_for_port
from workflows.client import connect

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger("bench.monitoring")

PASSWORD = "bench-password-1234"


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


async def flip_loop(
    control: httpx.AsyncClient,
    args: argparse.Namespace,
    stop_at: float,
    used: set[int],
) -> list[Flip]:
    """Flip channels live and back offline until `stop_at` (time.monotonic()).

    A channel flips once per run (`used`): one flipped back live before the
    poller saw it offline would, rightly, be no news to it.
    """
    rng = random.Random(len(used))
    live: dict[int, float] = {}
    flips: list[Flip] = []
    count = max(1, round(args.streamers * args.flip_fraction))
    while time.monotonic() < stop_at:
        now = time.time()
        ending = [n for n, at in live.items() if now - at >= args.live_secs]
        if ending:
            await control.get("/_control/offline", params={"ids": _ids(ending)})
            for n in ending:
                del live[n]
        free = [n for n in range(args.streamers) if n not in used]
        starting = rng.sample(free, min(count, len(free)))
        used.update(starting)
        response = await control.get("/_control/live", params={"ids": _ids(starting)})
        at = float(response.json()["at"])
        for n in starting:
            live[n] = at
            flips.append(Flip(n, at))
        await asyncio.sleep(args.flip_every)
    return flips


def _ids(channels: Iterable[int]) -> str:
    return ",".join(map(str, channels))


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


def processes(stack: Stack, worker: int, api: int) -> dict[str, int]:
    assert stack.temporal is not None
    return {"dev server": stack.temporal.pid, "worker": worker, "api": api}


async def measure(
    args: argparse.Namespace,
    interval: float,
    pids: dict[str, int],
    fake_port: int,
    latency: Callable[[list[Flip]], Awaitable[list[float | None]]],
    used: set[int],
) -> dict[str, object]:
    """One measured window at `interval`: CPU, peak RSS, detection latency."""
    cpu0 = {name: tree_cpu_secs(pid, include_root=True) for name, pid in pids.items()}
    busy0 = machine_busy()
    started = time.monotonic()
    control = httpx.AsyncClient(base_url=f"http://127.0.0.1:{fake_port}")
    requests0 = (await control.get("/_control/stats")).json()["playlist_requests"]
    flips = await flip_loop(control, args, started + args.secs - interval - 20, used)
    await asyncio.sleep(max(0.0, started + args.secs - time.monotonic()))
    wall = time.monotonic() - started
    cpu1 = {name: tree_cpu_secs(pid, include_root=True) for name, pid in pids.items()}
    busy1 = machine_busy()
    rss = {name: status_kib(pid, "VmHWM") / 1024 for name, pid in pids.items()}
    requests1 = (await control.get("/_control/stats")).json()["playlist_requests"]
    # every flipped channel back offline before the next window
    await control.get("/_control/offline", params={"ids": _ids(range(args.streamers))})
    await control.aclose()
    latencies = await latency(flips)
    seen = sorted(x for x in latencies if x is not None)
    cores = {name: (cpu1[name] - cpu0[name]) / wall for name in pids}
    return {
        "interval": interval,
        "measured_secs": round(wall),
        "cores": {k: round(v, 3) for k, v in cores.items()},
        "cores_total": round(sum(cores.values()), 3),
        "machine_busy_cores": round(
            (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]) * (os.cpu_count() or 1), 2
        ),
        "peak_rss_mb": {k: round(v) for k, v in rss.items()},
        "playlist_requests_per_sec": round((requests1 - requests0) / wall, 1),
        "flips": len(flips),
        "detected": len(seen),
        "latency_p50": round(percentile(seen, 0.5), 1),
        "latency_p99": round(percentile(seen, 0.99), 1),
        "latency_max": round(seen[-1], 1) if seen else None,
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="srec-bench-monitor-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(data_dir)
    fake_port, api_port = free_port(), free_port()
    fake = start_process(
        [
            *(sys.executable, "-m", "bench.fake_hls", "--port", str(fake_port)),
            *("--channels", str(args.streamers), "--target-secs", "2"),
        ],
        dict(os.environ),
        data_dir / "fake.log",
    )
    api_proc = None
    poller = args.design == "poller"
    stub = poller and args.until == "detected"
    worker_argv = [sys.executable, "-m"]
    worker_argv += ["bench.monitoring_worker"] if stub else ["worker.cli", "worker"]

    def worker_settings(interval: float) -> dict[str, str]:
        return {
            "SREC_POLL_INTERVAL_SECS": str(interval),
            "SREC_POLL_SHARDS": str(args.shards if poller else 0),
            "SREC_LOG_LEVEL": "WARNING",
        }

    try:
        stack.start_temporal()
        stack.instance_id()  # migrates the app DB before worker and API start
        worker = stack.start_worker(worker_settings(args.intervals[0]), worker_argv)
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
        urls = [
            f"http://127.0.0.1:{fake_port}/live/{n}.m3u8" for n in range(args.streamers)
        ]
        log.info("creating %d streamers through the API", args.streamers)
        ids, create_secs, probe = await create_all(api, urls, args.create_concurrency)

        async def latency(flips: list[Flip]) -> list[float | None]:
            if stub:
                return await detected_latencies(stack.address, flips, ids)
            return session_latencies(stack.db_url, flips, ids)

        windows = []
        used: set[int] = set()
        for n, interval in enumerate(args.intervals):
            if n:
                # the pollers read the interval from the worker's settings
                stop_process(stack.workers[-1])
                worker = stack.start_worker(worker_settings(interval), worker_argv)
            warmup = args.warmup if args.warmup is not None else interval + 30
            log.info("interval %.0f s: warming up %.0f s", interval, warmup)
            await asyncio.sleep(warmup)
            pids = processes(stack, worker, api_proc.pid)
            windows.append(
                await measure(args, interval, pids, fake_port, latency, used)
            )
            log.info("%s", json.dumps(windows[-1]))
        return {
            "design": args.design,
            "until": "detected" if stub else "session",
            "streamers": args.streamers,
            "shards": args.shards if poller else 0,
            "create_secs": round(create_secs, 1),
            "create_per_sec": round(args.streamers / create_secs, 1),
            "probe_p50_ms": round(percentile(sorted(probe.latencies), 0.5) * 1000),
            "probe_p99_ms": round(percentile(sorted(probe.latencies), 0.99) * 1000),
            "probe_max_ms": round(max(probe.latencies, default=0) * 1000),
            "probe_failures": probe.failures,
            "windows": windows,
            "data_dir": str(data_dir),
        }
    finally:
        if api_proc is not None:
            stop_process(api_proc)
        stack.stop()
        stop_process(fake)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", choices=["poller", "today"], default="poller")
    parser.add_argument("--until", choices=["detected", "session"], default="detected")
    parser.add_argument("--streamers", type=int, default=10_000)
    parser.add_argument(
        "--intervals",
        type=lambda text: [float(x) for x in text.split(",")],
        default=[60.0, 30.0],
        help="poll intervals to measure in turn, on the same streamers",
    )
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--secs", type=float, default=300.0)
    parser.add_argument("--warmup", type=float, default=None)
    parser.add_argument("--flip-every", type=float, default=15.0)
    parser.add_argument("--flip-fraction", type=float, default=0.001)
    parser.add_argument("--live-secs", type=float, default=90.0)
    parser.add_argument("--create-concurrency", type=int, default=8)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    if args.design == "today":
        args.until = "session"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

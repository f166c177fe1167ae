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
same streamers at each interval in turn: the global level's `poll_interval_secs` is
changed through the API in between, as a user would (the pollers re-read it; the
workflows waiting for detection are not told, so measure `--design today` one
interval per run: its workflows check on the interval they loaded).

Designs:

* `--design poller` (default): `SREC_POLL_SHARDS` shard pollers. With
  `--until session` the worker is the real `srec worker` (its streamer workflows
  wait on the pollers' signal) and the latency is flip → session opened: the figure
  issue 10 asks for. `--until detected` (the default) isolates detection: the worker
  is `bench.monitoring_worker` (the real worker with
  `bench.receiver.DetectionReceiver` as the streamer workflow) and the latency is
  flip → `detected` received.
* `--design today`: no pollers (`SREC_POLL_SHARDS=0`): each streamer workflow
  checks itself (an activity and a timer per check); latency is flip → session
  opened. Live channels are then recorded (their segments are null packets).

    .venv/bin/python -m bench.monitoring --streamers 10000 --intervals 60,30
    .venv/bin/python -m bench.monitoring --streamers 10000 --until session
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
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from bench import monitoring_stack
from bench.checks import percentile
from bench.measure import machine_busy, status_kib, tree_cpu_secs
from bench.monitoring_stack import Flip

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger("bench.monitoring")


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
            await offline(control, ending)
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


async def offline(control: httpx.AsyncClient, channels: list[int]) -> None:
    """Flip `channels` offline, a thousand per request (a URL's length is bounded)."""
    for start in range(0, len(channels), 1000):
        chunk = channels[start : start + 1000]
        await control.get("/_control/offline", params={"ids": _ids(chunk)})


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
    await offline(control, sorted(used))
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
    poller = args.design == "poller"
    stub = poller and args.until == "detected"

    def worker_settings(interval: float) -> dict[str, str]:
        return {
            "SREC_POLL_INTERVAL_SECS": str(interval),
            "SREC_POLL_SHARDS": str(args.shards if poller else 0),
            "SREC_LOG_LEVEL": "WARNING",
        }

    async with monitoring_stack.started(
        data_dir,
        streamers=args.streamers,
        worker_settings=worker_settings(args.intervals[0]),
        stub=stub,
        create_concurrency=args.create_concurrency,
    ) as stack:
        windows = []
        used: set[int] = set()
        workers = [proc.pid for proc in stack.stack.workers]
        for n, interval in enumerate(args.intervals):
            warmup = args.warmup if args.warmup is not None else interval + 30
            if n:
                # as a user changes it: the global level (the worker's environment
                # only seeds it on the first start); the pollers re-read their
                # rosters, and the workflows not waiting for detection are told
                await stack.client.patch_global({"poll_interval_secs": interval})
            log.info("interval %.0f s: warming up %.0f s", interval, warmup)
            await asyncio.sleep(warmup)
            pids = stack.pids(workers)
            windows.append(
                await measure(
                    args, interval, pids, stack.fake_port, stack.latency, used
                )
            )
            log.info("%s", json.dumps(windows[-1]))
        probe = stack.probe
        return {
            "design": args.design,
            "until": "detected" if stub else "session",
            "streamers": args.streamers,
            "shards": args.shards if poller else 0,
            "create_secs": round(stack.create_secs, 1),
            "create_per_sec": round(args.streamers / stack.create_secs, 1),
            "settle_secs": round(stack.settle_secs),
            "probe_p50_ms": round(percentile(sorted(probe.latencies), 0.5) * 1000),
            "probe_p99_ms": round(percentile(sorted(probe.latencies), 0.99) * 1000),
            "probe_max_ms": round(max(probe.latencies, default=0) * 1000),
            "probe_failures": probe.failures,
            "windows": windows,
            "data_dir": str(data_dir),
        }


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

"""Monitoring cost with 1, 2 and 4 worker processes (issue 14).

The monitoring benchmark's stack and measurement (`bench.monitoring`): the Temporal
dev server, the API, `--streamers` generic HLS streamers on `bench.fake_hls`, and
channels flipped live during each window. What changes is the number of worker
processes polling the same queues: for each count in `--workers` the previous
workers stop, that many start, and after `--warmup` one window of `--secs` is
measured. The shard pollers (`--shards`) spread over the workers, so total CPU
(dev server + every worker + API) and detection p99 should stay flat as workers
are added: a flat line says monitoring scales out by adding machines, a rising one
says what the coordination costs.

    .venv/bin/python -m bench.scaleout --streamers 10000 --workers 1,2,4
    .venv/bin/python -m bench.scaleout --streamers 300 --workers 1,2 --secs 60 \\
        --interval 10 --warmup 15          # a quick check that it runs

Run it on a quiet machine: other load inflates every figure. It prints one JSON
document with a window per worker count, and `cost_per_10k` (cores per 10,000
streamers) beside each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from bench.checks import percentile
from bench.monitoring import (
    PASSWORD,
    Api,
    Flip,
    create_all,
    detected_latencies,
    measure,
    session_latencies,
)
from bench.stack import Stack, free_port, start_process, stop_process, wait_for_port

log = logging.getLogger("bench.scaleout")


def _counts(text: str) -> list[int]:
    counts = [int(x) for x in text.split(",") if x.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"worker counts must be ≥ 1: {text!r}")
    return counts


async def run(args: argparse.Namespace) -> dict[str, object]:
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="srec-bench-scaleout-"))
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
    stub = args.until == "detected"
    worker_argv = [sys.executable, "-m"]
    worker_argv += ["bench.monitoring_worker"] if stub else ["worker.cli", "worker"]
    settings = {
        "SREC_POLL_INTERVAL_SECS": str(args.interval),
        "SREC_POLL_SHARDS": str(args.shards),
        "SREC_LOG_LEVEL": "WARNING",
    }
    api_proc = None
    try:
        stack.start_temporal()
        stack.instance_id()  # migrates the app DB before workers and API start
        env = {
            **os.environ,
            "SREC_DATA_DIR": str(data_dir),
            "SREC_TEMPORAL_ADDRESS": stack.address,
            "SREC_ADMIN_PASSWORD": PASSWORD,
            "SREC_LOG_LEVEL": "WARNING",
        }
        api_argv = [sys.executable, "-m", "worker.cli", "api"]
        api_proc = start_process(
            [*api_argv, "--api-port", str(api_port)], env, data_dir / "api.log"
        )
        # one worker while the streamers are created (their workflows start)
        stack.start_worker(settings, worker_argv)
        wait_for_port(fake_port, 30)
        wait_for_port(api_port, 60)
        api = Api(f"http://127.0.0.1:{api_port}")
        await api.login()
        urls = [
            f"http://127.0.0.1:{fake_port}/live/{n}.m3u8" for n in range(args.streamers)
        ]
        log.info("creating %d streamers through the API", args.streamers)
        ids, create_secs, _ = await create_all(api, urls, args.create_concurrency)

        async def latency(flips: list[Flip]) -> list[float | None]:
            if stub:
                return await detected_latencies(stack.address, flips, ids)
            return session_latencies(stack.db_url, flips, ids)

        windows = []
        used: set[int] = set()
        for count in args.workers:
            for proc in stack.workers:
                stop_process(proc)
            stack.workers.clear()
            pids = [stack.start_worker(settings, worker_argv) for _ in range(count)]
            log.info("%d worker(s): warming up %.0f s", count, args.warmup)
            await asyncio.sleep(args.warmup)
            assert stack.temporal is not None
            processes = {"dev server": stack.temporal.pid, "api": api_proc.pid}
            processes |= {f"worker {n}": pid for n, pid in enumerate(pids)}
            window = await measure(
                args, args.interval, processes, fake_port, latency, used
            )
            cores = window["cores"]
            assert isinstance(cores, dict)
            workers_cores = sum(v for k, v in cores.items() if k.startswith("worker"))
            total = window["cores_total"]
            assert isinstance(total, float)
            window |= {
                "workers": count,
                "workers_cores": round(workers_cores, 3),
                "cost_per_10k": round(total * 10_000 / args.streamers, 3),
            }
            windows.append(window)
            log.info("%s", json.dumps(window))
        p99s = [w["latency_p99"] for w in windows]
        return {
            "streamers": args.streamers,
            "shards": args.shards,
            "interval": args.interval,
            "until": args.until,
            "create_secs": round(create_secs, 1),
            "windows": windows,
            # flat is the goal: the spread across worker counts
            "cores_total_spread": round(
                max(float(str(w["cores_total"])) for w in windows)
                - min(float(str(w["cores_total"])) for w in windows),
                3,
            ),
            "latency_p99_median": percentile(sorted(float(str(p)) for p in p99s), 0.5),
            "data_dir": str(data_dir),
        }
    finally:
        if api_proc is not None:
            stop_process(api_proc)
        stack.stop()
        stop_process(fake)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=_counts, default=[1, 2, 4])
    parser.add_argument("--streamers", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--until", choices=["detected", "session"], default="detected")
    parser.add_argument("--secs", type=float, default=300.0)
    parser.add_argument("--warmup", type=float, default=90.0)
    parser.add_argument("--flip-every", type=float, default=15.0)
    parser.add_argument("--flip-fraction", type=float, default=0.001)
    parser.add_argument("--live-secs", type=float, default=90.0)
    parser.add_argument("--create-concurrency", type=int, default=8)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

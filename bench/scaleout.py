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
import sys
import tempfile
from pathlib import Path

from bench import monitoring_stack
from bench.checks import percentile
from bench.monitoring import measure

log = logging.getLogger("bench.scaleout")


def _counts(text: str) -> list[int]:
    counts = [int(x) for x in text.split(",") if x.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"worker counts must be ≥ 1: {text!r}")
    return counts


async def run(args: argparse.Namespace) -> dict[str, object]:
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="srec-bench-scaleout-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "SREC_POLL_INTERVAL_SECS": str(args.interval),
        "SREC_POLL_SHARDS": str(args.shards),
        "SREC_LOG_LEVEL": "WARNING",
    }
    # one worker while the streamers are created (their workflows start)
    async with monitoring_stack.started(
        data_dir,
        streamers=args.streamers,
        worker_settings=settings,
        stub=args.until == "detected",
        create_concurrency=args.create_concurrency,
    ) as stack:
        windows = []
        used: set[int] = set()
        for count in args.workers:
            workers = stack.restart_workers(settings, count)
            log.info("%d worker(s): warming up %.0f s", count, args.warmup)
            await asyncio.sleep(args.warmup)
            pids = stack.pids(workers, numbered=True)
            window = await measure(
                args, args.interval, pids, stack.fake_port, stack.latency, used
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
            "create_secs": round(stack.create_secs, 1),
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

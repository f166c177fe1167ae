"""StreamerWorkflow starts a session's pipeline waiter when the session closes.

On the time-skipping server with fake activities; a stand-in registered under the
waiter's type name records which session it was started for (the real waiter's
own tests: tests/workflows/test_triggers.py).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities import contracts as c
from activities.pipeline_contracts import PipelineSpec
from tests.workflows.fakes import FakeActivities
from tests.workflows.legacy_run import PreviousReleaseWorkflow
from tests.workflows.test_streamer import config, eventually, start, state_is
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from temporalio.client import WorkflowHandle
    from temporalio.testing import WorkflowEnvironment

PIPELINE = PipelineSpec.model_validate(
    {"steps": [{"id": "s", "processor": "fake-any", "depends_on": []}]}
)


@workflow.defn(name=c.SESSION_COMPLETE_WORKFLOW_TYPE, sandboxed=False)
class StandInWaiter:
    """Names the session it was started for (the parent decodes its result)."""

    @workflow.run
    async def run(self, inp: c.SessionCompleteInput) -> c.SessionCompleteResult:
        return c.SessionCompleteResult(reason=f"session {inp.session_id}")


@pytest.fixture
async def world(env: WorkflowEnvironment) -> AsyncIterator[FakeActivities]:
    fakes = FakeActivities(configs={1: config()})
    async with (
        Worker(
            env.client,
            task_queue=c.WORKFLOW_TASK_QUEUE,
            workflows=[StreamerWorkflow, StandInWaiter],
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


async def record_one_session(
    env: WorkflowEnvironment, world: FakeActivities
) -> tuple[WorkflowHandle[Any, Any], int]:
    """One session recorded and closed by the platform's word; its id."""
    world.live = True
    handle = await start(env, world)
    await eventually(lambda: len(world.records) == 1)
    world.live = False
    world.stream_end.set()
    await eventually(lambda: len(world.closed) == 1)
    await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))
    return handle, world.closed[0].session_id


async def test_a_session_pipeline_starts_its_waiter_when_the_session_closes(env, world):
    policy = config().policy.model_copy(update={"session_pipeline": PIPELINE})
    world.configs[1] = config().model_copy(update={"policy": policy})
    handle, session_id = await record_one_session(env, world)
    waiter = env.client.get_workflow_handle(
        c.session_complete_workflow_id(session_id),
        result_type=c.SessionCompleteResult,
    )
    assert (await waiter.result()).reason == f"session {session_id}"
    # the streamer goes on after its child ended
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_no_pipeline_starts_no_waiter(env, world):
    _, session_id = await record_one_session(env, world)
    waiter = env.client.get_workflow_handle(c.session_complete_workflow_id(session_id))
    with pytest.raises(RPCError):
        await waiter.describe()


async def test_a_v1_run_that_closes_its_session_starts_the_waiter(env, world):
    """A run of the previous release, recording when the worker was upgraded, closes
    its session on the frozen v1 code: the session's pipeline still starts.

    (`streamer_v1_session_pipeline.json`, recorded before this, replays without
    the child: `test_replay.py`.)
    """
    policy = config().policy.model_copy(update={"session_pipeline": PIPELINE})
    world.configs[1] = config().model_copy(update={"policy": policy})
    queue = f"v1-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=queue, workflows=[PreviousReleaseWorkflow, StandInWaiter]
    ):
        world.live = True
        handle = await env.client.start_workflow(
            PreviousReleaseWorkflow.run,
            c.StreamerWorkflowInput(streamer_id=1),
            id=f"streamer-1-{uuid.uuid4()}",
            task_queue=queue,
        )
        world.handles.append(handle)
        await eventually(lambda: len(world.records) == 1)
        world.live = False
        world.stream_end.set()
        await env.sleep(70)  # past the v1 grace window
        await eventually(lambda: len(world.closed) == 1)
        session_id = world.closed[0].session_id
        waiter = env.client.get_workflow_handle(
            c.session_complete_workflow_id(session_id),
            result_type=c.SessionCompleteResult,
        )
        assert (await waiter.result()).reason == f"session {session_id}"
        first = await env.client.get_workflow_handle(
            handle.id, run_id=handle.first_execution_run_id
        ).fetch_history()
        started = [
            e.start_child_workflow_execution_initiated_event_attributes.workflow_id
            for e in first.events
            if e.HasField("start_child_workflow_execution_initiated_event_attributes")
        ]
        assert started == [c.session_complete_workflow_id(session_id)]

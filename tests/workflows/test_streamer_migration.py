"""A streamer workflow started by the previous release (v1) moves onto the new code.

A worker of the previous release (`legacy_run.PreviousReleaseWorkflow`) starts the
run; the upgraded worker replays it on the frozen v1 code and, at its next wait
point past the recorded history, continues it as new: the new run is v2.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from activities import contracts as c
from tests.workflows.fakes import FakeActivities
from tests.workflows.legacy_run import PreviousReleaseWorkflow
from tests.workflows.test_streamer import config, eventually, state_is
from workflows.streamer import PATCH_V2, StreamerWorkflow


def _markers(events: list[object]) -> list[str]:
    found = []
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:  # type: ignore[attr-defined]
            details = event.marker_recorded_event_attributes.details  # type: ignore[attr-defined]
            found.append(details["patch_data"].payloads[0].data.decode())
    return found


async def test_a_v1_run_continues_as_new_onto_v2_at_its_next_wait(env):
    world = FakeActivities(configs={1: config()})
    queue = f"migrate-{uuid.uuid4()}"
    activities = Worker(
        env.client,
        task_queue=c.IO_TASK_QUEUE,
        activities=world.all(),
        max_heartbeat_throttle_interval=timedelta(milliseconds=200),
    )
    async with activities:
        async with Worker(
            env.client, task_queue=queue, workflows=[PreviousReleaseWorkflow]
        ):
            handle = await env.client.start_workflow(
                PreviousReleaseWorkflow.run,
                c.StreamerWorkflowInput(streamer_id=1),
                id=f"streamer-1-{uuid.uuid4()}",
                task_queue=queue,
            )
            await eventually(lambda: world.checks == 1)
            await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))
        # the upgrade: the same queue, served by today's code
        async with Worker(env.client, task_queue=queue, workflows=[StreamerWorkflow]):
            await env.sleep(31)  # the v1 run's poll timer fires
            latest = env.client.get_workflow_handle(handle.id)

            async def moved() -> bool:
                desc = await latest.describe()
                return desc.run_id != handle.first_execution_run_id

            # the timer's task waits out the old worker's sticky queue first
            await eventually(moved, within=90)
            await eventually(lambda: state_is(latest, c.StreamerState.NOT_LIVE))
            first = await handle.fetch_history()
            assert first.events[-1].event_type == (
                EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            )
            assert any("streamer-v2-migrate-" in m for m in _markers(first.events))
            assert world.checks == 1  # v1 did not check again before moving
            new_run = await latest.fetch_history()
            assert any(PATCH_V2 in m for m in _markers(list(new_run.events)))
            await eventually(lambda: world.checks == 2)  # v2 checks on its own
            await latest.terminate("test over")
            desc = await latest.describe()
            assert desc.status == WorkflowExecutionStatus.TERMINATED

"""A streamer workflow started by the previous release (v1) moves onto the new code.

A worker of the previous release (`legacy_run.PreviousReleaseWorkflow`) starts the
run; the upgraded worker replays it on the frozen v1 code and, at its next wait
point past the recorded history, continues it as new: the new run is v2.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from activities import contracts as c
from tests.workflows.fakes import FakeActivities
from tests.workflows.legacy_run import PreviousReleaseWorkflow
from tests.workflows.test_streamer import config, eventually, state_is
from workflows.streamer import PATCH_V2, StreamerWorkflow


def _markers(events: list[Any]) -> list[str]:
    """The text of every marker's details (a patch marker names its patch id)."""
    found = []
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            details = event.marker_recorded_event_attributes.details
            found.append(
                " ".join(p.data.decode() for v in details.values() for p in v.payloads)
            )
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
        # no cache, so no sticky queue: the timer's task goes to the shared queue
        # (the test server never times a sticky queue of a stopped worker out)
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[PreviousReleaseWorkflow],
            max_cached_workflows=0,
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
                return bool(desc.run_id != handle.first_execution_run_id)

            await eventually(moved)
            await eventually(lambda: state_is(latest, c.StreamerState.NOT_LIVE))
            first = await env.client.get_workflow_handle(
                handle.id, run_id=handle.first_execution_run_id
            ).fetch_history()
            assert first.events[-1].event_type == (
                EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            )
            assert any("streamer-v2-migrate-" in m for m in _markers(first.events))
            checks = [
                e
                for e in first.events
                if e.HasField("activity_task_scheduled_event_attributes")
                and e.activity_task_scheduled_event_attributes.activity_type.name
                == c.ACTIVITY_CHECK_LIVE
            ]
            assert len(checks) == 1  # v1 did not check again before moving
            new_run = await latest.fetch_history()
            assert any(PATCH_V2 in m for m in _markers(list(new_run.events)))
            await eventually(lambda: world.checks == 2)  # v2 checks on its own
            await latest.terminate("test over")
            desc = await latest.describe()
            assert desc.status == WorkflowExecutionStatus.TERMINATED

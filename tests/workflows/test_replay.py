"""Histories recorded before the platform contract grew still replay.

A live check's input gained `streamer_id` and `selection`, its result `outcome`
and the metadata fields. A history written by the earlier workflow holds the old
shapes: this test rewrites a fresh history's live-check payloads to them and
replays it with today's workflow.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from activities import contracts as c
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import config, eventually
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from temporalio.testing import WorkflowEnvironment

OLD_INPUT = {"url": "http://127.0.0.1:1/live.m3u8"}
OLD_RESULT = {"is_live": False, "title": "", "source": None}


async def test_history_with_the_old_live_check_shapes_replays(
    env: WorkflowEnvironment,
) -> None:
    world = FakeActivities(configs={1: config()})
    queue = f"replay-{uuid.uuid4()}"
    async with (
        Worker(env.client, task_queue=queue, workflows=[StreamerWorkflow]),
        Worker(env.client, task_queue=c.IO_TASK_QUEUE, activities=world.all()),
    ):
        handle = await env.client.start_workflow(
            StreamerWorkflow.run,
            c.StreamerWorkflowInput(streamer_id=1),
            id=f"replay-{uuid.uuid4()}",
            task_queue=queue,
        )
        await eventually(lambda: world.checks >= 1)
        await env.sleep(31)
        await eventually(lambda: world.checks >= 2)
        await handle.terminate("recorded enough")
    history = await handle.fetch_history()

    rewritten = 0
    scheduled: set[int] = set()
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            task = event.activity_task_scheduled_event_attributes
            if task.activity_type.name == c.ACTIVITY_CHECK_LIVE:
                scheduled.add(event.event_id)
                task.input.payloads[0].data = json.dumps(OLD_INPUT).encode()
                rewritten += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done = event.activity_task_completed_event_attributes
            if done.scheduled_event_id in scheduled:
                done.result.payloads[0].data = json.dumps(OLD_RESULT).encode()
                rewritten += 1
    assert rewritten >= 4

    replayer = Replayer(
        workflows=[StreamerWorkflow], data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history)

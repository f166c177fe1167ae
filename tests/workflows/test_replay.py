"""Histories recorded by earlier releases replay with today's workflow code.

Two kinds: histories recorded by an earlier release and kept under
`tests/resources/temporal/`, and a fresh history whose payloads are rewritten to
the shapes an earlier release wrote (the live check's input gained `streamer_id`
and `selection`, its result `outcome` and the metadata fields).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from activities import contracts as c
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import config, eventually
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from temporalio.testing import WorkflowEnvironment

HISTORIES = Path(__file__).parents[1] / "resources" / "temporal"
OLD_INPUT = {"url": "http://127.0.0.1:1/live.m3u8"}
OLD_RESULT = {"is_live": False, "title": "", "source": None}


async def test_a_run_from_before_instance_ids_replays() -> None:
    text = (HISTORIES / "streamer-before-instance-ids.json").read_text()
    history = WorkflowHistory.from_json("streamer-1", text)
    replayer = Replayer(
        workflows=[StreamerWorkflow], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None


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

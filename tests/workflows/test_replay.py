"""Histories recorded by earlier releases replay with today's workflow code.

Two kinds: every history kept in `tests/resources/histories/` (see its README:
each was recorded by the code of its time), and a fresh history whose payloads are
rewritten to the shapes an earlier release wrote (the live check's input gained
`streamer_id` and `selection`, its result `outcome` and the metadata fields). A
change that would break a running workflow fails here.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from activities import contracts as c
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import config, eventually
from workflows.pipeline import PipelineWorkflow
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from temporalio.testing import WorkflowEnvironment

HISTORIES = Path(__file__).parents[1] / "resources" / "histories"
RECORDED = sorted(p.name for p in HISTORIES.glob("*.json"))
OLD_INPUT = {"url": "http://127.0.0.1:1/live.m3u8"}
OLD_RESULT = {"is_live": False, "title": "", "source": None}


def _load(name: str) -> WorkflowHistory:
    text = (HISTORIES / name).read_text()
    return WorkflowHistory.from_json(f"streamer-1-{Path(name).stem}", json.loads(text))


def _activities(history: WorkflowHistory) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


def _replayer() -> Replayer:
    return Replayer(
        workflows=[StreamerWorkflow, PipelineWorkflow],
        data_converter=pydantic_data_converter,
    )


def test_histories_are_kept() -> None:
    assert len(RECORDED) >= 4


@pytest.mark.parametrize("name", RECORDED)
async def test_recorded_history_replays(name: str) -> None:
    result = await _replayer().replay_workflow(
        _load(name), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, result.replay_failure


def test_a_checked_session_saves_the_probe_events() -> None:
    with_probes = _load("streamer_session_probe.json")
    checked = _load("streamer_session_checked.json")
    assert _activities(with_probes).count(c.ACTIVITY_PROBE_SEGMENT) == 2
    assert _activities(checked).count(c.ACTIVITY_PROBE_SEGMENT) == 0
    assert c.ACTIVITY_RECORD_STREAM in _activities(checked)
    # per segment: scheduled, started, completed, and usually a workflow task
    assert len(with_probes.events) - len(checked.events) >= 2 * 3


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

    await _replayer().replay_workflow(history)

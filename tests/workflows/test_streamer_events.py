"""The streamer workflow's notification events (`workflows.streamer_notify`).

Time-skipping server and fake activities, as `test_streamer.py` (whose fixtures
these reuse). The fake `notify.record_event` keeps events by key, as the DB does,
and counts its calls: a transition scheduled twice shows as a call too many.
The workflow worker of `replaying` caches no workflow, so every workflow task
replays the whole history, as after a worker crash.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

from activities import contracts as c
from activities import events as e
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import (
    config,
    eventually,
    refusal,
    segments_closed,
    state_is,
    world,
)
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from temporalio.client import WorkflowHandle
    from temporalio.testing import WorkflowEnvironment

__all__ = ["world"]  # the fixture, imported for these tests

S = c.StreamerState


@pytest.fixture
async def replaying(env: WorkflowEnvironment) -> AsyncIterator[FakeActivities]:
    fakes = FakeActivities(configs={1: config()})
    fakes.configs[1].policy.offline_check_count = 1
    async with (
        Worker(
            env.client,
            task_queue=c.WORKFLOW_TASK_QUEUE,
            workflows=[StreamerWorkflow],
            max_cached_workflows=0,
        ),
        Worker(
            env.client,
            task_queue=c.IO_TASK_QUEUE,
            activities=fakes.all(),
            max_heartbeat_throttle_interval=timedelta(milliseconds=200),
        ),
    ):
        yield fakes


async def _start(env: WorkflowEnvironment, fakes: FakeActivities) -> Any:
    handle = await env.client.start_workflow(
        StreamerWorkflow.run,
        c.StreamerWorkflowInput(streamer_id=1),
        id=f"streamer-1-{uuid.uuid4()}",
        task_queue=c.WORKFLOW_TASK_QUEUE,
    )
    fakes.handles.append(handle)
    return handle


def _kinds(fakes: FakeActivities) -> list[str]:
    return fakes.event_types()


async def _scheduled_events(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]
) -> int:
    """`notify.record_event` activities scheduled over every run of the workflow."""
    count, run_id = 0, handle.first_execution_run_id
    while run_id:
        run = env.client.get_workflow_handle(handle.id, run_id=run_id)
        run_id = ""
        for event in (await run.fetch_history()).events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                task = event.activity_task_scheduled_event_attributes
                count += task.activity_type.name == e.ACTIVITY_RECORD_EVENT
            if event.HasField("workflow_execution_continued_as_new_event_attributes"):
                then = event.workflow_execution_continued_as_new_event_attributes
                run_id = then.new_execution_run_id
    return count


async def test_a_session_notifies_each_transition_once_through_replays(env, replaying):
    fakes = replaying
    fakes.live = True
    fakes.refusals = [refusal(c.ERROR_NO_RECORDING_SLOT, 1)]
    handle = await _start(env, fakes)
    # refused first (no slot): live but held back, then recorded
    await eventually(lambda: segments_closed(handle, 2))
    fakes.live = False  # the platform's word: the session ends at once
    fakes.stream_end.set()
    await eventually(lambda: len(fakes.closed) == 1)
    await eventually(lambda: state_is(handle, S.NOT_LIVE))
    await eventually(lambda: len(fakes.events) == 5)

    session = "session-101"
    assert list(fakes.events) == [
        f"{handle.id}/{k}"
        for k in (
            f"{session}/stream_online",
            f"{session}/recording-1/download_rejected",
            f"{session}/recording-2/download_started",
            f"{session}/recording-2/download_completed",
            f"{session}/stream_offline",
        )
    ]
    online = fakes.events[f"{handle.id}/{session}/stream_online"]
    assert (online.streamer_id, online.streamer_name, online.session_id) == (
        1,
        "alice",
        101,
    )
    assert online.summary == "alice is live: a title"
    assert online.subject == config().url
    # each scheduled once, whatever the replays: no call and no command too many
    assert fakes.event_calls == 5
    assert await _scheduled_events(env, handle) == 5


async def test_a_failed_recording_is_a_download_error(env, world):
    world.configs[1].policy.offline_check_count = 1
    world.live = True
    world.fail_record = "ffmpeg exited with 1"
    handle = await _start(env, world)
    await eventually(lambda: "download_error" in _kinds(world))
    error = next(v for v in world.events.values() if v.type == "download_error")
    assert "ffmpeg exited with 1" in error.detail
    assert "download_completed" not in _kinds(world)
    await eventually(lambda: state_is(handle, S.LIVE))  # the session goes on


async def test_the_write_gate_s_refusal_is_out_of_space_once(env, world):
    world.live = True
    gate = c.ERROR_OUTPUT_PATH_INACCESSIBLE
    world.refusals = [refusal(gate, 1), refusal(gate, 1)]
    handle = await _start(env, world)
    await eventually(lambda: state_is(handle, S.OUT_OF_SPACE))
    await eventually(lambda: len(world.records) == 3)
    await eventually(lambda: "download_started" in _kinds(world))
    # two refusals in a row are one occurrence (the two of one refusal are
    # scheduled together: either may be recorded first)
    assert sorted(_kinds(world)) == [
        "download_rejected",
        "download_started",
        "out_of_space",
        "stream_online",
    ]
    assert world.event_calls == 4


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        pytest.param(c.LiveOutcome.BANNED, "fatal_error", id="banned"),
        pytest.param(c.LiveOutcome.PRIVATE, "credential_invalid", id="private"),
    ],
)
async def test_a_fatal_answer_is_notified_once_while_held(
    env: WorkflowEnvironment,
    world: FakeActivities,
    outcome: c.LiveOutcome,
    kind: str,
) -> None:
    world.outcome = outcome
    handle = await _start(env, world)
    await eventually(lambda: len(world.events) == 1)
    await handle.signal(c.SIGNAL_CHECK_NOW)  # the same answer again: not news
    await eventually(lambda: world.checks == 2)
    await env.sleep(3600)
    assert _kinds(world) == [kind]
    (event,) = world.events.values()
    assert (
        event.summary
        == f"alice: {outcome.value}: the platform says so; held until you act"
    )


async def test_a_filter_holding_a_live_stream_is_a_download_rejected(env, world):
    world.configs[1].filters = [c.KeywordFilter(include=["chess"])]
    world.live = True
    handle = await _start(env, world)
    await eventually(lambda: state_is(handle, S.OUT_OF_SCHEDULE))
    await env.sleep(31)  # checked again on its interval: still held, no news
    await eventually(lambda: world.checks >= 2)
    assert _kinds(world) == ["download_rejected"]
    assert "chess" in next(iter(world.events.values())).detail

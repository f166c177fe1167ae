"""Record StreamerWorkflow histories for the replay tests (run by hand, not by pytest).

    .venv/bin/python -m tests.workflows.record_history SHAPE OUT.json

Runs the workflow of this checkout on the time-skipping test server with the fake
activities of `tests.workflows.fakes` into one of these shapes, and writes the
history of its first run as JSON (`WorkflowHistory.to_json`):

* `session` (the default): idle (NOT_LIVE), live, a recording that closes two
  segments, the stream's end, the grace window, the session's close and the
  continue-as-new that ends the run;
* `idle`: three NOT_LIVE checks, cut off waiting for the next one;
* `recording`: live, a session opened, two segments closed, cut off while the
  recording activity still runs (an upgrade mid-recording);
* `paused`: a NOT_LIVE check, then paused: cut off DISABLED, waiting for resume;
* `window`: a session whose stream drops unexplained (unreachable), returns inside
  the offline window (the same session records on), then ends for good (the
  platform says offline): closed at once, continue-as-new;
* `backoff`: three failed checks in a row: cut off TEMPORAL_DISABLED, waiting on
  the backoff's timer;
* `poller`: the instance runs shard pollers; the workflow waits for their signal,
  a `detected` (live) opens a session, two segments: cut off while recording.

A cut-off history ends on a completed workflow task, with the workflow waiting (on
a timer, an activity or a signal), as a running workflow is when its worker is
upgraded. Recorded before a change to the workflow, a history lets
`test_replay.py` prove that running workflows still replay after it.
`tests/workflows/test_record_history.py` runs every shape against today's code.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

from activities import contracts as c
from tests.temporal import start_time_skipping_server
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import (
    config,
    eventually,
    segments_closed,
    state_is,
)
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from temporalio.client import WorkflowHandle, WorkflowHistory
    from temporalio.testing import WorkflowEnvironment

    Shape = Callable[
        [WorkflowEnvironment, FakeActivities, WorkflowHandle[Any, Any]],
        Awaitable[WorkflowHistory],
    ]

IDLE_CHECKS = 3
POLL_TIMER = EventType.EVENT_TYPE_TIMER_STARTED


_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}


async def _settled(
    handle: WorkflowHandle[Any, Any], on: EventType.ValueType | None = None
) -> WorkflowHistory:
    """The history once no workflow task is pending: the workflow waits (`on` a
    timer, when that is the last thing it did)."""
    last: list[WorkflowHistory] = []

    async def done() -> bool:
        history = await handle.fetch_history()
        last[:] = [history]
        kinds = [e.event_type for e in history.events]
        tasks = [k for k in kinds if k in _TASK_EVENTS]
        return tasks[-1] == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and (
            on is None or kinds[-1] == on
        )

    await eventually(done)
    return last[0]


def _checks(world: FakeActivities, n: int) -> Callable[[], bool]:
    return lambda: world.checks == n


async def _session(
    env: WorkflowEnvironment, world: FakeActivities, handle: WorkflowHandle[Any, Any]
) -> WorkflowHistory:
    await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))
    await eventually(lambda: world.checks >= 1)
    await handle.signal(c.SIGNAL_CONFIG_CHANGED)
    await eventually(lambda: world.loads >= 2)
    world.version = "v2"  # changed again, and this signal was lost
    await handle.signal(c.SIGNAL_CHECK_NOW)
    await eventually(lambda: world.loads >= 3)
    world.live = True
    await handle.signal(c.SIGNAL_CHECK_NOW)
    await eventually(lambda: state_is(handle, c.StreamerState.LIVE))
    await eventually(lambda: segments_closed(handle, world.segments_per_recording))
    world.live = False
    world.stream_end.set()
    await eventually(lambda: not world.stream_end.is_set())
    await env.sleep(70)  # past the 60 s grace window
    await eventually(lambda: len(world.closed) == 1)

    async def continued() -> bool:
        desc = await env.client.get_workflow_handle(handle.id).describe()
        return desc.run_id != handle.first_execution_run_id

    await eventually(continued)
    return await env.client.get_workflow_handle(
        handle.id, run_id=handle.first_execution_run_id
    ).fetch_history()


async def _idle(
    env: WorkflowEnvironment, world: FakeActivities, handle: WorkflowHandle[Any, Any]
) -> WorkflowHistory:
    for n in range(1, IDLE_CHECKS + 1):
        if n > 1:
            await env.sleep(31)  # the 30 s poll interval
        await eventually(_checks(world, n))
        await _settled(handle, POLL_TIMER)
    return await _settled(handle, POLL_TIMER)


async def _recording(
    env: WorkflowEnvironment, world: FakeActivities, handle: WorkflowHandle[Any, Any]
) -> WorkflowHistory:
    world.live = True
    await eventually(lambda: segments_closed(handle, world.segments_per_recording))
    return await _settled(handle)


async def _paused(
    env: WorkflowEnvironment, world: FakeActivities, handle: WorkflowHandle[Any, Any]
) -> WorkflowHistory:
    await eventually(_checks(world, 1))
    await _settled(handle, POLL_TIMER)
    await handle.signal(c.SIGNAL_PAUSE, c.SignalInput(reason="recorded paused"))
    await eventually(lambda: state_is(handle, c.StreamerState.DISABLED))
    await eventually(lambda: world.projections[-1] == (c.StreamerState.DISABLED, False))
    return await _settled(handle)


async def _window(
    env: WorkflowEnvironment, world: FakeActivities, handle: WorkflowHandle[Any, Any]
) -> WorkflowHistory:
    world.live = True
    await eventually(lambda: segments_closed(handle, world.segments_per_recording))
    world.live, world.offline_error = False, "HTTP 404"  # an unexplained drop
    world.stream_end.set()
    await eventually(lambda: not world.stream_end.is_set())
    await eventually(lambda: world.checks >= 2)
    await env.sleep(21)  # one confirmation later, it is back: the same session
    await eventually(lambda: world.checks >= 3)
    world.live, world.offline_error = True, None
    await env.sleep(21)
    await eventually(lambda: len(world.records) == 2)
    world.live = False  # then the platform says it ended: closed at once
    world.stream_end.set()
    await eventually(lambda: len(world.closed) == 1)
    return await _first_run_once_continued(env, handle)


async def _backoff(
    env: WorkflowEnvironment, world: FakeActivities, handle: WorkflowHandle[Any, Any]
) -> WorkflowHistory:
    world.fail_fast = True
    for n in range(1, 4):
        if n > 1:
            await handle.signal(c.SIGNAL_CHECK_NOW)
        await eventually(_checks(world, n))
    await eventually(lambda: state_is(handle, c.StreamerState.TEMPORAL_DISABLED))
    return await _settled(handle, POLL_TIMER)


async def _poller(
    env: WorkflowEnvironment, world: FakeActivities, handle: WorkflowHandle[Any, Any]
) -> WorkflowHistory:
    await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))
    await _settled(handle)
    source = c.StreamSource(url="http://cdn/a.m3u8", kind=c.StreamKind.HLS)
    detected = c.Detected(
        outcome=c.LiveOutcome.LIVE,
        checked_at=await env.get_current_time(),
        source=source,
        title="from the poller",
    )
    await handle.signal(c.SIGNAL_DETECTED, detected)
    await eventually(lambda: segments_closed(handle, world.segments_per_recording))
    return await _settled(handle)


async def _first_run_once_continued(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]
) -> WorkflowHistory:
    async def continued() -> bool:
        desc = await env.client.get_workflow_handle(handle.id).describe()
        return desc.run_id != handle.first_execution_run_id

    await eventually(continued)
    return await env.client.get_workflow_handle(
        handle.id, run_id=handle.first_execution_run_id
    ).fetch_history()


SHAPES: dict[str, Shape] = {
    "session": _session,
    "idle": _idle,
    "recording": _recording,
    "paused": _paused,
    "window": _window,
    "backoff": _backoff,
    "poller": _poller,
}


async def record(shape: str) -> WorkflowHistory:
    """Run one streamer workflow into `shape` on a time-skipping server of its own;
    return its first run's history.

    A server of its own: after a run cut off mid-recording, the test server would
    not skip time for the next one.
    """
    env = await start_time_skipping_server()
    async with env:
        return await _record(env, shape)


async def _record(env: WorkflowEnvironment, shape: str) -> WorkflowHistory:
    world = FakeActivities(configs={1: config()}, version="v1")
    world.pollers = shape == "poller"
    workers = [
        Worker(
            env.client, task_queue=c.WORKFLOW_TASK_QUEUE, workflows=[StreamerWorkflow]
        ),
        Worker(
            env.client,
            task_queue=c.IO_TASK_QUEUE,
            activities=world.all(),
            max_heartbeat_throttle_interval=timedelta(milliseconds=200),
        ),
        Worker(
            env.client, task_queue=c.CPU_TASK_QUEUE, activities=[world.probe_segment]
        ),
    ]
    async with workers[0], workers[1], workers[2]:
        handle = await env.client.start_workflow(
            StreamerWorkflow.run,
            c.StreamerWorkflowInput(streamer_id=1),
            id=f"{c.streamer_workflow_id(1)}-{uuid.uuid4()}",
            task_queue=c.WORKFLOW_TASK_QUEUE,
        )
        try:
            return await SHAPES[shape](env, world, handle)
        finally:
            world.stream_end.set()  # a recording still running ends with its worker
            await env.client.get_workflow_handle(handle.id).terminate("recorded")


async def _main(shape: str, out: Path) -> None:
    history = await record(shape)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(history.to_json())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m tests.workflows.record_history",
        description="Record a StreamerWorkflow history of this checkout's code.",
    )
    parser.add_argument("shape", nargs="?", choices=SHAPES, default="session")
    parser.add_argument("out", type=Path, help="the JSON file to write")
    parsed = parser.parse_args()
    asyncio.run(_main(parsed.shape, parsed.out))

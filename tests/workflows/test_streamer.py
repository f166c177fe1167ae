"""StreamerWorkflow on the time-skipping server, with fake activities.

Time skips only inside `env.sleep()`; the tests never sleep while a fake recording
runs (its heartbeat timeout would be skipped past too).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities import contracts as c
from tests.workflows.fakes import FakeActivities
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from temporalio.testing import WorkflowEnvironment

# recorded with the workflow as it was before the change each file names
HISTORIES = Path(__file__).parents[1] / "resources" / "histories"


async def eventually(check: Callable[[], Any], within: float = 30.0) -> None:
    """Wait (in real time) until `check()` is truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


QUERY_TIMEOUT = timedelta(seconds=2)
QUERY_WITHIN = 30.0


async def query(
    handle: WorkflowHandle[Any, Any], within: float = QUERY_WITHIN
) -> c.StateQueryResult:
    """The workflow's state, asked again for up to `within` seconds (real time).

    Each attempt has a short RPC timeout: a query landing in a continue-as-new
    transition can hang on the test server. And a query has no answer while the
    workflow's task is being retried: on a starved machine an activation that
    takes over 2 s trips the SDK's deadlock detector, which fails the workflow task
    (logging "Failed handling activation"); the server retries it and the
    workflow replays, after which the query is answered.
    """
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            result: c.StateQueryResult = await handle.query(
                c.QUERY_STATE, result_type=c.StateQueryResult, rpc_timeout=QUERY_TIMEOUT
            )
            return result
        except RPCError:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.1)


def config(streamer_id: int = 1, *, enabled: bool = True) -> c.StreamerConfig:
    return c.StreamerConfig(
        streamer_id=streamer_id,
        name="alice",
        url="http://127.0.0.1:1/live.m3u8",
        platform="generic",
        enabled=enabled,
        policy=c.RecordingPolicy(
            poll_interval_secs=30, offline_check_count=3, offline_check_delay_secs=20
        ),
    )


@pytest.fixture
async def world(env: WorkflowEnvironment) -> AsyncIterator[FakeActivities]:
    fakes = FakeActivities(configs={1: config()})
    queues = (c.WORKFLOW_TASK_QUEUE, c.IO_TASK_QUEUE, c.CPU_TASK_QUEUE)
    workers = [
        Worker(
            env.client, task_queue=c.WORKFLOW_TASK_QUEUE, workflows=[StreamerWorkflow]
        ),
        Worker(
            env.client,
            task_queue=c.IO_TASK_QUEUE,
            activities=fakes.all(),
            # cancellation reaches an activity only with a heartbeat response
            max_heartbeat_throttle_interval=timedelta(milliseconds=200),
        ),
        Worker(
            env.client, task_queue=c.CPU_TASK_QUEUE, activities=[fakes.probe_segment]
        ),
    ]
    assert tuple(w.task_queue for w in workers) == queues
    async with workers[0], workers[1], workers[2]:
        yield fakes
        if fakes.recording:
            # a recording cut off by the termination would hold the test server's
            # time skipping until its heartbeat timed out: end the stream instead
            fakes.live, fakes.offline_error, fakes.outcome = False, None, None
            fakes.stream_end.set()
            with contextlib.suppress(AssertionError):
                await eventually(lambda: fakes.recording == 0, within=10)
        for started in fakes.handles:
            # the latest run: the first may have continued as new
            handle = env.client.get_workflow_handle(started.id)
            if fakes.recording == 0:
                # an activity cut off by the termination holds the test server's
                # time skipping until its timeout: let short ones finish first
                with contextlib.suppress(AssertionError):
                    await eventually(functools.partial(_idle, handle), within=10)
            desc = await handle.describe()
            if desc.status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test over")
        # a recording left running would keep the time-skipping server from
        # skipping time in the next test until its heartbeat timed out: its next
        # heartbeat learns the workflow is gone and cancels it
        await eventually(lambda: fakes.recording == 0)


async def _idle(handle: WorkflowHandle[Any, Any]) -> bool:
    desc = await handle.describe()
    return not desc.raw_description.pending_activities


async def start(
    env: WorkflowEnvironment, world: FakeActivities, streamer_id: int = 1, **kw: Any
) -> WorkflowHandle[Any, Any]:
    handle = await env.client.start_workflow(
        StreamerWorkflow.run,
        c.StreamerWorkflowInput(streamer_id=streamer_id, **kw),
        id=f"{c.streamer_workflow_id(streamer_id)}-{uuid.uuid4()}",
        task_queue=c.WORKFLOW_TASK_QUEUE,
    )
    world.handles.append(handle)
    return handle


async def segments_closed(handle: WorkflowHandle[Any, Any], n: int) -> bool:
    try:
        return (await query(handle)).segments_closed >= n
    except RPCError:  # a query that lands in a continue-as-new transition
        return False


async def state_is(handle: WorkflowHandle[Any, Any], state: c.StreamerState) -> bool:
    try:
        return (await query(handle)).state == state
    except RPCError:  # a query that lands in a continue-as-new transition
        return False


async def test_offline_streamer_is_not_live_and_polls(env, world):
    handle = await start(env, world)
    await eventually(lambda: world.checks >= 1)
    await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))
    checks = world.checks
    await env.sleep(31)
    await eventually(lambda: world.checks > checks)
    assert world.projections[0] == (c.StreamerState.NOT_LIVE, True)
    # the activity reads the streamer's credentials itself: only its id travels
    inp = world.check_inputs[0]
    assert (inp.url, inp.streamer_id) == (config().url, 1)
    assert inp.selection == config().policy.selection


UNREACHABLE = "http://127.0.0.1:1/live.m3u8 answered HTTP 404"


async def test_an_unexplained_drop_ends_after_the_offline_window(env, world):
    handle = await start(env, world)
    await eventually(lambda: world.checks >= 1)
    world.live = True
    await handle.signal(c.SIGNAL_CHECK_NOW)  # no payload, like the CLI
    await eventually(lambda: state_is(handle, c.StreamerState.LIVE))
    await eventually(lambda: segments_closed(handle, 2))
    status = await query(handle)
    assert status.session_id == 101
    assert world.probes == []  # the recorder checks segments; no probe activity

    # the stream is unreachable: not the platform's word that it ended
    world.live, world.offline_error = False, UNREACHABLE
    world.stream_end.set()
    await eventually(lambda: len(world.records) == 1 and not world.stream_end.is_set())
    await env.sleep(50)
    assert world.closed == []  # still inside the window: 3 checks 20 s apart
    await env.sleep(20)
    await eventually(lambda: len(world.closed) == 1)
    await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))
    status = await query(handle)
    assert status.sessions_recorded == 1  # carried across continue-as-new
    assert status.session_id is None
    desc = await handle.describe()
    assert desc.run_id != handle.first_execution_run_id
    assert len(world.opened) == 1


async def test_the_platform_saying_offline_ends_the_session_at_once(env, world):
    world.live = True
    handle = await start(env, world)
    await eventually(lambda: segments_closed(handle, 2))
    checks = world.checks
    world.live = False  # a clean offline: the platform's word (or HLS ENDLIST)
    world.stream_end.set()
    # no time skipped: the 60 s window of an unexplained drop never ran
    await eventually(lambda: len(world.closed) == 1)
    assert world.checks > checks
    await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))


async def test_return_within_the_window_continues_the_session(env, world):
    world.live = True
    handle = await start(env, world)
    await eventually(lambda: len(world.records) == 1)
    world.live, world.offline_error = False, UNREACHABLE
    world.stream_end.set()
    await eventually(lambda: not world.stream_end.is_set())
    await env.sleep(20)
    world.live = True
    await env.sleep(21)
    await eventually(lambda: len(world.records) == 2)
    first, second = world.records
    assert second.session_id == first.session_id
    assert second.start_index == 2  # indexes continue across recordings
    assert len(world.opened) == 1
    assert world.closed == []
    assert (await query(handle)).state == c.StreamerState.LIVE


async def test_pause_and_resume_inside_the_window_continue_the_session(env, world):
    world.live = True
    handle = await start(env, world)
    await eventually(lambda: len(world.records) == 1)
    await handle.signal(c.SIGNAL_PAUSE)
    await eventually(lambda: world.cancelled_records == 1)
    await eventually(lambda: state_is(handle, c.StreamerState.DISABLED))
    assert (await query(handle)).session_id == 101  # held open: the window
    assert world.projections[-1] == (c.StreamerState.DISABLED, False)
    await handle.signal(c.SIGNAL_RESUME, c.SignalInput(reason="from a test"))
    await eventually(lambda: len(world.records) == 2)
    await eventually(lambda: state_is(handle, c.StreamerState.LIVE))
    assert world.records[1].session_id == 101
    assert (len(world.opened), world.closed) == (1, [])


# In real time (a one-second window): time skipping stalls after a cancelled recording
async def test_a_pause_past_the_window_closes_the_session(env, world):
    world.configs[1].policy.offline_check_count = 1
    world.configs[1].policy.offline_check_delay_secs = 1.0
    world.live = True
    handle = await start(env, world)
    await eventually(lambda: len(world.records) == 1)
    await handle.signal(c.SIGNAL_PAUSE)
    await eventually(lambda: world.cancelled_records == 1)
    await eventually(lambda: len(world.closed) == 1)
    disabled = (c.StreamerState.DISABLED, False)
    # paused is carried across the continue-as-new that followed the session: the
    # new run projects DISABLED again as it starts
    await eventually(lambda: _run_changed(handle))
    await eventually(lambda: world.projections.count(disabled) >= 2)
    await eventually(lambda: state_is(handle, c.StreamerState.DISABLED))
    assert (await query(handle)).paused

    await handle.signal(c.SIGNAL_RESUME, c.SignalInput(reason="from a test"))
    await eventually(lambda: len(world.records) == 2)
    assert len(world.opened) == 2


async def _run_changed(handle: WorkflowHandle[Any, Any]) -> bool:
    return (await handle.describe()).run_id != handle.first_execution_run_id


async def test_disabled_streamer_starts_paused(env, world):
    world.configs[1] = config(enabled=False)
    handle = await start(env, world)
    await eventually(lambda: state_is(handle, c.StreamerState.DISABLED))
    assert world.checks == 0
    await handle.signal(c.SIGNAL_RESUME)
    await eventually(lambda: world.checks == 1)
    await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))


async def test_undecodable_signal_payload_does_not_fail_the_workflow(env, world):
    handle = await start(env, world)
    await handle.signal(c.SIGNAL_PAUSE, "not a model")
    await eventually(lambda: world.checks == 1)
    await handle.signal(c.SIGNAL_CHECK_NOW, {"reason": "ok", "unknown": 1})
    await eventually(lambda: world.checks >= 2)
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.RUNNING


async def test_stop_signal_ends_the_workflow(env, world):
    handle = await start(env, world)
    await eventually(lambda: world.checks >= 1)
    await handle.signal(c.SIGNAL_STOP)
    result = await handle.result()
    assert result.reason == "stopped"
    assert world.projections[-1][0] == c.StreamerState.CANCELLED


async def test_deleted_streamer_ends_on_config_reload(env, world):
    handle = await start(env, world)
    await eventually(lambda: world.checks >= 1)
    del world.configs[1]
    await handle.signal(c.SIGNAL_CONFIG_CHANGED)
    result = await handle.result()
    assert result.reason == "stopped"


async def test_detection_errors_back_off_without_failing(env, world):
    world.fail_detection = True
    world.configs[1].policy.error_backoff_secs = 1.0
    handle = await start(env, world)
    await eventually(lambda: world.checks >= 3, within=20)  # three attempts
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    world.fail_detection = False
    await handle.signal(c.SIGNAL_CHECK_NOW)
    await eventually(lambda: _is(errors(handle), 0))
    assert (await query(handle)).state == c.StreamerState.NOT_LIVE


async def last_error(handle: WorkflowHandle[Any, Any]) -> str | None:
    return (await query(handle)).last_error


async def test_a_failed_check_is_kept_until_a_check_succeeds(env, world):
    world.fail_detection = True
    handle = await start(env, world)
    await eventually(
        lambda: world.projected_errors[-1:] == ["RuntimeError: upstream is down"]
    )
    assert await last_error(handle) == "RuntimeError: upstream is down"
    assert world.projections[-1] == (c.StreamerState.NOT_LIVE, True)
    projected = len(world.projected_errors)
    await handle.signal(c.SIGNAL_CHECK_NOW)
    await eventually(lambda: world.checks >= 6, within=30)  # it failed again
    await eventually(lambda: _is(errors(handle), 2))
    assert len(world.projected_errors) == projected  # the same error, not rewritten
    world.fail_detection = False
    await handle.signal(c.SIGNAL_CHECK_NOW)
    await eventually(lambda: world.projected_errors[-1] is None)
    assert await last_error(handle) is None


async def errors(handle: WorkflowHandle[Any, Any]) -> int:
    return (await query(handle)).errors


async def test_an_unreachable_stream_says_why_while_offline(env, world):
    world.offline_error = "http://127.0.0.1:1/live.m3u8 answered HTTP 404"
    handle = await start(env, world)
    await eventually(lambda: world.projected_errors[-1:] == [world.offline_error])
    assert await last_error(handle) == world.offline_error
    assert (await query(handle)).state == c.StreamerState.NOT_LIVE
    world.offline_error = None  # the channel is back, between broadcasts
    await handle.signal(c.SIGNAL_CHECK_NOW)
    await eventually(lambda: world.projected_errors[-1] is None)


# --- recording guards -----------------------------------------------------------------


def refusal(kind: str, delay_secs: float | None = None) -> ApplicationError:
    return ApplicationError(
        f"refused by {kind}",
        type=kind,
        non_retryable=True,
        next_retry_delay=timedelta(seconds=delay_secs) if delay_secs else None,
    )


async def waiting_for(handle: WorkflowHandle[Any, Any]) -> c.WaitReason | None:
    return (await query(handle)).waiting_for


async def test_a_refused_recording_stays_live_and_check_now_retries(env, world):
    world.live = True
    world.refusals = [refusal(c.ERROR_OUTPUT_PATH_INACCESSIBLE, 600)]
    handle = await start(env, world)
    await eventually(lambda: len(world.records) == 1)
    await eventually(lambda: _is(waiting_for(handle), c.WaitReason.OUTPUT_ROOT))
    status = await query(handle)
    assert status.state == c.StreamerState.OUT_OF_SPACE  # the write gate holds it
    assert status.reason == f"refused by {c.ERROR_OUTPUT_PATH_INACCESSIBLE}"
    assert status.session_id == 101
    # the write gate's recovery signal: the backoff ends at once
    await handle.signal(c.SIGNAL_CHECK_NOW, c.SignalInput(reason="root recovered"))
    await eventually(lambda: len(world.records) == 2)
    first, second = world.records
    # always asked: the announcement is the download_started event (issue 13)
    assert (first.announce_start, second.announce_start) == (True, True)
    assert second.session_id == first.session_id
    await eventually(lambda: _is(waiting_for(handle), None))
    await eventually(lambda: state_is(handle, c.StreamerState.LIVE))
    await eventually(lambda: segments_closed(handle, 2))
    assert len(world.opened) == 1


# These run in real time: an earlier test's recording, cut off by terminating its
# workflow, keeps the test server from skipping time for a while.
async def test_a_refusal_backs_off_for_its_retry_delay(env, world):
    world.live = True
    world.refusals = [refusal(c.ERROR_ENGINE_CIRCUIT_OPEN, 2)]
    handle = await start(env, world)
    await eventually(lambda: _is(waiting_for(handle), c.WaitReason.ENGINE_BREAKER))
    await asyncio.sleep(0.5)
    assert len(world.records) == 1
    await eventually(lambda: len(world.records) == 2, within=10)
    await eventually(lambda: _is(waiting_for(handle), None))


async def test_a_slot_wait_inside_the_activity_shows_in_the_state(env, world):
    world.live = True
    world.slot_free = asyncio.Event()
    handle = await start(env, world)
    await eventually(lambda: _is(waiting_for(handle), c.WaitReason.RECORDING_SLOT))
    assert (await query(handle)).state == c.StreamerState.LIVE
    assert (await query(handle)).segments_closed == 0
    world.slot_free.set()
    await eventually(lambda: _is(waiting_for(handle), None))
    await eventually(lambda: segments_closed(handle, 2))
    assert len(world.records) == 1


async def test_a_refused_session_ends_when_the_stream_does(env, world):
    world.configs[1].policy.offline_check_count = 1
    world.configs[1].policy.offline_check_delay_secs = 1.0
    world.live = True
    world.refusals = [refusal(c.ERROR_NO_RECORDING_SLOT)]
    handle = await start(env, world)
    await eventually(lambda: len(world.records) == 1)
    world.live = False
    await eventually(lambda: len(world.closed) == 1, within=30)
    await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))
    assert world.checks >= 2  # the stream was checked again after the refusal
    assert len(world.records) == 1
    # the session ended, so the workflow may be continuing-as-new: retry the query
    await eventually(lambda: _is(waiting_for(handle), None))


async def _is(value: Any, expected: Any) -> bool:
    try:
        return bool(await value == expected)
    except RPCError:  # a query that lands in a continue-as-new transition
        return False

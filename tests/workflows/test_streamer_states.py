"""The state machine of StreamerWorkflow: backoff, held errors, the pollers' signal,
filters waking and stopping it, continue-as-new carrying its state.

Time-skipping server and fake activities, as `test_streamer.py` (whose fixtures
these reuse).
"""

from __future__ import annotations

import functools
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from temporalio.api.enums.v1 import EventType

from activities import contracts as c
from tests.workflows.test_streamer import (
    _is,
    eventually,
    query,
    start,
    state_is,
    world,
)
from workflows import options as o

if TYPE_CHECKING:
    from datetime import datetime

    from temporalio.client import WorkflowHandle
    from temporalio.testing import WorkflowEnvironment

    from tests.workflows.fakes import FakeActivities

__all__ = ["world"]  # the fixture, imported for these tests

S = c.StreamerState


async def _backoff(handle: WorkflowHandle[Any, Any]) -> datetime | None:
    return (await query(handle)).backoff_until


async def _errors(handle: WorkflowHandle[Any, Any]) -> int:
    return (await query(handle)).errors


async def _errors_are(handle: WorkflowHandle[Any, Any], n: int) -> bool:
    return bool(await _is(_errors(handle), n))


def test_backoff_doubles_from_the_base_up_to_an_hour() -> None:
    assert [o.backoff_secs(60, n) for n in range(8)] == [
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    assert o.backoff_secs(7200, 0) == 7200  # a base above the cap is kept


async def test_errors_in_a_row_back_off_doubling_and_clear_error_ends_it(env, world):
    world.fail_fast = True
    handle = await start(env, world)
    for n in range(1, o.ERROR_THRESHOLD):
        await eventually(functools.partial(_errors_are, handle, n))
        assert (await query(handle)).state == S.NOT_LIVE  # below the threshold
        await handle.signal(c.SIGNAL_CHECK_NOW)
    await eventually(lambda: state_is(handle, S.TEMPORAL_DISABLED))
    first = await query(handle)
    assert first.reason is not None
    assert "the next in 60 s" in first.reason
    assert world.projections[-1] == (S.TEMPORAL_DISABLED, True)
    # the backoff's end checks again by itself; it fails: twice as long
    checks = world.checks
    await env.sleep(61)
    await eventually(lambda: world.checks == checks + 1)
    await eventually(lambda: _is(_errors(handle), o.ERROR_THRESHOLD + 1))
    second = await query(handle)
    assert second.reason is not None
    assert "the next in 120 s" in second.reason
    await env.sleep(60)
    assert world.checks == checks + 1  # not before the 120 s are over
    # the user acts: errors forgotten, a check at once, which succeeds
    world.fail_fast = False
    await handle.signal(c.SIGNAL_CLEAR_ERROR)
    await eventually(lambda: _is(_errors(handle), 0))
    await eventually(lambda: state_is(handle, S.NOT_LIVE))
    status = await query(handle)
    assert (status.backoff_until, status.last_error, status.reason) == (None,) * 3


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        pytest.param(c.LiveOutcome.BANNED, S.FATAL_ERROR, id="banned"),
        pytest.param(c.LiveOutcome.NOT_FOUND, S.NOT_FOUND, id="not-found"),
    ],
)
async def test_a_fatal_answer_stops_checks_until_the_user_acts(
    env: WorkflowEnvironment,
    world: FakeActivities,
    outcome: c.LiveOutcome,
    state: c.StreamerState,
) -> None:
    world.outcome = outcome
    handle = await start(env, world)
    await eventually(lambda: state_is(handle, state))
    status = await query(handle)
    assert status.reason == f"{outcome.value}: the platform says so"
    assert world.projected_errors[-1] == status.reason
    await env.sleep(3600)
    assert world.checks == 1  # held: no polling
    world.outcome = None
    await handle.signal(c.SIGNAL_CLEAR_ERROR)
    await eventually(lambda: state_is(handle, S.NOT_LIVE))
    assert world.checks == 2
    assert (await query(handle)).last_error is None


@pytest.mark.parametrize(
    "signal",
    [
        pytest.param(c.SIGNAL_CHECK_NOW, id="check"),
        pytest.param(c.SIGNAL_RESUME, id="resume"),
        pytest.param(c.SIGNAL_CONFIG_CHANGED, id="config-changed"),
    ],
)
async def test_a_held_error_is_checked_again_when_the_user_acts(
    env: WorkflowEnvironment, world: FakeActivities, signal: str
) -> None:
    world.outcome = c.LiveOutcome.BANNED
    handle = await start(env, world)
    await eventually(lambda: state_is(handle, S.FATAL_ERROR))
    world.outcome = None
    await handle.signal(signal)
    await eventually(lambda: state_is(handle, S.NOT_LIVE))
    assert world.checks == 2  # one check, whose answer set the state


async def test_with_pollers_an_offline_streamer_waits_for_their_signal(env, world):
    world.pollers = True
    handle = await start(env, world)
    await eventually(lambda: state_is(handle, S.NOT_LIVE))
    await eventually(lambda: _waits_on_a_timer(handle))
    before = len((await handle.fetch_history()).events)
    await env.sleep(3600)
    assert world.checks == 0  # no check and no timer per interval
    assert len((await handle.fetch_history()).events) == before
    # another instance's poller is not listened to
    now = await env.get_current_time()
    source = c.StreamSource(url="http://cdn/a.m3u8", kind=c.StreamKind.HLS)
    live = c.Detected(
        outcome=c.LiveOutcome.LIVE, checked_at=now, source=source, title="t"
    )
    await handle.signal(
        c.SIGNAL_DETECTED, live.model_copy(update={"instance_id": "other"})
    )
    await handle.signal(c.SIGNAL_DETECTED, live)
    await eventually(lambda: len(world.records) == 1)
    assert world.records[0].source.url == "http://cdn/a.m3u8"
    assert world.records[0].title == "t"
    assert world.checks == 0  # the poller's news was enough


async def test_a_level_changed_unsignalled_reaches_the_session_a_poller_opens(
    env, world
):
    # a global, platform or template change is not signalled to a streamer
    # waiting for detection (`crud_config.streamer_ids(skip_waiting=True)`)
    world.pollers = True
    handle = await start(env, world)
    await eventually(lambda: state_is(handle, S.NOT_LIVE))
    loads = world.loads
    cfg = world.configs[1]
    world.configs[1] = cfg.model_copy(
        update={"policy": cfg.policy.model_copy(update={"engine": c.EngineKind.FFMPEG})}
    )
    now = await env.get_current_time()
    source = c.StreamSource(url="http://cdn/a.m3u8", kind=c.StreamKind.HLS)
    await handle.signal(
        c.SIGNAL_DETECTED,
        c.Detected(outcome=c.LiveOutcome.LIVE, checked_at=now, source=source),
    )
    await eventually(lambda: len(world.records) == 1)
    assert world.loads == loads + 1
    assert world.records[0].policy.engine is c.EngineKind.FFMPEG
    assert world.checks == 0


async def test_a_transient_failure_from_the_poller_counts_its_run(env, world):
    world.pollers = True
    handle = await start(env, world)
    await eventually(lambda: state_is(handle, S.NOT_LIVE))
    now = await env.get_current_time()
    failing = c.Detected(
        outcome=c.LiveOutcome.UNAVAILABLE, checked_at=now, error="HTTP 503", failures=5
    )
    await handle.signal(c.SIGNAL_DETECTED, failing)
    await eventually(lambda: state_is(handle, S.TEMPORAL_DISABLED))
    assert (await query(handle)).last_error == "HTTP 503"


async def _waits_on_a_timer(handle: WorkflowHandle[Any, Any]) -> bool:
    events = (await handle.fetch_history()).events
    return events[-1].event_type == EventType.EVENT_TYPE_TIMER_STARTED


def _clock(t: datetime) -> str:
    return t.strftime("%H:%M:%S")


async def test_a_time_window_wakes_the_workflow_when_it_opens(env, world):
    now = (await env.get_current_time()).astimezone(UTC)
    opens = now + timedelta(hours=2)
    world.configs[1].filters = [
        c.TimeWindowFilter(
            start_time=_clock(opens),
            end_time=_clock(opens + timedelta(hours=1)),
            timezone="UTC",
        )
    ]
    handle = await start(env, world)
    await eventually(lambda: state_is(handle, S.OUT_OF_SCHEDULE))
    assert "outside the time window" in ((await query(handle)).reason or "")
    await env.sleep(2 * 3600 - 60)
    assert world.checks == 0  # no checks while out of the schedule
    await env.sleep(61)
    await eventually(lambda: world.checks == 1)  # at the opening, at once
    await eventually(lambda: state_is(handle, S.NOT_LIVE))


async def test_signals_while_out_of_schedule_wait_for_the_opening(env, world):
    now = (await env.get_current_time()).astimezone(UTC)
    opens = now + timedelta(hours=2)
    world.configs[1].filters = [
        c.TimeWindowFilter(
            start_time=_clock(opens),
            end_time=_clock(opens + timedelta(hours=1)),
            timezone="UTC",
        )
    ]
    handle = await start(env, world)
    await eventually(lambda: state_is(handle, S.OUT_OF_SCHEDULE))
    await handle.signal(c.SIGNAL_CLEAR_ERROR)
    await handle.signal(c.SIGNAL_CHECK_NOW)
    await env.sleep(60)
    assert world.checks == 0
    assert (await query(handle)).state == S.OUT_OF_SCHEDULE
    desc = await handle.describe()
    assert not desc.raw_description.HasField("pending_workflow_task")  # no spin


async def test_a_cron_filter_in_a_time_zone_wakes_the_workflow(env, world):
    now = (await env.get_current_time()).astimezone(UTC)
    later = (now + timedelta(hours=3)).astimezone(_zone("Asia/Shanghai"))
    opens = later.replace(minute=0, second=0, microsecond=0)
    world.configs[1].filters = [
        c.CronFilter(expression=f"* {later.hour} * * *", timezone="Asia/Shanghai")
    ]
    handle = await start(env, world)
    await eventually(lambda: state_is(handle, S.OUT_OF_SCHEDULE))
    await env.sleep((opens - now).total_seconds() - 30)
    assert world.checks == 0
    await env.sleep(31)
    await eventually(lambda: world.checks == 1)  # at the opening, at once


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


async def test_a_failing_title_filter_holds_a_live_stream_out(env, world):
    world.configs[1].filters = [c.KeywordFilter(include=["chess"])]
    world.live = True
    handle = await start(env, world)
    await eventually(lambda: state_is(handle, S.OUT_OF_SCHEDULE))
    assert "none of the keywords 'chess'" in ((await query(handle)).reason or "")
    assert world.records == []
    world.title = "chess night"
    await env.sleep(31)  # checked again on its interval while live
    await eventually(lambda: len(world.records) == 1)
    await eventually(lambda: state_is(handle, S.LIVE))


async def test_a_filter_added_by_hot_reload_reaches_the_running_workflow(env, world):
    handle = await start(env, world)
    await eventually(lambda: state_is(handle, S.NOT_LIVE))
    now = (await env.get_current_time()).astimezone(UTC)
    world.configs[1].filters = [
        c.TimeWindowFilter(
            start_time=_clock(now + timedelta(hours=5)),
            end_time=_clock(now + timedelta(hours=6)),
            timezone="UTC",
        )
    ]
    await handle.signal(c.SIGNAL_CONFIG_CHANGED)
    await eventually(lambda: state_is(handle, S.OUT_OF_SCHEDULE))


async def test_continue_as_new_carries_the_backoff(env, world):
    world.fail_fast = True
    world.live = False
    handle = await start(
        env,
        world,
        carried=c.StreamerWorkflowState(
            paused=False, errors=4, backoff_level=2, state=S.NOT_LIVE
        ),
    )
    # the carried run of errors goes on: the next failure backs off 4 x 60 s
    await eventually(lambda: state_is(handle, S.TEMPORAL_DISABLED))
    status = await query(handle)
    assert status.errors == 5
    assert status.reason is not None
    assert "the next in 240 s" in status.reason


# In real time: the window closes a few seconds after the recording starts (time
# skipped past a running fake recording would time its heartbeat out too).
async def test_a_closing_window_stops_the_recording(env, world):
    now = (await env.get_current_time()).astimezone(UTC)
    world.configs[1].filters = [
        c.TimeWindowFilter(
            start_time=_clock(now - timedelta(hours=1)),
            end_time=_clock(now + timedelta(seconds=6)),
            timezone="UTC",
        )
    ]
    world.live = True
    handle = await start(env, world)
    await eventually(lambda: len(world.records) == 1)
    await eventually(lambda: world.cancelled_records == 1, within=30)
    await eventually(lambda: len(world.closed) == 1)
    await eventually(lambda: state_is(handle, S.OUT_OF_SCHEDULE))

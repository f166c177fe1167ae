"""A session's chat through the real StreamerWorkflow (time-skipping server).

The danmu activity is a stand-in registered under its real name: it announces one
closed file, says "stream closed" when the test asks, fails when told to, and
otherwise runs until cancelled. The recording and the checks are the usual fakes
(`tests.workflows.fakes`). Each session here ends by the platform's word or the
chat's, so no offline-window timer waits while an activity runs (the test server
skips no time then).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer, Worker

from activities import contracts as c
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import config, eventually, query, state_is
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from temporalio.client import WorkflowHandle
    from temporalio.testing import WorkflowEnvironment


@dataclass
class FakeChat:
    """`danmu.record_session` as the workflow sees it."""

    world: FakeActivities
    inputs: list[c.RecordDanmuInput] = field(default_factory=list)
    running: int = 0
    cancelled: int = 0
    # sessions closed (close_session calls) when each attempt was cancelled
    closed_at_cancel: list[int] = field(default_factory=list)
    say_closed: asyncio.Event = field(default_factory=asyncio.Event)
    fail: str | None = None

    @activity.defn(name=c.ACTIVITY_RECORD_DANMU)
    async def record_danmu(self, inp: c.RecordDanmuInput) -> c.RecordDanmuResult:
        self.inputs.append(inp)
        self.running += 1
        try:
            if self.fail is not None:
                raise ApplicationError(self.fail, non_retryable=True)
            handle = activity.client().get_workflow_handle(inp.workflow_id)
            await handle.signal(
                c.SIGNAL_DANMU_CLOSED,
                c.DanmuClosed(
                    session_id=inp.session_id,
                    index=0,
                    file_path="/rec/0.xml",
                    message_count=3,
                    session_files=1,
                ),
            )
            while True:
                activity.heartbeat()
                if self.say_closed.is_set():
                    self.say_closed.clear()
                    await handle.signal(
                        c.SIGNAL_DANMU_STREAM_CLOSED,
                        c.DanmuStreamClosed(
                            session_id=inp.session_id,
                            platform="bilibili",
                            detail="PREPARING",
                            received_at=datetime.now(UTC),
                        ),
                    )
                await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            self.cancelled += 1
            self.closed_at_cancel.append(len(self.world.closed))
            raise
        finally:
            self.running -= 1


def bilibili(**policy: Any) -> c.StreamerConfig:
    """The test streamer on a platform with a chat, with `policy` set."""
    cfg = config()
    return cfg.model_copy(
        update={
            "platform": "bilibili",
            "url": "https://live.bilibili.com/3",
            "policy": cfg.policy.model_copy(update=policy),
        }
    )


@dataclass
class World:
    fakes: FakeActivities
    chat: FakeChat
    env: WorkflowEnvironment
    handles: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    async def start(self) -> WorkflowHandle[Any, Any]:
        handle = await self.env.client.start_workflow(
            StreamerWorkflow.run,
            c.StreamerWorkflowInput(streamer_id=1),
            id=f"{c.streamer_workflow_id(1)}-{uuid.uuid4()}",
            task_queue=c.WORKFLOW_TASK_QUEUE,
        )
        self.handles.append(handle)
        return handle


@pytest.fixture
async def world(env: WorkflowEnvironment) -> AsyncIterator[World]:
    fakes = FakeActivities(configs={1: bilibili(record_danmu=True)})
    chat = FakeChat(fakes)
    state = World(fakes, chat, env)
    async with (
        Worker(
            env.client, task_queue=c.WORKFLOW_TASK_QUEUE, workflows=[StreamerWorkflow]
        ),
        Worker(
            env.client,
            task_queue=c.IO_TASK_QUEUE,
            activities=[*fakes.all(), chat.record_danmu],
            max_heartbeat_throttle_interval=timedelta(milliseconds=200),
        ),
    ):
        yield state
        for handle in state.handles:
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test over")
        # an activity left running would hold the server's time skipping
        await eventually(lambda: fakes.recording == 0 and chat.running == 0)


async def live_session(world: World) -> WorkflowHandle[Any, Any]:
    """A session recording, its chat running."""
    world.fakes.live = True
    handle = await world.start()
    await eventually(lambda: world.fakes.recording == 1 and world.chat.running == 1)
    return handle


async def end_by_the_platform(world: World, handle: WorkflowHandle[Any, Any]) -> None:
    world.fakes.live = False  # a clean offline: the session ends at once
    world.fakes.stream_end.set()
    await eventually(lambda: len(world.fakes.closed) == 1)
    await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))


async def test_the_chat_runs_beside_the_recording_for_the_whole_session(world):
    handle = await live_session(world)
    (inp,) = world.chat.inputs
    (record,) = world.fakes.records
    assert inp.session_id == record.session_id
    assert inp.url == "https://live.bilibili.com/3"
    assert inp.workflow_id == handle.id
    assert inp.session_start == record.session_start
    await eventually(lambda: _danmu_files(handle, 1))
    await end_by_the_platform(world, handle)
    # cancelled (and finished) before the session row closed
    assert world.chat.closed_at_cancel == [0]
    assert len(world.chat.inputs) == 1


async def _danmu_files(handle: WorkflowHandle[Any, Any], n: int) -> bool:
    return (await query(handle)).danmu_files >= n


@pytest.mark.parametrize(
    "cfg",
    [bilibili(record_danmu=False), bilibili(record_danmu=True).model_copy(
        update={"platform": "generic"}
    )],
    ids=["record_danmu off", "no chat protocol"],
)  # fmt: skip
async def test_no_chat_without_record_danmu_or_a_chat_protocol(world, cfg):
    world.fakes.configs[1] = cfg
    world.fakes.live = True
    handle = await world.start()
    await eventually(lambda: world.fakes.recording == 1)
    await end_by_the_platform(world, handle)
    assert world.chat.inputs == []


async def test_stream_closed_in_the_chat_ends_the_session_when_asked(world):
    world.fakes.configs[1] = bilibili(
        record_danmu=True, end_stream_on_danmu_stream_closed=True
    )
    handle = await live_session(world)
    world.chat.say_closed.set()  # the platform's API still says live
    await eventually(lambda: len(world.fakes.closed) == 1)
    world.fakes.live = False  # no new session at the next run's first look
    # the run that recorded continues as new after its session; the next one
    # checks at once (and with the platform saying live, may have opened another):
    # what this run did is in its own state and history
    first = world.env.client.get_workflow_handle(
        handle.id, run_id=handle.first_execution_run_id
    )
    await eventually(lambda: _closed(first))
    assert (await query(first)).state == c.StreamerState.NOT_LIVE
    assert world.fakes.cancelled_records == 1
    assert world.chat.closed_at_cancel == [0]
    checks = [
        e
        for e in (await first.fetch_history()).events
        if e.activity_task_scheduled_event_attributes.activity_type.name
        == c.ACTIVITY_CHECK_LIVE
    ]
    assert len(checks) == 1  # the one that found it live: no offline window


async def _closed(handle: WorkflowHandle[Any, Any]) -> bool:
    return (await handle.describe()).status != WorkflowExecutionStatus.RUNNING


async def test_stream_closed_in_the_chat_is_ignored_by_default(world):
    handle = await live_session(world)
    world.chat.say_closed.set()
    await eventually(lambda: not world.chat.say_closed.is_set())  # it was said
    await eventually(lambda: _danmu_files(handle, 1))
    assert (await query(handle)).state == c.StreamerState.LIVE
    assert world.fakes.recording == 1
    assert world.fakes.closed == []
    await end_by_the_platform(world, handle)


async def test_a_failing_chat_never_ends_the_recording(world):
    world.chat.fail = "chat exploded"
    handle = await live_session_without_chat(world)
    await eventually(lambda: _danmu_error(handle, "chat exploded"))
    assert world.fakes.recording == 1
    assert (await query(handle)).state == c.StreamerState.LIVE
    await end_by_the_platform(world, handle)
    assert len(world.fakes.records) == 1


async def live_session_without_chat(world: World) -> WorkflowHandle[Any, Any]:
    world.fakes.live = True
    handle = await world.start()
    await eventually(lambda: world.fakes.recording == 1 and world.chat.inputs)
    return handle


async def _danmu_error(handle: WorkflowHandle[Any, Any], text: str) -> bool:
    return text in ((await query(handle)).danmu_error or "")


async def test_a_session_with_its_chat_replays(world):
    handle = await live_session(world)
    await end_by_the_platform(world, handle)
    history = await world.env.client.get_workflow_handle(
        handle.id, run_id=handle.first_execution_run_id
    ).fetch_history()
    replayer = Replayer(
        workflows=[StreamerWorkflow], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    names = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert c.ACTIVITY_RECORD_DANMU in names

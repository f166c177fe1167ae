"""A recording session through the real StreamerWorkflow and the real store.

The store activities run on a SQLite database as in the worker (in a thread); the
live check, the recording and the probe are fakes. These tests ask what the
database and the state query say about a session.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities import contracts as c
from activities.db import Streamer, crud, crud_sessions, make_engine, migrate
from activities.store import StoreActivities
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import eventually, query, state_is
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    import sqlalchemy as sa
    from temporalio.client import Client, WorkflowHandle
    from temporalio.testing import WorkflowEnvironment


@dataclass
class RealStore:
    """The store activities on a real database, as async activities.

    `lose_first_open` makes the first `open_session` attempt fail after its
    commit, as when the worker dies before Temporal hears of the result.
    """

    store: StoreActivities
    lose_first_open: bool = False

    def all(self) -> list[Any]:
        return [
            self.load_streamer,
            self.project_state,
            self.open_session,
            self.close_session,
        ]

    @activity.defn(name=c.ACTIVITY_LOAD_STREAMER)
    async def load_streamer(self, inp: c.LoadStreamerInput) -> c.LoadStreamerResult:
        return await asyncio.to_thread(self.store.load_streamer, inp)

    @activity.defn(name=c.ACTIVITY_PROJECT_STATE)
    async def project_state(self, inp: c.ProjectStateInput) -> c.ProjectStateResult:
        return await asyncio.to_thread(self.store.project_state, inp)

    @activity.defn(name=c.ACTIVITY_OPEN_SESSION)
    async def open_session(self, inp: c.OpenSessionInput) -> c.OpenSessionResult:
        result = await asyncio.to_thread(self.store.open_session, inp)
        if self.lose_first_open and activity.info().attempt == 1:
            raise RuntimeError("connection reset after the commit")
        return result

    @activity.defn(name=c.ACTIVITY_CLOSE_SESSION)
    async def close_session(self, inp: c.CloseSessionInput) -> c.CloseSessionResult:
        return await asyncio.to_thread(self.store.close_session, inp)


@dataclass
class World:
    fakes: FakeActivities
    store: RealStore
    db: sa.Engine
    client: Client
    handles: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    def sessions(self) -> list[tuple[int | None, bool]]:
        """(id, ended) of every session in the database."""
        with Session(self.db) as db:
            rows, _ = crud_sessions.list_sessions(db)
            return [(row.id, row.end_time is not None) for row in rows]

    async def start(self) -> WorkflowHandle[Any, Any]:
        handle = await self.client.start_workflow(
            StreamerWorkflow.run,
            c.StreamerWorkflowInput(streamer_id=1),
            id=f"{c.streamer_workflow_id(1)}-{uuid.uuid4()}",
            task_queue=c.WORKFLOW_TASK_QUEUE,
        )
        self.handles.append(handle)
        return handle


@pytest.fixture
async def world(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[World]:
    db = make_engine(f"sqlite:///{tmp_path}/srec.db")
    migrate(db)
    with Session(db) as session:
        crud.create_streamer(
            session,
            Streamer(
                name="alice",
                url="http://127.0.0.1:1/live.m3u8",
                platform="generic",
                settings={
                    "offline_check_count": 1,
                    "offline_check_delay_secs": 1.0,
                    "poll_interval_secs": 30.0,
                },
            ),
        )
    fakes = FakeActivities()
    store = RealStore(StoreActivities(db))
    state = World(fakes=fakes, store=store, db=db, client=env.client)
    async with (
        Worker(
            env.client, task_queue=c.WORKFLOW_TASK_QUEUE, workflows=[StreamerWorkflow]
        ),
        Worker(
            env.client,
            task_queue=c.IO_TASK_QUEUE,
            activities=[
                *store.all(),
                fakes.check_live,
                fakes.record_stream,
                fakes.record_event,
            ],
            max_heartbeat_throttle_interval=timedelta(milliseconds=200),
        ),
        Worker(
            env.client, task_queue=c.CPU_TASK_QUEUE, activities=[fakes.probe_segment]
        ),
    ):
        yield state
        for handle in state.handles:
            desc = await handle.describe()
            if desc.status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test over")
    db.dispose()


async def segments_closed(handle: WorkflowHandle[Any, Any]) -> int | None:
    try:
        return (await query(handle)).segments_closed
    except RPCError:  # a query that lands in a continue-as-new transition
        return None


async def test_a_retried_open_session_returns_the_session_it_opened(world):
    world.store.lose_first_open = True
    world.fakes.live = True
    handle = await world.start()
    await eventually(lambda: len(world.fakes.records) == 1)
    ((session_id, ended),) = world.sessions()
    assert not ended
    assert world.fakes.records[0].session_id == session_id
    assert (await query(handle)).session_id == session_id


async def test_a_stream_that_ends_while_queued_leaves_no_session(world):
    world.fakes.live = True
    # what the record activity says when the slot wait runs out
    world.fakes.refusals = [
        ApplicationError("no slot", type=c.ERROR_NO_RECORDING_SLOT, non_retryable=True)
    ]
    handle = await world.start()
    await eventually(lambda: len(world.fakes.records) == 1)
    assert len(world.sessions()) == 1  # live, waiting: it is listed
    world.fakes.live = False
    await eventually(lambda: world.sessions() == [], within=30)
    await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))
    # the empty session is not counted either (the query retries: the workflow
    # continues as new after a session)
    await eventually(lambda: _sessions_recorded(handle, 0))
    assert len(world.fakes.records) == 1


async def test_a_session_that_recorded_is_kept_and_counted(world):
    world.fakes.live = True
    world.fakes.segments_per_recording = 1
    handle = await world.start()
    await eventually(lambda: len(world.fakes.records) == 1)
    ((session_id, _),) = world.sessions()
    assert session_id is not None
    with Session(world.db) as db:
        crud_sessions.begin_segment(
            db, session_id=session_id, index=0, file_path="/r/0.ts"
        )
        crud_sessions.complete_segment(
            db, session_id=session_id, index=0, size_bytes=10, duration_secs=1.0
        )
    world.fakes.live = False
    world.fakes.stream_end.set()
    await eventually(lambda: world.sessions() == [(session_id, True)], within=30)
    await eventually(lambda: _sessions_recorded(handle, 1))


@pytest.mark.parametrize(
    ("signals", "in_result", "expected"),
    [
        pytest.param([(0, None), (0, None), (1, None)], None, 2, id="repeated"),
        pytest.param([(0, 1), (2, 3)], None, 3, id="lost-mid-session"),
        pytest.param([(0, 1)], 2, 2, id="lost-last-healed-by-the-result"),
    ],
)
async def test_segments_closed_counts_each_segment_of_the_session_once(
    world, signals, in_result, expected
):
    world.fakes.live = True
    world.fakes.closed_signals = signals
    world.fakes.result_session_segments = in_result
    if in_result is not None:
        # a long offline window, so the session is still there to ask
        with Session(world.db) as db:
            streamer = db.get(Streamer, 1)
            assert streamer is not None
            streamer.settings = {**streamer.settings, "offline_check_delay_secs": 600}
            db.commit()
    handle = await world.start()
    await eventually(lambda: world.fakes.closed_sent >= len(signals))
    if in_result is not None:
        # the recording ends, unexplained (the platform's word would end the
        # session at once); its result carries the DB's count into the window
        world.fakes.live, world.fakes.offline_error = False, "HTTP 404"
        world.fakes.stream_end.set()
    await eventually(lambda: _is(segments_closed(handle), expected))
    assert (await query(handle)).state == c.StreamerState.LIVE


async def _sessions_recorded(handle: WorkflowHandle[Any, Any], n: int) -> bool:
    try:
        return (await query(handle)).sessions_recorded == n
    except RPCError:
        return False


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)

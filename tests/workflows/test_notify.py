"""Notification delivery end to end on the time-skipping server.

Real workflows, real activities, a real SQLite app DB and a local HTTP receiver:
events are recorded once, delivered once per channel, retried on the documented
schedule (the receiver stamps each request with the server's clock), refused by
an open breaker and dead-lettered after the last attempt.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlmodel import Session, select
from temporalio import activity
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from activities import contracts as c
from activities.db import (
    NotifyChannel,
    NotifyDeadLetter,
    NotifyDelivery,
    crud_notify,
    crud_notify_admin,
    make_engine,
    migrate,
    utcnow,
)
from activities.errors import OutputPathInaccessibleError
from activities.events import (
    DeliverEventResult,
    EventType,
    MaintenanceInput,
    MaintenanceResult,
    NotifyEvent,
)
from activities.guards import WriteGate
from activities.notify import (
    Dispatcher,
    NotifyActivities,
    NotifySettings,
    SendDeps,
    start_redelivery,
)
from tests.fakes.notify_receiver import NotifyReceiver, Reply
from tests.workflows.emit_workflow import EmitTwiceWorkflow
from workflows.notify import DeliverEventWorkflow, NotifyMaintenanceWorkflow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    import sqlalchemy as sa
    from temporalio.testing import WorkflowEnvironment


@dataclass
class World:
    env: WorkflowEnvironment
    db: sa.Engine
    rx: NotifyReceiver
    dispatcher: Dispatcher
    scope: str

    def channel(self, name: str, path: str, **fields: Any) -> int:
        config = {"url": self.rx.url(path)}
        with Session(self.db) as s:
            row = crud_notify_admin.create_channel(
                s,
                NotifyChannel(name=name, kind="webhook", config=config, **fields),
                list(EventType),
            )
            assert row.id is not None
            return row.id

    async def emit(self, key: str = "k", **fields: Any) -> Any:
        event = NotifyEvent(
            type=EventType.STREAM_ONLINE, key=key, summary="alice is live", **fields
        )
        recorded = await self.dispatcher.record(event)
        assert recorded.workflow_id is not None
        return await self.result(recorded.workflow_id)

    def deliveries(self) -> list[NotifyDelivery]:
        with Session(self.db) as s:
            return list(s.exec(select(NotifyDelivery)).all())

    def dead_letters(self) -> list[NotifyDeadLetter]:
        with Session(self.db) as s:
            return list(s.exec(select(NotifyDeadLetter)).all())

    def gaps(self, path: str) -> list[float]:
        stamps = [r.stamp for r in self.rx.on(path)]
        return [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]

    async def result(self, workflow_id: str) -> DeliverEventResult:
        """The delivery workflow's result, skipping time while waiting for it.

        The dispatcher started the workflow and kept no handle: a handle got by
        id does not unlock time skipping by itself, as `execute_workflow` would.
        """
        handle = self.env.client.get_workflow_handle(
            workflow_id, result_type=DeliverEventResult
        )
        unlocked = getattr(self.env, "time_skipping_unlocked", None)
        result: DeliverEventResult
        if unlocked is None:
            result = await handle.result()
            return result
        async with unlocked():
            result = await handle.result()
            return result


def server_clock() -> datetime:
    """The server's time inside an activity: the breaker's cooldown is measured in
    skipped time there, as it is in wall time in production."""
    try:
        return activity.info().current_attempt_scheduled_time
    except RuntimeError:  # not in an activity
        return utcnow()


@pytest.fixture
async def world(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[World]:
    if not env.supports_time_skipping:
        pytest.skip("retry and breaker delays need the time-skipping server")
    db = make_engine(f"sqlite:///{tmp_path}/notify.db")
    migrate(db)
    scope = f"t{uuid.uuid4().hex[:8]}"
    dispatcher = Dispatcher(db, lambda: env.client, scope=scope, clock=server_clock)
    settings = NotifySettings(
        breaker_threshold=3, breaker_cooldown=timedelta(minutes=5)
    )
    async with (
        NotifyReceiver(stamp=env.get_current_time) as rx,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        deps = SendDeps(http=http, timeout=httpx.Timeout(5.0, read=1.0))
        notify = NotifyActivities(
            db, deps, dispatcher, settings=settings, clock=server_clock
        )
        with ThreadPoolExecutor(4) as pool:
            workflows = Worker(
                env.client,
                task_queue=c.WORKFLOW_TASK_QUEUE,
                workflows=[
                    DeliverEventWorkflow,
                    NotifyMaintenanceWorkflow,
                    EmitTwiceWorkflow,
                ],
            )
            io = Worker(
                env.client,
                task_queue=c.IO_TASK_QUEUE,
                activities=[
                    notify.record_event,
                    notify.deliver,
                    notify.dead_letter,
                    notify.prune,
                    notify.redrive,
                ],
                activity_executor=pool,
            )
            async with workflows, io:
                yield World(env, db, rx, dispatcher, scope)
    db.dispose()


async def test_each_subscribed_channel_gets_the_event_once(world):
    world.channel("a", "/a")
    world.channel("b", "/b")
    world.channel("scoped", "/scoped", streamer_ids=[99])

    result = await world.emit(streamer_id=1)
    again = await world.dispatcher.record(
        NotifyEvent(type=EventType.STREAM_ONLINE, key="k", summary="alice is live")
    )

    assert (result.delivered, result.dead) == (2, 0)
    assert not again.created
    assert [len(world.rx.on(p)) for p in ("/a", "/b", "/scoped")] == [1, 1, 0]
    assert {d.status for d in world.deliveries()} == {"delivered"}


async def test_the_emitter_records_one_event_per_transition(world, env):
    world.channel("a", "/a")
    workflow_id = f"streamer-{uuid.uuid4().hex[:6]}"
    await env.client.execute_workflow(
        "EmitTwiceWorkflow", 7, id=workflow_id, task_queue=c.WORKFLOW_TASK_QUEUE
    )
    with Session(world.db) as s:
        events, total = crud_notify_admin.page_events(s, limit=5, offset=0)
    assert total == 1
    assert events[0].key == f"{workflow_id}/session-1/stream_online"
    assert (events[0].streamer_id, events[0].session_id) == (7, 1)
    result = await world.result(f"{world.scope}-event-{events[0].id}")
    assert result.delivered == 1
    assert len(world.rx.on("/a")) == 1
    # a replay of the emitting workflow schedules nothing new: it is deterministic
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    replayer = Replayer(
        workflows=[EmitTwiceWorkflow], data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history)


async def test_transient_failures_are_retried_5s_then_10s(world):
    world.channel("a", "/a")
    world.rx.script("/a", [503, 503, 200])
    result = await world.emit()
    assert result.delivered == 1
    first, second = world.gaps("/a")
    assert 5 <= first < 10
    assert 10 <= second < 20
    (row,) = world.deliveries()
    assert (row.status, row.attempts) == ("delivered", 3)


async def test_a_429_waits_for_its_retry_after(world):
    world.channel("a", "/a")
    world.rx.script("/a", [Reply(429, {"Retry-After": "45"}), 200])
    assert (await world.emit()).delivered == 1
    (gap,) = world.gaps("/a")
    assert 45 <= gap < 60


async def test_the_last_failure_leaves_a_dead_letter_that_can_be_retried(world):
    cid = world.channel("a", "/a")
    world.rx.script("/a", [500])
    assert (await world.emit(streamer_id=3)).dead == 1
    assert len(world.rx.on("/a")) == 3
    (letter,) = world.dead_letters()
    assert letter.channel_id == cid
    assert "answered 500" in letter.error
    assert letter.attempts == 3
    assert letter.payload["event"]["type"] == "stream_online"
    assert letter.payload["body"] == "alice is live"

    world.rx.script("/a", [200])
    await start_redelivery(
        world.env.client, letter.event_id, letter.delivery_id, world.scope
    )
    result = await world.result(f"{world.scope}-redeliver-{letter.delivery_id}")
    assert result.delivered == 1
    assert world.dead_letters() == []
    assert len(world.rx.on("/a")) == 4


async def test_a_refusal_is_dead_lettered_without_retries(world):
    world.channel("a", "/a")
    world.rx.script("/a", [401])
    assert (await world.emit()).dead == 1
    assert len(world.rx.on("/a")) == 1


async def test_timeouts_and_dropped_connections_are_retried(world):
    world.channel("a", "/a")
    world.rx.script("/a", ["hang", "close", 200])
    assert (await world.emit()).delivered == 1
    assert len(world.rx.on("/a")) == 3


async def test_the_breaker_holds_a_failing_channel_for_its_cooldown(world):
    world.channel("a", "/a")
    world.rx.script("/a", [500])
    # three failed sends open the breaker (threshold 3 here)
    assert (await world.emit("first")).dead == 1
    world.rx.script("/a", [200])
    # the next event is not sent while the breaker is open; its retry waits out
    # the cooldown and goes through as the trial
    assert (await world.emit("second")).delivered == 1
    requests = world.rx.on("/a")
    assert len(requests) == 4
    assert (requests[3].stamp - requests[2].stamp).total_seconds() >= 5 * 60 - 1


async def test_maintenance_prunes_and_redrives(world, env):
    world.channel("a", "/a")
    # the activities' clock is the server's, which skipped ahead in earlier tests
    now = await env.get_current_time()
    long_ago = now - timedelta(days=60)
    with Session(world.db) as s:
        crud_notify.record_event(
            s,
            NotifyEvent(type=EventType.FATAL_ERROR, key="old", summary="x"),
            now=long_ago,
        )
        # recorded, then the recorder died before starting its delivery
        crud_notify.record_event(
            s,
            NotifyEvent(type=EventType.FATAL_ERROR, key="stuck", summary="y"),
            now=now - timedelta(minutes=10),
        )
    result: MaintenanceResult = await env.client.execute_workflow(
        "NotifyMaintenanceWorkflow",
        MaintenanceInput(),
        id=f"maintenance-{world.scope}",
        task_queue=c.WORKFLOW_TASK_QUEUE,
        result_type=MaintenanceResult,
    )
    assert (result.pruned_events, result.redriven) == (1, 1)
    with Session(world.db) as s:
        stuck = crud_notify.get_event_by_key(s, "stuck")
        assert stuck is not None
        assert stuck.dispatched_at is not None
        assert stuck.id is not None
    assert (await world.result(f"{world.scope}-event-{stuck.id}")).delivered == 1
    assert len(world.rx.on("/a")) == 1


async def test_secrets_stay_out_of_workflow_histories(world):
    token = "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ-123456789"
    config = {"bot_token": token, "chat_id": "1", "api_base": world.rx.url("")}
    with Session(world.db) as s:
        crud_notify_admin.create_channel(
            s,
            NotifyChannel(name="tg", kind="telegram", config=config),
            ["stream_online"],
        )
    world.rx.script(
        f"/bot{token}/sendMessage",
        [Reply(400, body={"ok": False, "description": f"no such bot {token}"})],
    )
    event = NotifyEvent(type=EventType.STREAM_ONLINE, key="s", summary="alice is live")
    recorded = await world.dispatcher.record(event)
    assert recorded.workflow_id is not None
    assert (await world.result(recorded.workflow_id)).dead == 1
    history = await world.env.client.get_workflow_handle(
        recorded.workflow_id
    ).fetch_history()
    text = history.to_json()
    assert "no such bot" in text  # the error is there...
    assert token not in text  # ...without the token
    assert token not in world.dead_letters()[0].error


async def test_the_write_gate_announces_its_incidents(world, tmp_path):
    world.channel("a", "/a")
    blocker = tmp_path / "disk"
    blocker.write_text("a file where a directory should be")
    root = blocker / "rec"
    gate = WriteGate(
        world.db,
        root,
        cooldown_secs=0.001,
        signaller=lambda ids: asyncio.sleep(0),
        events=world.dispatcher.dispatch_key,
    )
    with pytest.raises(OutputPathInaccessibleError):
        await gate.check("streamer-1")
    blocker.unlink()
    await gate.check("streamer-1")  # the probe heals it

    with Session(world.db) as s:
        events, _ = crud_notify_admin.page_events(s, limit=5, offset=0)
    assert [e.kind for e in events] == [
        "output_path_recovered",
        "output_path_inaccessible",
    ]
    for row in events:
        assert row.dispatched_at is not None
        assert (await world.result(f"{world.scope}-event-{row.id}")).delivered == 1
    bodies = [r.json() for r in world.rx.on("/a")]
    assert {b["event"]["priority_name"] for b in bodies} == {"critical", "normal"}
    assert all(b["event"]["subject"] == str(root) for b in bodies)

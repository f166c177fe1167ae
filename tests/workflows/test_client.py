"""Client helpers against a real dev server: idempotent starts and reconcile."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowExecutionStatus,
)
from temporalio.worker import Worker

from activities import contracts as c
from tests.temporal import start_dev_server
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import config
from workflows import client as client_module
from workflows.client import (
    INSTANCE,
    ForeignWorkflowError,
    reconcile,
    running_streamer_ids,
    signal_streamer,
    start_streamer,
)
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from temporalio.client import WorkflowHandle

A = "aaaaaaaa-0000-4000-8000-00000000000a"
B = "bbbbbbbb-0000-4000-8000-00000000000b"


@dataclass
class StartCounter(Interceptor):
    """Counts the start calls a client makes."""

    starts: list[str] = field(default_factory=list)

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        counter = self

        class _Outbound(OutboundInterceptor):
            async def start_workflow(
                self, input: StartWorkflowInput
            ) -> WorkflowHandle[Any, Any]:
                counter.starts.append(input.id)
                return await super().start_workflow(input)

        return _Outbound(next)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    env = await start_dev_server()
    fakes = FakeActivities(configs={n: config(n) for n in range(1, 8)})
    async with (
        env,
        Worker(
            env.client, task_queue=c.WORKFLOW_TASK_QUEUE, workflows=[StreamerWorkflow]
        ),
        Worker(env.client, task_queue=c.IO_TASK_QUEUE, activities=fakes.all()),
    ):
        yield env.client


def counting(client: Client) -> tuple[Client, StartCounter]:
    counter = StartCounter()
    config = client.config()
    config["interceptors"] = [counter]
    return Client(**config), counter


async def running(
    client: Client, expected: list[int], instance_id: str | None = None
) -> None:
    for _ in range(100):
        if await running_streamer_ids(client, instance_id) == expected:
            return
        await asyncio.sleep(0.1)
    assert await running_streamer_ids(client, instance_id) == expected


async def test_start_is_idempotent_and_marks_the_instance(client):
    assert await start_streamer(client, 1, instance_id=A) is True
    assert await start_streamer(client, 1, instance_id=A) is False
    await running(client, [1], A)
    described = await client.get_workflow_handle("streamer-1").describe()
    assert described.typed_search_attributes.get(INSTANCE) == A


def db(*ids: int) -> Callable[[], Awaitable[list[int]]]:
    """A DB holding the streamers `ids`, as reconcile reads it."""

    async def existing() -> list[int]:
        return list(ids)

    return existing


async def test_reconcile_starts_missing_and_stops_deleted(client):
    await start_streamer(client, 1, instance_id=A)
    await start_streamer(client, 2, instance_id=A)
    await running(client, [1, 2], A)

    done = await reconcile(client, db(2, 3), instance_id=A, stop_signal=c.SIGNAL_STOP)

    assert (done.running, done.started, done.stopped) == ([2], [3], [1])
    assert done.foreign == {}
    result = await client.get_workflow_handle(c.streamer_workflow_id(1)).result()
    assert result["reason"] == "stopped"
    await running(client, [2, 3], A)


async def test_reconcile_starts_only_the_missing(client):
    for sid in range(1, 6):
        await start_streamer(client, sid, instance_id=A)
    await running(client, [1, 2, 3, 4, 5], A)
    counted, counter = counting(client)

    done = await reconcile(
        counted, db(*range(1, 7)), instance_id=A, stop_signal=c.SIGNAL_STOP
    )

    assert done.started == [6]
    assert done.running == [1, 2, 3, 4, 5]
    assert counter.starts == ["streamer-6"]  # one start call, not one per streamer


async def test_reconcile_never_stops_another_instance(client):
    await start_streamer(client, 1, instance_id=A)
    await start_streamer(client, 2, instance_id=A)
    await running(client, [1, 2], A)

    # B's database holds streamer 1 too (ids collide), and not streamer 2
    done = await reconcile(client, db(1), instance_id=B, stop_signal=c.SIGNAL_STOP)

    assert done.foreign == {1: A}
    assert (done.started, done.stopped, done.running) == ([], [], [])
    await running(client, [1, 2], A)
    await running(client, [], B)
    for sid in (1, 2):
        handle = client.get_workflow_handle(c.streamer_workflow_id(sid))
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_signal_and_start_refuse_another_instance(client):
    await start_streamer(client, 1, instance_id=A)
    with pytest.raises(ForeignWorkflowError, match=A):
        await signal_streamer(client, 1, c.SIGNAL_STOP, instance_id=B)
    with pytest.raises(ForeignWorkflowError, match="another srec instance"):
        await start_streamer(client, 1, instance_id=B)
    assert await signal_streamer(client, 2, c.SIGNAL_STOP, instance_id=B) is False
    history = client.get_workflow_handle("streamer-1").fetch_history_events()
    signals = [
        e
        async for e in history
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert signals == []


async def test_a_workflow_from_before_instance_ids_counts_as_ones_own(client):
    # started as the previous release did: no instance in the input or attributes
    await client.start_workflow(
        c.STREAMER_WORKFLOW_TYPE,
        c.StreamerWorkflowInput(streamer_id=7),
        id=c.streamer_workflow_id(7),
        task_queue=c.WORKFLOW_TASK_QUEUE,
    )
    done = await reconcile(client, db(7), instance_id=A, stop_signal=c.SIGNAL_STOP)
    assert (done.running, done.started, done.foreign) == ([7], [], {})
    assert await signal_streamer(client, 7, c.SIGNAL_CHECK_NOW, instance_id=A)


async def test_a_streamer_created_during_reconcile_is_not_stopped(client, monkeypatch):
    # the API creates streamer 9 (and starts its workflow) while the worker
    # reconciles: were the DB read before the list, 9 would be listed running but
    # missing from the DB, and stopped as deleted
    await start_streamer(client, 1, instance_id=A)
    await running(client, [1], A)
    order: list[str] = []
    listed = client_module.running_streamer_ids

    async def listing(*args: object) -> list[int]:
        order.append("list")
        return await listed(*args)  # type: ignore[arg-type]

    async def existing() -> list[int]:
        order.append("db")
        await start_streamer(client, 9, instance_id=A)
        return [1, 9]

    monkeypatch.setattr(client_module, "running_streamer_ids", listing)
    done = await reconcile(client, existing, instance_id=A, stop_signal=c.SIGNAL_STOP)

    assert order == ["list", "db"]
    assert done.stopped == []
    assert done.running == [1, 9]
    await running(client, [1, 9], A)

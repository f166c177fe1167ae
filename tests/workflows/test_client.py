"""Client helpers against a real dev server: idempotent starts and reconcile."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from temporalio.worker import Worker

from activities import contracts as c
from tests.temporal import start_dev_server
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import config
from workflows.client import reconcile, running_streamer_ids, start_streamer
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from temporalio.client import Client


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    env = await start_dev_server()
    fakes = FakeActivities(configs={n: config(n) for n in (1, 2, 3)})
    async with (
        env,
        Worker(
            env.client, task_queue=c.WORKFLOW_TASK_QUEUE, workflows=[StreamerWorkflow]
        ),
        Worker(env.client, task_queue=c.IO_TASK_QUEUE, activities=fakes.all()),
    ):
        yield env.client


async def running(client: Client, expected: list[int]) -> None:
    for _ in range(100):
        if await running_streamer_ids(client) == expected:
            return
        await asyncio.sleep(0.1)
    assert await running_streamer_ids(client) == expected


async def test_start_is_idempotent(client):
    first = await start_streamer(client, 1)
    again = await start_streamer(client, 1)
    assert first.result_run_id == again.result_run_id
    await running(client, [1])


async def test_reconcile_starts_missing_and_stops_deleted(client):
    await start_streamer(client, 1)
    await start_streamer(client, 2)
    await running(client, [1, 2])

    started, stopped = await reconcile(client, [2, 3], stop_signal=c.SIGNAL_STOP)

    assert (started, stopped) == ([2, 3], [1])
    result = await client.get_workflow_handle(c.streamer_workflow_id(1)).result()
    assert result["reason"] == "stopped"
    await running(client, [2, 3])

"""The worker's notification wiring on a dev server: schedule, startup, shutdown."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlmodel import Session
from temporalio.client import ScheduleIntervalSpec
from temporalio.worker import Worker

from activities.contracts import IO_TASK_QUEUE, WORKFLOW_TASK_QUEUE
from activities.db import NotifyChannel, crud_notify_admin, make_engine, migrate
from activities.events import NOTIFY_MAINTENANCE_SCHEDULE_ID, EventType
from activities.notify import Dispatcher, ensure_maintenance_schedule
from tests.fakes.notify_receiver import NotifyReceiver
from tests.temporal import start_dev_server
from worker import notify_wiring
from worker.settings import WorkerSettings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from temporalio.testing import WorkflowEnvironment


@pytest.fixture(scope="module")
async def dev() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_dev_server() as env:
        yield env


async def interval(env: WorkflowEnvironment) -> timedelta:
    desc = await env.client.get_schedule_handle(
        NOTIFY_MAINTENANCE_SCHEDULE_ID
    ).describe()
    (spec,) = desc.schedule.spec.intervals
    assert isinstance(spec, ScheduleIntervalSpec)
    return spec.every


async def test_the_maintenance_schedule_is_created_once_and_kept_current(dev):
    await ensure_maintenance_schedule(dev.client, timedelta(hours=1))
    await ensure_maintenance_schedule(dev.client, timedelta(hours=1))
    assert await interval(dev) == timedelta(hours=1)
    await ensure_maintenance_schedule(dev.client, timedelta(minutes=10))
    assert await interval(dev) == timedelta(minutes=10)
    schedules = [s async for s in await dev.client.list_schedules()]
    assert [s.id for s in schedules].count(NOTIFY_MAINTENANCE_SCHEDULE_ID) == 1


async def test_worker_start_and_stop_are_announced(dev, tmp_path):
    settings = WorkerSettings(data_dir=tmp_path, notify_maintenance_interval_secs=600)
    db = make_engine(settings.database_url)
    migrate(db)
    async with NotifyReceiver() as rx, httpx.AsyncClient(trust_env=False) as http:
        with Session(db) as s:
            crud_notify_admin.create_channel(
                s,
                NotifyChannel(
                    name="ops", kind="webhook", config={"url": rx.url("/ops")}
                ),
                [EventType.SYSTEM_STARTUP, EventType.SYSTEM_SHUTDOWN],
            )
        dispatcher = Dispatcher(db, lambda: dev.client)
        parts = notify_wiring.build(settings, dispatcher, dev.client, http)
        with ThreadPoolExecutor(4) as pool:
            async with (
                Worker(
                    dev.client,
                    task_queue=WORKFLOW_TASK_QUEUE,
                    workflows=notify_wiring.WORKFLOWS,
                ),
                Worker(
                    dev.client,
                    task_queue=IO_TASK_QUEUE,
                    activities=parts.activities(),
                    activity_executor=pool,
                ),
            ):
                await parts.started()
                await rx.wait_for(lambda: len(rx.requests) == 1)
                await parts.stopping()  # returns once delivered
                assert len(rx.requests) == 2
    kinds = [r.json()["event"]["type"] for r in rx.requests]
    assert kinds == ["system_startup", "system_shutdown"]
    assert await interval(dev) == timedelta(minutes=10)
    with Session(db) as s:
        assert crud_notify_admin.page_events(s, limit=9, offset=0)[1] == 2
    db.dispose()

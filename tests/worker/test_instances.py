"""Two srec installs on ONE Temporal server never act on each other's streamers.

Two data dirs (two app databases, two in-process workers running the real
`worker.main.run_worker`) share a dev server, and their streamer ids collide: both
have streamer 1. The workers run one at a time, so every task lands on a known
worker: when only B's worker runs, each activity of A's workflows reaches B.

    A's DB: 1 alice, 2 carol        B's DB: 1 bob, 3 dave      (all disabled: idle)

B starts first and owns streamer-1 and streamer-3. A's reconcile then finds
streamer-1 taken (left alone, not started) and starts streamer-2; it must not stop
streamer-3, which its DB lacks. A reload of B's streamer-1 reaching A's worker is
refused: A's alice never becomes B's config. Then B's reconcile must not stop A's
streamer-2, nor load it. The record and probe activities refuse the same way
(tests/activities/test_ownership.py runs them with a real database).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session
from temporalio.client import WorkflowExecutionStatus

from activities import contracts as c
from activities.db import Streamer, crud, make_engine, migrate
from tests.temporal import start_dev_server
from tests.workflows.test_streamer import eventually
from worker.main import run_worker
from worker.settings import WorkerSettings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    import sqlalchemy as sa
    from temporalio.client import Client, WorkflowHandle
    from temporalio.testing import WorkflowEnvironment

pytestmark = pytest.mark.e2e

STREAMER = "SrecStreamer"
INSTANCE = "SrecInstance"


class Install:
    """One srec install: a data dir, its app database and (when running) a worker."""

    def __init__(self, data_dir: Path, address: str) -> None:
        data_dir.mkdir()
        self.settings = WorkerSettings(
            data_dir=data_dir, temporal_address=address, graceful_shutdown_secs=1.0
        )
        self.db: sa.Engine = make_engine(self.settings.database_url)
        migrate(self.db)
        self._task: asyncio.Task[None] | None = None
        self._shutdown = asyncio.Event()

    def add(self, streamer_id: int, name: str) -> None:
        with Session(self.db) as db:
            crud.create_streamer(
                db,
                Streamer(
                    id=streamer_id,
                    name=name,
                    url=f"http://127.0.0.1:9/{name}.m3u8",
                    platform="generic",
                    enabled=False,
                ),
            )

    def row(self, streamer_id: int) -> tuple[str, Any] | None:
        with Session(self.db) as db:
            streamer = crud.get_streamer(db, streamer_id)
            return None if streamer is None else (streamer.state, streamer.updated_at)

    def instance_id(self) -> str:
        with Session(self.db) as db:
            result = db.connection().exec_driver_sql(
                "SELECT instance_id FROM app_instance"
            )
            value: str = result.scalar_one()
            return value

    def start(self) -> None:
        self._shutdown = asyncio.Event()
        self._task = asyncio.create_task(run_worker(self.settings, self._shutdown))

    async def stop(self) -> None:
        if self._task is not None:
            self._shutdown.set()
            await asyncio.wait_for(self._task, 60)
            self._task = None


@pytest.fixture
async def server() -> AsyncIterator[WorkflowEnvironment]:
    # its own server: the real workers poll the fixed queue names
    async with await start_dev_server() as env:
        yield env


@pytest.fixture
def installs(tmp_path: Path, server: WorkflowEnvironment) -> Iterator[list[Install]]:
    address = server.client.service_client.config.target_host
    pair = [Install(tmp_path / "a", address), Install(tmp_path / "b", address)]
    yield pair
    for install in pair:
        install.db.dispose()


@contextlib.asynccontextmanager
async def running(install: Install) -> AsyncIterator[None]:
    install.start()
    try:
        yield
    finally:
        await install.stop()


def reconciled(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.getMessage().startswith("reconciled:"))


async def attribute(handle: WorkflowHandle[Any, Any], name: str) -> Any:
    described = await handle.describe()
    values = described.search_attributes.get(name) or [None]
    return values[0]


async def refused_load(handle: WorkflowHandle[Any, Any]) -> bool:
    """The workflow's load is pending after a `ForeignInstance` refusal."""
    described = await handle.describe()
    for pending in described.raw_description.pending_activities:
        failure = pending.last_failure.application_failure_info
        if (
            pending.activity_type.name == c.ACTIVITY_LOAD_STREAMER
            and failure.type == "ForeignInstance"
        ):
            return True
    return False


async def load_done(handle: WorkflowHandle[Any, Any]) -> bool:
    described = await handle.describe()
    return not described.raw_description.pending_activities


async def is_running(client: Client, workflow_id: str, run_id: str) -> bool:
    described = await client.get_workflow_handle(workflow_id).describe()
    return (
        described.status == WorkflowExecutionStatus.RUNNING
        and described.run_id == run_id
    )


async def test_two_installs_on_one_server_leave_each_other_alone(
    server: WorkflowEnvironment,
    installs: list[Install],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    client = server.client
    a, b = installs
    a.add(1, "alice")
    a.add(2, "carol")
    b.add(1, "bob")
    b.add(3, "dave")
    one, two, three = (
        client.get_workflow_handle(c.streamer_workflow_id(n)) for n in (1, 2, 3)
    )

    # B alone: its reconcile starts streamer-1 and streamer-3, which project DISABLED
    async with running(b):
        await eventually(lambda: reconciled(caplog) == 1, within=60)
        await eventually(lambda: b.row(1)[0] == "DISABLED")  # type: ignore[index]
        await eventually(lambda: b.row(3)[0] == "DISABLED")  # type: ignore[index]
    b_one = (await one.describe()).run_id
    b_three = (await three.describe()).run_id
    a_alice = a.row(1)

    # A alone: it must neither stop B's streamer-3 (A's DB lacks it) nor take over
    # streamer-1; and a reload of B's streamer-1, landing on A, must load nothing
    async with running(a):
        await eventually(lambda: reconciled(caplog) == 2, within=60)
        await eventually(lambda: a.row(2)[0] == "DISABLED")  # type: ignore[index]
        assert await is_running(client, "streamer-3", b_three), "A stopped B's"
        assert await is_running(client, "streamer-1", b_one), "A restarted B's"
        await one.signal(c.SIGNAL_CONFIG_CHANGED)
        await eventually(lambda: refused_load(one), within=60)
        assert await attribute(one, STREAMER) == "bob", "A loaded its alice for B"
    a_two = (await two.describe()).run_id
    assert a.row(1) == a_alice  # A's streamer 1 was never run, nor projected
    assert await attribute(one, INSTANCE) == b.instance_id()
    assert await attribute(two, INSTANCE) == a.instance_id()
    assert await attribute(three, INSTANCE) == b.instance_id()

    # B again: its reconcile must not stop A's streamer-2 (B's DB lacks it); B's own
    # reload of streamer-1 now completes, and a reload of A's streamer-2 is refused
    b_bob = b.row(1)
    async with running(b):
        await eventually(lambda: reconciled(caplog) == 3, within=60)
        assert await is_running(client, "streamer-2", a_two), "B stopped A's"
        await eventually(lambda: load_done(one), within=90)
        await two.signal(c.SIGNAL_CONFIG_CHANGED)
        await eventually(lambda: refused_load(two), within=60)
        assert await attribute(two, STREAMER) == "carol", "B loaded for A"
    for workflow_id, run_id in (
        ("streamer-1", b_one),
        ("streamer-2", a_two),
        ("streamer-3", b_three),
    ):
        assert await is_running(client, workflow_id, run_id)
    assert b.row(1) == b_bob
    assert b.row(2) is None
    refusals = [r for r in caplog.records if r.name == "activities.ownership"]
    assert any("streamer-1" in r.getMessage() for r in refusals)
    assert any("streamer-2" in r.getMessage() for r in refusals)
    # A's reconcile named the streamer it cannot monitor; B's DB has no streamer 2
    (not_monitored,) = [
        r.getMessage() for r in caplog.records if "not monitored" in r.getMessage()
    ]
    assert f"streamer-1 (instance {b.instance_id()})" in not_monitored

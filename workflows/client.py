"""Client-side helpers every door into srec uses: connect, start and signal workflows.

The API, the worker's start-up reconcile and the `srec` command all start and nudge
streamer workflows through these functions, so starting is idempotent and bounded
the same way everywhere.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import (
    STREAMER_WORKFLOW_TYPE,
    WORKFLOW_TASK_QUEUE,
    SignalInput,
    StreamerWorkflowInput,
    streamer_id_from_workflow_id,
    streamer_workflow_id,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

# The dev server keeps its state in SQLite: a burst of starts is queued, not fired.
MAX_CONCURRENT_STARTS = 4
_start_slots: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, asyncio.Semaphore
] = weakref.WeakKeyDictionary()


def _slots() -> asyncio.Semaphore:
    # one semaphore per event loop: a semaphore is bound to the loop it first waits on
    loop = asyncio.get_running_loop()
    if loop not in _start_slots:
        _start_slots[loop] = asyncio.Semaphore(MAX_CONCURRENT_STARTS)
    return _start_slots[loop]


async def connect(address: str, namespace: str = "default") -> Client:
    """Connect with the pydantic data converter every srec process uses."""
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter
    )


async def start_streamer(
    client: Client, streamer_id: int
) -> WorkflowHandle[None, None]:
    """Start the streamer's workflow unless it already runs (idempotent)."""
    async with _slots():
        return await client.start_workflow(
            STREAMER_WORKFLOW_TYPE,
            StreamerWorkflowInput(streamer_id=streamer_id),
            id=streamer_workflow_id(streamer_id),
            task_queue=WORKFLOW_TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )


async def signal_streamer(
    client: Client, streamer_id: int, signal: str, *, reason: str = ""
) -> bool:
    """Send a control signal; False when the workflow is not running."""
    handle = client.get_workflow_handle(streamer_workflow_id(streamer_id))
    try:
        await handle.signal(signal, SignalInput(reason=reason))
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def running_streamer_ids(client: Client) -> list[int]:
    """Ids of the streamers whose workflows are running, per Temporal visibility."""
    query = f"WorkflowType = '{STREAMER_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
    ids: list[int] = []
    async for execution in client.list_workflows(query):
        streamer_id = streamer_id_from_workflow_id(execution.id)
        if streamer_id is not None:
            ids.append(streamer_id)
    return sorted(ids)


async def reconcile(
    client: Client, existing: Iterable[int], *, stop_signal: str
) -> tuple[list[int], list[int]]:
    """Make running workflows match the streamers in the DB.

    Args:
        client: the Temporal client.
        existing: ids of every streamer in the DB.
        stop_signal: the signal that makes a streamer workflow finish.

    Returns:
        The ids started (or found running) and the ids told to stop.
    """
    wanted = sorted(set(existing))
    running = await running_streamer_ids(client)
    await asyncio.gather(*(start_streamer(client, sid) for sid in wanted))
    orphans = [sid for sid in running if sid not in set(wanted)]
    await asyncio.gather(
        *(
            signal_streamer(client, sid, stop_signal, reason="deleted")
            for sid in orphans
        )
    )
    return wanted, orphans

"""Client-side helpers every door into srec uses: connect, start and signal workflows.

The API, the worker's start-up reconcile and the `srec` command all start and nudge
streamer workflows through these functions, so starting is idempotent and bounded
the same way everywhere.

Each app database has an instance id (`activities.db.app_instance_id`), and the
workflows it starts carry it (input and the `SrecInstance` search attribute). Two
installs may share one Temporal server, and then `streamer-1` exists once for both:
these helpers act only on their own instance's workflows. Another instance's is
refused (`ForeignWorkflowError`), never stopped; a workflow started before instance
ids (no `SrecInstance`) counts as one's own, and adopts the id at its next load.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import (
    SEARCH_ATTRIBUTE_INSTANCE,
    STREAMER_WORKFLOW_TYPE,
    WORKFLOW_TASK_QUEUE,
    SignalInput,
    StreamerWorkflowInput,
    streamer_id_from_workflow_id,
    streamer_workflow_id,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from temporalio.runtime import Runtime

T = TypeVar("T")

# The dev server keeps its state in SQLite: a burst of starts is queued, not fired.
MAX_CONCURRENT_STARTS = 4
# Reconcile hands the starts over in batches of this size, so a DB of 10,000
# streamers never holds 10,000 pending coroutines.
START_BATCH = 100
INSTANCE = SearchAttributeKey.for_keyword(SEARCH_ATTRIBUTE_INSTANCE)
_INSTANCE_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")
_start_slots: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, asyncio.Semaphore
] = weakref.WeakKeyDictionary()


class ForeignWorkflowError(Exception):
    """The streamer's workflow runs for another srec instance: it is left alone.

    Args:
        streamer_id: the streamer whose workflow id is taken.
        owner: the instance id of the database that owns the running workflow.
    """

    def __init__(self, streamer_id: int, owner: str) -> None:
        self.streamer_id = streamer_id
        self.owner = owner
        super().__init__(
            f"{streamer_workflow_id(streamer_id)} belongs to another srec instance "
            f"({owner}) sharing this Temporal server; it is left alone"
        )


def _slots() -> asyncio.Semaphore:
    # one semaphore per event loop: a semaphore is bound to the loop it first waits on
    loop = asyncio.get_running_loop()
    if loop not in _start_slots:
        _start_slots[loop] = asyncio.Semaphore(MAX_CONCURRENT_STARTS)
    return _start_slots[loop]


async def connect(
    address: str, namespace: str = "default", runtime: Runtime | None = None
) -> Client:
    """Connect with the pydantic data converter every srec process uses.

    Args:
        address: the frontend's host:port.
        namespace: the Temporal namespace.
        runtime: the SDK runtime (a worker's, with its metrics endpoint); None:
            the default one.
    """
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )


def namespace_missing(err: RPCError) -> bool:
    """NOT_FOUND for the namespace, not for a workflow.

    A dev server whose namespace cache fell behind under load answers so for a
    while ("Namespace default is not found."), as does a namespace not registered
    yet: Temporal is not usable, which says nothing about any workflow.
    """
    return err.status == RPCStatusCode.NOT_FOUND and err.message.lower().startswith(
        "namespace"
    )


def workflow_missing(err: RPCError) -> bool:
    """NOT_FOUND for the workflow asked about (not for the namespace)."""
    return err.status == RPCStatusCode.NOT_FOUND and not namespace_missing(err)


async def workflow_owner(client: Client, streamer_id: int) -> str | None:
    """The instance that owns the streamer's running workflow.

    Returns:
        Its instance id; "" for a running workflow that has none yet (started
        before instance ids); None when no workflow runs.
    """
    handle = client.get_workflow_handle(streamer_workflow_id(streamer_id))
    try:
        described = await handle.describe()
    except RPCError as err:
        if workflow_missing(err):
            return None
        raise
    if described.status != WorkflowExecutionStatus.RUNNING:
        return None
    return described.typed_search_attributes.get(INSTANCE) or ""


async def _try_start(client: Client, streamer_id: int, instance_id: str) -> str | None:
    """Start the workflow; None when this call started it, else its owner (or "")."""
    # twice: a run that ends between the refused start and the describe is retried
    for _ in range(2):
        async with _slots():
            try:
                await client.start_workflow(
                    STREAMER_WORKFLOW_TYPE,
                    StreamerWorkflowInput(
                        streamer_id=streamer_id, instance_id=instance_id
                    ),
                    id=streamer_workflow_id(streamer_id),
                    task_queue=WORKFLOW_TASK_QUEUE,
                    search_attributes=TypedSearchAttributes(
                        [SearchAttributePair(INSTANCE, instance_id)]
                    ),
                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                )
            except WorkflowAlreadyStartedError:
                pass
            else:
                return None
        owner = await workflow_owner(client, streamer_id)
        if owner is not None:
            return owner
    return ""


async def start_streamer(client: Client, streamer_id: int, *, instance_id: str) -> bool:
    """Start the streamer's workflow for this instance unless it runs (idempotent).

    Args:
        client: the Temporal client.
        streamer_id: the streamer in this instance's database.
        instance_id: this instance's id.

    Returns:
        True when this call started it, False when it already ran.

    Raises:
        ForeignWorkflowError: `streamer-<id>` runs for another instance.
    """
    owner = await _try_start(client, streamer_id, instance_id)
    if owner is None:
        return True
    if owner not in ("", instance_id):
        raise ForeignWorkflowError(streamer_id, owner)
    return False


async def signal_streamer(
    client: Client, streamer_id: int, signal: str, *, instance_id: str, reason: str = ""
) -> bool:
    """Send a control signal to this instance's workflow of the streamer.

    Returns:
        False when no workflow runs.

    Raises:
        ForeignWorkflowError: it runs for another instance (nothing is sent).
    """
    owner = await workflow_owner(client, streamer_id)
    if owner is None:
        return False
    if owner not in ("", instance_id):
        raise ForeignWorkflowError(streamer_id, owner)
    return await _signal(client, streamer_id, signal, reason)


async def _signal(client: Client, streamer_id: int, signal: str, reason: str) -> bool:
    handle = client.get_workflow_handle(streamer_workflow_id(streamer_id))
    try:
        await handle.signal(signal, SignalInput(reason=reason))
    except RPCError as err:
        if workflow_missing(err):
            return False
        raise
    return True


def _running_query(instance_id: str | None) -> str:
    query = f"WorkflowType = '{STREAMER_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
    if instance_id is None:
        return query
    if not _INSTANCE_ID.match(instance_id):
        raise ValueError(f"not an instance id: {instance_id!r}")
    return f"{query} AND {SEARCH_ATTRIBUTE_INSTANCE} = '{instance_id}'"


async def running_streamer_ids(
    client: Client, instance_id: str | None = None
) -> list[int]:
    """Ids of the streamers whose workflows run, per Temporal visibility.

    Args:
        client: the Temporal client.
        instance_id: only this instance's workflows; None = every instance's.
    """
    ids: list[int] = []
    async for execution in client.list_workflows(_running_query(instance_id)):
        streamer_id = streamer_id_from_workflow_id(execution.id)
        if streamer_id is not None:
            ids.append(streamer_id)
    return sorted(ids)


@dataclass
class Reconciled:
    """What a reconcile found and did, by streamer id."""

    running: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)
    # streamer id -> the instance id of the other install whose workflow has its id
    foreign: dict[int, str] = field(default_factory=dict)


async def _in_batches(items: list[int], call: Callable[[int], Awaitable[T]]) -> list[T]:
    results: list[T] = []
    for first in range(0, len(items), START_BATCH):
        batch = items[first : first + START_BATCH]
        results += await asyncio.gather(*(call(item) for item in batch))
    return results


async def reconcile(
    client: Client,
    existing: Callable[[], Awaitable[Iterable[int]]],
    *,
    instance_id: str,
    stop_signal: str,
) -> Reconciled:
    """Make this instance's running workflows match the streamers in its DB.

    One visibility query lists the instance's running workflows; only the missing
    ones are started (at most `MAX_CONCURRENT_STARTS` at once), and only the
    instance's own workflows whose streamer is gone are told to stop. A missing one
    whose id runs for another instance is reported in `foreign`, never touched.

    The DB is read after the list: a streamer created meanwhile (its workflow
    started by the API) is then in the DB too, never taken for a deleted one.

    Args:
        client: the Temporal client.
        existing: reads the ids of every streamer in the DB.
        instance_id: this instance's id.
        stop_signal: the signal that makes a streamer workflow finish.

    Returns:
        The streamers found running, started, stopped and held by another instance.
    """
    own = set(await running_streamer_ids(client, instance_id))
    wanted = set(await existing())
    done = Reconciled(running=sorted(wanted & own))
    missing = sorted(wanted - own)
    owners = await _in_batches(
        missing, lambda sid: _try_start(client, sid, instance_id)
    )
    for streamer_id, owner in zip(missing, owners, strict=True):
        if owner is None:
            done.started.append(streamer_id)
        elif owner in ("", instance_id):
            # started since the query, or from before instance ids: ours either way
            done.running.append(streamer_id)
        else:
            done.foreign[streamer_id] = owner
    done.running.sort()
    done.stopped = sorted(own - wanted)
    await _in_batches(
        done.stopped, lambda sid: _signal(client, sid, stop_signal, "deleted")
    )
    return done

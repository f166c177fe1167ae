"""Starting the shard pollers of an instance: idempotent, at every worker start.

`ensure_pollers` starts `PollerWorkflow` `poller-<instance>-<shard>` for every shard
that does not run, leaves running ones alone (several workers starting at once
start each shard once), and replaces those started with another shard count:
shards of two counts would poll some streamers twice and others never. The shard
count rides in each run's memo, where a visibility listing can read it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import (
    POLLER_WORKFLOW_TYPE,
    SEARCH_ATTRIBUTE_INSTANCE,
    WORKFLOW_TASK_QUEUE,
    PollerWorkflowInput,
    poller_workflow_id,
)

if TYPE_CHECKING:
    from temporalio.client import Client

log = logging.getLogger(__name__)

INSTANCE = SearchAttributeKey.for_keyword(SEARCH_ATTRIBUTE_INSTANCE)
MEMO_SHARDS = "shards"
_INSTANCE_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")


@dataclass
class Pollers:
    """What `ensure_pollers` found and did, by shard."""

    running: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)


async def _running(client: Client, instance_id: str) -> dict[str, int | None]:
    """Workflow id → shard count of this instance's running pollers."""
    if not _INSTANCE_ID.match(instance_id):
        raise ValueError(f"not an instance id: {instance_id!r}")
    query = (
        f"WorkflowType = '{POLLER_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' "
        f"AND {SEARCH_ATTRIBUTE_INSTANCE} = '{instance_id}'"
    )
    found: dict[str, int | None] = {}
    async for execution in client.list_workflows(query):
        memo = await execution.memo()
        shards = memo.get(MEMO_SHARDS)
        found[execution.id] = shards if isinstance(shards, int) else None
    return found


async def ensure_pollers(
    client: Client,
    instance_id: str,
    shards: int,
    *,
    heartbeat_timeout_secs: float = 30.0,
) -> Pollers:
    """Make `shards` pollers of this instance run, and only those.

    Args:
        client: the Temporal client.
        instance_id: this instance's id (`activities.db.app_instance_id`).
        shards: how many shards the instance's streamers are split into.
        heartbeat_timeout_secs: how soon a lost worker's shard moves on.

    Returns:
        The shards found running, started and replaced, and the pollers of a
        former larger count that were stopped.
    """
    done = Pollers()
    running = await _running(client, instance_id)
    wanted = {poller_workflow_id(instance_id, k): k for k in range(shards)}
    for workflow_id in running:
        if workflow_id not in wanted:
            await _terminate(client, workflow_id, f"now {shards} shard(s)")
            done.stopped.append(workflow_id)
    for workflow_id, shard in wanted.items():
        if running.get(workflow_id) == shards:
            done.running.append(shard)
            continue
        replace = workflow_id in running
        inp = PollerWorkflowInput(
            instance_id=instance_id,
            shard=shard,
            shards=shards,
            heartbeat_timeout_secs=heartbeat_timeout_secs,
        )
        try:
            await client.start_workflow(
                POLLER_WORKFLOW_TYPE,
                inp,
                id=workflow_id,
                task_queue=WORKFLOW_TASK_QUEUE,
                memo={MEMO_SHARDS: shards},
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(INSTANCE, instance_id)]
                ),
                id_conflict_policy=(
                    WorkflowIDConflictPolicy.TERMINATE_EXISTING
                    if replace
                    else WorkflowIDConflictPolicy.USE_EXISTING
                ),
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            done.running.append(shard)
            continue
        (done.replaced if replace else done.started).append(shard)
    log.info(
        "shard pollers: %d running, %d started, %d replaced, %d stopped",
        len(done.running),
        len(done.started),
        len(done.replaced),
        len(done.stopped),
    )
    return done


async def _terminate(client: Client, workflow_id: str, reason: str) -> None:
    try:
        await client.get_workflow_handle(workflow_id).terminate(reason=reason)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise

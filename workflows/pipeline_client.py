"""Starting, retrying and cancelling pipeline runs: what every door into srec uses.

Starts are idempotent: the caller names the run (`pipeline-<kind>-<key>`); a start
for an id that runs joins it, and one for an id that already ran returns it without
running it again. A retry goes to the running workflow as the `retry` update; once
the workflow has closed, it starts a new execution of the same id with the
completed steps carried, which re-runs every failed or cancelled step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import (
    CPU_TASK_QUEUE,
    IO_TASK_QUEUE,
    WORKFLOW_TASK_QUEUE,
    host_queue,
)
from activities.pipeline_contracts import (
    PIPELINE_WORKFLOW_TYPE,
    UPDATE_PIPELINE_CANCEL,
    UPDATE_PIPELINE_RETRY,
    CancelInput,
    PipelineInput,
    RetryInput,
    StepsChanged,
)
from activities.pipeline_triggers import start_run

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


class NothingToDoError(Exception):
    """The run has no step the command applies to (its update validator said why)."""


class MixedHostsError(ValueError):
    """The files of one run are on the disks of different hosts (per-host placement)."""


def step_queues(hosts: Iterable[str | None]) -> dict[str, str]:
    """Where a run's cpu and io steps go, given the hosts its files were recorded on.

    With shared storage (no host) any worker can reach the files: the shared
    `srec-cpu` and `srec-io`. With per-host placement the files are on one host's
    disk: its `srec-cpu@<host>` and `srec-io@<host>`, which only that host serves.

    Returns:
        {"cpu": queue, "io": queue}, as `PipelineInput.cpu_queue`/`io_queue`.

    Raises:
        MixedHostsError: the files are on more than one host: no worker sees them all.
    """
    found = sorted({host for host in hosts if host})
    if len(found) > 1:
        raise MixedHostsError(
            f"the files were recorded on different hosts ({', '.join(found)}): "
            "with per-host placement one run's files must be on one host"
        )
    host = found[0] if found else None
    return {
        "cpu": host_queue(CPU_TASK_QUEUE, host),
        "io": host_queue(IO_TASK_QUEUE, host),
    }


async def start_pipeline(
    client: Client,
    workflow_id: str,
    inp: PipelineInput,
    *,
    task_queue: str = WORKFLOW_TASK_QUEUE,
) -> WorkflowHandle[Any, Any]:
    """Start a pipeline run unless it runs or ran already (idempotent)."""
    await start_run(client, workflow_id, inp, task_queue=task_queue)
    return client.get_workflow_handle(workflow_id)


def _closed(err: RPCError) -> bool:
    # an update to a closed (or never started) workflow
    return err.status == RPCStatusCode.NOT_FOUND or "completed" in err.message


async def retry_pipeline(
    client: Client,
    workflow_id: str,
    step_ids: Sequence[str] | None,
    rerun: PipelineInput,
    *,
    task_queue: str = WORKFLOW_TASK_QUEUE,
) -> list[str]:
    """Re-run failed/cancelled steps: in the running workflow, else in a new run.

    Args:
        client: the Temporal client.
        workflow_id: the run's workflow id.
        step_ids: the steps to retry (None: every failed or cancelled one).
        rerun: the input of a new execution if the workflow has closed, with the
            completed steps in `carried`.
        task_queue: the workflow task queue.

    Returns:
        The steps that will run again (for a new execution: every step not carried).

    Raises:
        NothingToDoError: the running workflow has nothing to retry.
    """
    handle = client.get_workflow_handle(workflow_id)
    try:
        changed: StepsChanged = await handle.execute_update(
            UPDATE_PIPELINE_RETRY,
            RetryInput(step_ids=list(step_ids) if step_ids is not None else None),
            result_type=StepsChanged,
        )
        return changed.step_ids
    except WorkflowUpdateFailedError as err:
        raise NothingToDoError(str(err.cause or err)) from err
    except RPCError as err:
        if not _closed(err):
            raise
    if len(rerun.carried) == len(rerun.steps):
        raise NothingToDoError("every step of this run completed")
    await client.start_workflow(
        PIPELINE_WORKFLOW_TYPE,
        rerun,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    )
    return [s.id for s in rerun.steps if s.id not in rerun.carried]


async def cancel_pipeline(
    client: Client, workflow_id: str, step_ids: Sequence[str] | None
) -> list[str]:
    """Cancel steps of a running pipeline (None: all of them).

    Raises:
        NothingToDoError: nothing runs or waits (the run may have closed).
    """
    handle = client.get_workflow_handle(workflow_id)
    try:
        changed: StepsChanged = await handle.execute_update(
            UPDATE_PIPELINE_CANCEL,
            CancelInput(step_ids=list(step_ids) if step_ids is not None else None),
            result_type=StepsChanged,
        )
    except WorkflowUpdateFailedError as err:
        raise NothingToDoError(str(err.cause or err)) from err
    except RPCError as err:
        if not _closed(err):
            raise
        raise NothingToDoError("the run has finished") from err
    return changed.step_ids

"""A store activity called from a workflow, waiting out other instances' refusals.

Store activities (`activities.store.StoreActivities`) run on the shared IO queue,
where the workers of another srec instance (another app database) may take them and
refuse with `ForeignInstance`. Such a refusal must never end the workflow: when the
activity's retries run out on it (this instance's workers are down), the workflow
waits `FOREIGN_INSTANCE_WAIT` and asks again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from workflows import options as o

if TYPE_CHECKING:
    from collections.abc import Callable

A = TypeVar("A")
R = TypeVar("R")


async def call_store(method: Callable[[Any, A], R], arg: A, instance: str | None) -> R:
    """Run the store activity `method(arg)` for `instance` (see the module doc)."""
    while True:
        try:
            return await workflow.execute_activity_method(
                method,
                arg,
                task_queue=c.IO_TASK_QUEUE,
                start_to_close_timeout=o.STORE_TIMEOUT,
                retry_policy=o.STORE_RETRY,
            )
        except ActivityError as err:
            cause = err.cause
            if not (
                isinstance(cause, ApplicationError)
                and cause.type == c.ERROR_FOREIGN_INSTANCE
            ):
                raise
            workflow.logger.warning(
                "no worker of instance %s took a store activity; asking again",
                instance,
            )
            await workflow.sleep(o.FOREIGN_INSTANCE_WAIT)

"""Notification workflows, and the seam other workflows emit events through.

* `EventEmitter` (used inside a workflow): `emit(...)` schedules the
  `notify.record_event` activity in the same workflow task as the decision it
  reports, keyed `<workflow id>/<transition>`; `drain()` awaits them before the
  workflow continues as new or ends. A replay re-uses the recorded activity, and
  a retried activity finds the event by its key: one event per transition.
* `DeliverEventWorkflow` (`notify-event-<id>`, `notify-redeliver-<delivery>`):
  one `notify.deliver` activity per channel, in parallel, each retried 3 times
  (5 s → 60 s, or a 429's Retry-After); a delivery that fails its last attempt
  gets a dead letter. One short workflow per event keeps every history small.
* `NotifyMaintenanceWorkflow` (run by the `srec-notify-maintenance` schedule):
  prunes the event log and dead letters, and redrives undispatched events.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from activities import events as e

DELIVER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=3,
)
# recording an event is a DB write: ride out a restarting DB for ~30 minutes
RECORD_EVENT_TIMEOUT = timedelta(seconds=30)
RECORD_EVENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=40,
)
BOOKKEEPING_TIMEOUT = timedelta(minutes=5)
BOOKKEEPING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=20,
)


def event_key(transition: str) -> str:
    """The idempotency key of this workflow's event for one transition.

    Args:
        transition: unique within the workflow id and stable across replays and
            continue-as-new, e.g. `session-42/stream_online`.

    A key longer than the event model allows (a long workflow id) keeps its
    transition and replaces the rest by its SHA-256: still one key per cause.
    """
    key = f"{workflow.info().workflow_id}/{transition}"
    if len(key) <= e.KEY_MAX_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{digest}/{transition}"[: e.KEY_MAX_LENGTH]


class EventEmitter:
    """Emits notification events from inside a workflow (see the module docstring).

    The activity runs in the background: the workflow goes on at once. A failure
    (after the retries) is logged, never raised: a notification must not fail the
    workflow that reports. `local=True` runs it as a local activity on the
    workflow's own worker: one marker in history instead of an srec-io task (three
    events and a workflow task), for short workflows started by the thousand.
    """

    def __init__(self, *, local: bool = False) -> None:
        self._pending: list[asyncio.Task[Any]] = []
        self._local = local

    def emit(self, event_type: e.EventType, transition: str, **fields: Any) -> None:
        """Record one event; `fields` are `activities.events.NotifyEvent` fields.

        Args:
            event_type: what happened.
            transition: names the transition (see `event_key`).
            **fields: `summary` (required), `streamer_id`, `streamer_name`,
                `session_id`, `title`, `subject`, `detail`, `priority`.
        """
        event = e.NotifyEvent(
            type=event_type,
            key=event_key(transition),
            occurred_at=workflow.now(),
            **fields,
        )
        handle = (
            workflow.start_local_activity(
                e.ACTIVITY_RECORD_EVENT,
                e.RecordEventInput(event=event),
                start_to_close_timeout=RECORD_EVENT_TIMEOUT,
                retry_policy=RECORD_EVENT_RETRY,
                result_type=e.RecordEventResult,
            )
            if self._local
            else workflow.start_activity(
                e.ACTIVITY_RECORD_EVENT,
                e.RecordEventInput(event=event),
                task_queue=c.IO_TASK_QUEUE,
                start_to_close_timeout=RECORD_EVENT_TIMEOUT,
                retry_policy=RECORD_EVENT_RETRY,
                result_type=e.RecordEventResult,
            )
        )
        for task in self._pending:
            if task.done() and not task.cancelled() and task.exception() is not None:
                workflow.logger.warning("notification event lost: %s", task.exception())
        self._pending = [t for t in self._pending if not t.done()] + [handle]

    async def drain(self) -> None:
        """Wait until every emitted event is recorded (or given up on)."""
        pending, self._pending = self._pending, []
        for task in pending:
            try:
                await task
            except ActivityError as err:
                workflow.logger.warning("notification event lost: %s", err.cause)


@workflow.defn(name=e.DELIVER_EVENT_WORKFLOW_TYPE)
class DeliverEventWorkflow:
    """Delivers one event to its channels (see the module docstring)."""

    @workflow.run
    async def run(self, inp: e.DeliverEventInput) -> e.DeliverEventResult:
        outcomes = await asyncio.gather(
            *(self._deliver(d, inp.redeliver) for d in inp.delivery_ids)
        )
        return e.DeliverEventResult(
            delivered=outcomes.count("delivered"),
            skipped=outcomes.count("skipped"),
            dead=outcomes.count("dead"),
        )

    async def _deliver(self, delivery_id: int, redeliver: bool) -> str:
        try:
            result: e.DeliverResult = await workflow.execute_activity(
                e.ACTIVITY_DELIVER,
                e.DeliverInput(delivery_id=delivery_id, redeliver=redeliver),
                task_queue=c.IO_TASK_QUEUE,
                start_to_close_timeout=e.DELIVER_TIMEOUT,
                retry_policy=DELIVER_RETRY,
                result_type=e.DeliverResult,
            )
            return result.status
        except ActivityError as err:
            reason = str(err.cause) if err.cause is not None else str(err)
        await workflow.execute_activity(
            e.ACTIVITY_DEAD_LETTER,
            e.DeadLetterInput(delivery_id=delivery_id, error=reason[:4000]),
            task_queue=c.IO_TASK_QUEUE,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
            result_type=e.DeadLetterResult,
        )
        return "dead"


@workflow.defn(name=e.NOTIFY_MAINTENANCE_WORKFLOW_TYPE)
class NotifyMaintenanceWorkflow:
    """Prunes the event log and dead letters; redrives undispatched events."""

    @workflow.run
    async def run(self, inp: e.MaintenanceInput) -> e.MaintenanceResult:
        del inp
        pruned = await workflow.execute_activity(
            e.ACTIVITY_PRUNE,
            e.PruneInput(),
            task_queue=c.IO_TASK_QUEUE,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
            result_type=e.PruneResult,
        )
        redriven = await workflow.execute_activity(
            e.ACTIVITY_REDRIVE,
            e.RedriveInput(),
            task_queue=c.IO_TASK_QUEUE,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
            result_type=e.RedriveResult,
        )
        return e.MaintenanceResult(
            pruned_events=pruned.events,
            pruned_dead_letters=pruned.dead_letters,
            redriven=redriven.started,
        )

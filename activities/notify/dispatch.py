"""Recording events and starting their delivery: the emitter for every caller.

    caller ──record (one transaction: event + deliveries)──► app DB
           ──start DeliverEventWorkflow `notify-event-<id>`──► Temporal
           ──mark the event dispatched──► app DB

* Workflows call the `notify.record_event` activity (`NotifyActivities`), which
  calls `Dispatcher.record`: a retried attempt finds the event by its key and
  starts the same workflow id again, which Temporal answers with the running one.
* Plain Python (the write gate, the worker's start and stop) calls
  `Dispatcher.emit`, which never raises: a notification must not break its caller.
* A crash between the record and the start leaves the event undispatched; the
  maintenance schedule's `redrive` starts it later. Starting twice is harmless:
  the deliveries already delivered are never sent again.

`ensure_maintenance_schedule` creates that schedule (idempotently, at each
worker start).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from activities.contracts import WORKFLOW_TASK_QUEUE
from activities.db import crud_notify
from activities.db.tables import utcnow
from activities.events import (
    DEFAULT_SCOPE,
    DELIVER_EVENT_WORKFLOW_TYPE,
    NOTIFY_MAINTENANCE_SCHEDULE_ID,
    NOTIFY_MAINTENANCE_WORKFLOW_ID,
    NOTIFY_MAINTENANCE_WORKFLOW_TYPE,
    DeliverEventInput,
    MaintenanceInput,
    NotifyEvent,
    RecordEventResult,
    deliver_event_workflow_id,
    redeliver_workflow_id,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    import sqlalchemy as sa
    from temporalio.client import Client

log = logging.getLogger(__name__)

START_RPC_TIMEOUT = timedelta(seconds=10)
REDRIVE_BATCH = 200


class Dispatcher:
    """Records events and starts their delivery workflows.

    Args:
        db: the app database engine.
        get_client: the Temporal client (in an activity: `activity.client`).
        clock: wall clock (UTC), replaceable in tests.
        scope: prefix of the delivery workflows' ids (`deliver_event_workflow_id`).
    """

    def __init__(
        self,
        db: sa.Engine,
        get_client: Callable[[], Client],
        *,
        clock: Callable[[], datetime] = utcnow,
        scope: str = DEFAULT_SCOPE,
    ) -> None:
        self.db = db
        self.get_client = get_client
        self.clock = clock
        self.scope = scope

    async def record(self, event: NotifyEvent) -> RecordEventResult:
        """Record an event (once per key) and start its delivery.

        Raises:
            Exception: the DB or Temporal failed; calling again is safe.
        """
        recorded = await asyncio.to_thread(self._record_sync, event)
        if not recorded.dispatched:
            await self.start(recorded.event_id, recorded.delivery_ids)
        return RecordEventResult(
            event_id=recorded.event_id,
            created=recorded.created,
            deliveries=len(recorded.delivery_ids),
            workflow_id=(
                deliver_event_workflow_id(recorded.event_id, self.scope)
                if recorded.delivery_ids
                else None
            ),
        )

    async def emit(self, event: NotifyEvent) -> RecordEventResult | None:
        """`record` for callers that are not workflows: failures are only logged.

        Returns:
            What was recorded; None when the DB could not be written. When only
            the start failed, the event is recorded and the redrive delivers it.
        """
        try:
            return await self.record(event)
        except Exception as err:  # the caller's own work must go on
            log.warning("event %s (%s) not dispatched: %s", event.type, event.key, err)
            return None

    async def dispatch_key(self, key: str) -> None:
        """Start delivering an event recorded elsewhere (never raises)."""
        try:
            found = await asyncio.to_thread(self._pending_by_key, key)
            if found is not None:
                await self.start(*found)
        except Exception as err:  # the redrive catches up
            log.warning("event %s not dispatched: %s", key, err)

    async def start(self, event_id: int, delivery_ids: list[int]) -> None:
        """Start (or find running) the event's delivery workflow, then mark it."""
        if delivery_ids:
            await self.get_client().start_workflow(
                DELIVER_EVENT_WORKFLOW_TYPE,
                DeliverEventInput(event_id=event_id, delivery_ids=delivery_ids),
                id=deliver_event_workflow_id(event_id, self.scope),
                task_queue=WORKFLOW_TASK_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                rpc_timeout=START_RPC_TIMEOUT,
            )
        await asyncio.to_thread(self._mark, event_id)

    async def redeliver(self, event_id: int, delivery_id: int) -> None:
        """Send a dead-lettered delivery again (the dead letter's retry)."""
        await start_redelivery(self.get_client(), event_id, delivery_id, self.scope)

    async def redrive(self, older_than: timedelta) -> int:
        """Start the delivery of events a crash left undispatched.

        Args:
            older_than: leave younger events to the caller that recorded them.

        Returns:
            How many events were started.
        """
        before = self.clock() - older_than
        pending = await asyncio.to_thread(self._undispatched, before)
        for event_id, delivery_ids in pending:
            await self.start(event_id, delivery_ids)
        if pending:
            log.info("redrive: started delivery of %d event(s)", len(pending))
        return len(pending)

    # --- blocking calls (run in threads) ----------------------------------------------

    def _record_sync(self, event: NotifyEvent) -> crud_notify.Recorded:
        with Session(self.db) as db:
            return crud_notify.record_event(db, event, now=self.clock())

    def _pending_by_key(self, key: str) -> tuple[int, list[int]] | None:
        with Session(self.db) as db:
            row = crud_notify.get_event_by_key(db, key)
            if row is None or row.id is None or row.dispatched_at is not None:
                return None
            return row.id, crud_notify.pending_deliveries(db, row.id)

    def _mark(self, event_id: int) -> None:
        with Session(self.db) as db:
            crud_notify.mark_dispatched(db, event_id, self.clock())

    def _undispatched(self, before: datetime) -> list[tuple[int, list[int]]]:
        with Session(self.db) as db:
            return crud_notify.undispatched_events(
                db, before=before, limit=REDRIVE_BATCH
            )


async def ensure_maintenance_schedule(client: Client, every: timedelta) -> None:
    """Create the notification maintenance schedule, or bring it up to date.

    Idempotent: every worker calls it at start; the schedule (one per Temporal
    namespace) runs `NotifyMaintenanceWorkflow` every `every`, skipping a run
    while the previous one is still going.
    """
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            NOTIFY_MAINTENANCE_WORKFLOW_TYPE,
            MaintenanceInput(),
            id=NOTIFY_MAINTENANCE_WORKFLOW_ID,
            task_queue=WORKFLOW_TASK_QUEUE,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(
            NOTIFY_MAINTENANCE_SCHEDULE_ID, schedule, rpc_timeout=START_RPC_TIMEOUT
        )
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(NOTIFY_MAINTENANCE_SCHEDULE_ID)

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace, rpc_timeout=START_RPC_TIMEOUT)


async def start_redelivery(
    client: Client, event_id: int, delivery_id: int, scope: str = DEFAULT_SCOPE
) -> None:
    """Start the workflow that sends one dead-lettered delivery again.

    Its id is per delivery: a second retry while the first runs joins it.
    """
    await client.start_workflow(
        DELIVER_EVENT_WORKFLOW_TYPE,
        DeliverEventInput(
            event_id=event_id, delivery_ids=[delivery_id], redeliver=True
        ),
        id=redeliver_workflow_id(delivery_id, scope),
        task_queue=WORKFLOW_TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        rpc_timeout=START_RPC_TIMEOUT,
    )

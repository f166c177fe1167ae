"""The worker's notification wiring, kept apart from `worker.main` for its size.

* `build` makes the dispatcher and the activities from the worker's settings;
* `WORKFLOWS` and `Notifications.activities()` are what the workers register;
* `Notifications.started()` creates the maintenance schedule and emits
  `system_startup`; `stopping()` emits `system_shutdown` and gives its delivery a
  few seconds while this worker still polls, so a lone worker delivers it too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from activities.db.tables import utcnow
from activities.events import (
    KEY_MAX_LENGTH,
    EventType,
    NotifyEvent,
)
from activities.notify import (
    Dispatcher,
    NotifyActivities,
    NotifySettings,
    SendDeps,
    ensure_maintenance_schedule,
)
from workflows.notify import DeliverEventWorkflow, NotifyMaintenanceWorkflow

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx
    from temporalio.client import Client

    from worker.settings import WorkerSettings

log = logging.getLogger("srec.worker")

WORKFLOWS = [DeliverEventWorkflow, NotifyMaintenanceWorkflow]
SHUTDOWN_DELIVERY_WAIT_SECS = 10.0


def notify_settings(settings: WorkerSettings) -> NotifySettings:
    """Breaker and retention settings of notification delivery."""
    return NotifySettings(
        breaker_threshold=settings.notify_breaker_failure_threshold,
        breaker_cooldown=timedelta(seconds=settings.notify_breaker_cooldown_secs),
        event_retention=timedelta(days=settings.notify_event_retention_days),
        dead_letter_retention=timedelta(
            days=settings.notify_dead_letter_retention_days
        ),
    )


@dataclass
class Notifications:
    """One worker process's notification parts."""

    client: Client
    dispatcher: Dispatcher
    notify: NotifyActivities
    settings: WorkerSettings
    started_at: datetime = field(default_factory=utcnow)

    def activities(self) -> list[Callable[..., Any]]:
        n = self.notify
        return [n.record_event, n.deliver, n.dead_letter, n.prune, n.redrive]

    def _event(self, kind: EventType, summary: str) -> NotifyEvent:
        host = socket.gethostname()
        key = f"{kind.value}:{host}:{os.getpid()}:{self.started_at.isoformat()}"
        return NotifyEvent(
            type=kind, key=key[:KEY_MAX_LENGTH], summary=summary, subject=host[:4096]
        )

    async def started(self) -> None:
        """Create the maintenance schedule and announce the start (never raises)."""
        every = timedelta(seconds=self.settings.notify_maintenance_interval_secs)
        try:
            await ensure_maintenance_schedule(self.client, every)
        except Exception as err:  # the next start tries again; nothing is lost
            log.warning("notification maintenance schedule not set up: %s", err)
        await self.dispatcher.emit(
            self._event(
                EventType.SYSTEM_STARTUP,
                f"srec worker started on {socket.gethostname()}",
            )
        )

    async def stopping(self) -> None:
        """Announce the shutdown and wait briefly for its delivery (never raises)."""
        recorded = await self.dispatcher.emit(
            self._event(
                EventType.SYSTEM_SHUTDOWN,
                f"srec worker on {socket.gethostname()} is stopping",
            )
        )
        if recorded is None or recorded.workflow_id is None:
            return
        handle = self.client.get_workflow_handle(recorded.workflow_id)
        try:
            await asyncio.wait_for(handle.result(), SHUTDOWN_DELIVERY_WAIT_SECS)
        except Exception as err:  # another worker, or the next start, delivers it
            log.info("system_shutdown not delivered before stopping: %s", err)


def build(
    settings: WorkerSettings,
    dispatcher: Dispatcher,
    client: Client,
    http: httpx.AsyncClient,
) -> Notifications:
    """The activities of one worker process, around its dispatcher.

    Args:
        settings: the worker's settings.
        dispatcher: `Dispatcher(db, lambda: client)`, built before the write
            gate, which hands its events to it.
        client: the worker's Temporal client.
        http: the process's shared HTTP client.
    """
    notify = NotifyActivities(
        dispatcher.db,
        SendDeps(http=http),
        dispatcher,
        settings=notify_settings(settings),
    )
    return Notifications(client, dispatcher, notify, settings)

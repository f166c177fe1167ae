"""`notify.record_event` into a test's app DB, without the delivery workflows.

Workflow tests of emitters (pipelines, sessions) register it on the shared IO
queue, where the real activity runs: the events land in the `event` table by their
idempotency keys, as in production, and the test reads them back.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.worker import Worker

from activities import contracts as c
from activities.db import Event, crud_notify, utcnow
from activities.events import ACTIVITY_RECORD_EVENT, RecordEventInput, RecordEventResult

if TYPE_CHECKING:
    import sqlalchemy as sa
    from temporalio.client import Client


class DbEvents:
    """Records events in `db`; counts the calls (a replay or retry adds none)."""

    def __init__(self, db: sa.Engine) -> None:
        self.db = db
        self.calls = 0

    @activity.defn(name=ACTIVITY_RECORD_EVENT)
    async def record_event(self, inp: RecordEventInput) -> RecordEventResult:
        self.calls += 1
        recorded = await asyncio.to_thread(self._record, inp)
        return RecordEventResult(
            event_id=recorded.event_id, created=recorded.created, deliveries=0
        )

    def _record(self, inp: RecordEventInput) -> crud_notify.Recorded:
        with Session(self.db) as db:
            return crud_notify.record_event(db, inp.event, now=utcnow())

    def worker(self, client: Client) -> Worker:
        """A worker of the shared IO queue serving only this activity."""
        queue = c.IO_TASK_QUEUE
        return Worker(client, task_queue=queue, activities=[self.record_event])

    def rows(self) -> list[Event]:
        """The recorded events, oldest first."""
        with Session(self.db) as db:
            return list(db.exec(select(Event).order_by(col(Event.id))).all())

    def kinds(self) -> list[str]:
        return [row.kind for row in self.rows()]

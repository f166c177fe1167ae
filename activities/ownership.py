"""Which app database owns a workflow: activities act only for their own instance.

Two srec installs may share one Temporal server (another data dir pointed at the
same address, or two compose projects). Their workers poll the same task-queue
names, so an activity of install A's workflow can land on install B's worker, and
`streamer-1` of A would then be loaded from, recorded into or projected onto B's
database. Every activity that touches the app database compares the workflow's
instance id (`OwnedInput.instance_id`) with its own database's and refuses a foreign
one with a retryable `ForeignInstance` error: nothing of B is read or written, the
refusal is logged here, and Temporal redelivers the task, eventually to A's worker.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.contracts import ERROR_FOREIGN_INSTANCE
from activities.db import app_instance_id

if TYPE_CHECKING:
    import sqlalchemy as sa

    from activities.contracts import OwnedInput

log = logging.getLogger(__name__)


class Ownership:
    """The instance id of one app database, and the check every owned activity runs.

    Args:
        db: the app database engine.
        instance_id: its instance id when the caller already read it; otherwise it
            is read (once) at the first check.
    """

    def __init__(self, db: sa.Engine, instance_id: str | None = None) -> None:
        self.db = db
        self._instance_id = instance_id

    @property
    def instance_id(self) -> str:
        """This database's instance id (reads the database on first use)."""
        if self._instance_id is None:
            with Session(self.db) as db:
                self._instance_id = app_instance_id(db)
        return self._instance_id

    def check(self, inp: OwnedInput) -> None:
        """Refuse the activity when its workflow belongs to another instance.

        A workflow started before instance ids existed sends None: it is served, and
        it adopts the id of the database its next load reads.

        Args:
            inp: the activity's input.

        Raises:
            ApplicationError: `ForeignInstance` (retryable, so Temporal redelivers
                the task) when the ids differ.
        """
        owner = inp.instance_id
        if owner is None or owner == self.instance_id:
            return
        what = "an activity"
        if activity.in_activity():
            info = activity.info()
            what = f"{info.activity_type} of {info.workflow_id}"
        message = (
            f"refused {what}: its workflow belongs to srec instance {owner}, this "
            f"worker's database is instance {self.instance_id} (two installs share "
            "this Temporal server); left for a worker of its own instance"
        )
        log.warning("%s", message)
        raise ApplicationError(
            message,
            type=ERROR_FOREIGN_INSTANCE,
            non_retryable=False,
            # logged above, once and clearly; the SDK need not add a traceback
            category=ApplicationErrorCategory.BENIGN,
        )

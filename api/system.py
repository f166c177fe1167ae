"""What the system page shows beside health: the workers on each task queue and the
disks under the recording output roots.

Workers: Temporal's `DescribeTaskQueue` for each of srec's queues (and the per-host
queues of the hosts the newest segments were recorded on), for workflow and
activity tasks, lists the pollers with their identity, last poll and rate limit,
and with `report_stats` the approximate backlog. Nothing is asked of the workers
themselves: a worker that stopped polling a minute ago is what Temporal says.

Disks: `shutil.disk_usage` of the recordings root and of every other output root
the write gate knows, as the API's host sees them (in a split deployment the API
must mount the recordings volume anyway, to serve media); below
`SREC_MIN_FREE_SPACE_GIB` free, a disk is `low`.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC
from typing import TYPE_CHECKING, Annotated, Literal, Protocol

from fastapi import Depends, Request
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.service import RPCError

from activities.contracts import (
    CPU_TASK_QUEUE,
    IO_TASK_QUEUE,
    TASK_QUEUES,
    WORKFLOW_TASK_QUEUE,
    host_queue,
)
from activities.db import OutputRoot, Segment
from api.deps import TemporalUnavailableError
from api.schemas_system import DiskReport, QueuePoller, QueueReport

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import sqlalchemy as sa

    from api.deps import TemporalWorkflowControl

Kind = Literal["workflow", "activity"]
# hosts of per-host queues: those of the newest segments (cheap: by primary key)
RECENT_SEGMENTS = 1000
MAX_ROOTS = 50
_TYPES: dict[Kind, TaskQueueType.ValueType] = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


class QueueProbe(Protocol):
    """Asks Temporal who polls srec's task queues; tests replace it."""

    async def describe(self, queues: Sequence[str]) -> list[QueueReport]:
        """Both task kinds of each queue (an unexpected kind only if polled).

        Raises:
            TemporalUnavailableError: Temporal cannot be reached.
        """
        ...


def expected_kind(queue: str) -> Kind:
    """The kind of task srec's workers poll a queue for."""
    return "workflow" if queue == WORKFLOW_TASK_QUEUE else "activity"


def queue_names(db: Session) -> list[str]:
    """srec's task queues, and the per-host ones of the hosts recording lately."""
    hosts = db.exec(
        select(Segment.host).order_by(col(Segment.id).desc()).limit(RECENT_SEGMENTS)
    ).all()
    per_host = [
        host_queue(queue, host)
        for host in sorted({h for h in hosts if h})
        for queue in (IO_TASK_QUEUE, CPU_TASK_QUEUE)
    ]
    return [*TASK_QUEUES, *per_host]


class TemporalQueueProbe:
    """`QueueProbe` through the API's Temporal connection (connects on use)."""

    def __init__(self, control: TemporalWorkflowControl) -> None:
        self.control = control

    async def describe(self, queues: Sequence[str]) -> list[QueueReport]:
        await self.control.client()  # unreachable: one clear error, not one a queue
        asked = [(q, kind) for q in queues for kind in _TYPES]
        found = await asyncio.gather(*(self._one(q, kind) for q, kind in asked))
        return [r for r in found if r.expected or r.pollers]

    async def _one(self, queue: str, kind: Kind) -> QueueReport:
        request = DescribeTaskQueueRequest(
            namespace=self.control.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=_TYPES[kind],
            report_stats=True,
        )
        expected = expected_kind(queue) == kind
        try:
            answer = await self.control._call(
                lambda c: c.workflow_service.describe_task_queue(request)
            )
        except (TemporalUnavailableError, RPCError) as err:
            return QueueReport(name=queue, kind=kind, expected=expected, error=str(err))
        pollers = [
            QueuePoller(
                identity=p.identity,
                last_access_time=(
                    p.last_access_time.ToDatetime(tzinfo=UTC)
                    if p.HasField("last_access_time")
                    else None
                ),
                rate_per_second=p.rate_per_second or None,
            )
            for p in answer.pollers
        ]
        backlog = None
        if answer.HasField("stats"):
            backlog = int(answer.stats.approximate_backlog_count)
        return QueueReport(
            name=queue, kind=kind, expected=expected, pollers=pollers, backlog=backlog
        )


def output_roots(db: Session, recordings: Path) -> list[str]:
    """The recordings root first, then the other roots the write gate knows."""
    known = db.exec(select(OutputRoot.path).order_by(col(OutputRoot.id))).all()
    roots = [str(recordings)]
    for path in known:
        if path not in roots and len(roots) < MAX_ROOTS:
            roots.append(path)
    return roots


def disk_report(path: str, min_free_bytes: int) -> DiskReport:
    """The disk under `path` (blocking: call it in a thread)."""
    try:
        usage = shutil.disk_usage(path)
    except OSError as err:
        return DiskReport(
            path=path,
            min_free_bytes=min_free_bytes,
            error=err.strerror or type(err).__name__,
        )
    return DiskReport(
        path=path,
        total_bytes=usage.total,
        used_bytes=usage.used,
        free_bytes=usage.free,
        min_free_bytes=min_free_bytes,
        low=usage.free < min_free_bytes,
    )


def read_disks(
    engine: sa.Engine, recordings: Path, min_free_gib: float
) -> list[DiskReport]:
    """Every output root's disk (blocking: call it in a thread)."""
    with Session(engine) as db:
        roots = output_roots(db, recordings)
    minimum = int(min_free_gib * 2**30)
    return [disk_report(path, minimum) for path in roots]


def get_queue_probe(request: Request) -> QueueProbe:
    """The app's `QueueProbe` (a dependency tests override)."""
    probe: QueueProbe = request.app.state.queue_probe
    return probe


QueueProbeDep = Annotated[QueueProbe, Depends(get_queue_probe)]

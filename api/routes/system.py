"""`GET /api/system`: the workers on srec's task queues and the output roots' disks.

The health report says whether each part is up; this says who does the work
(each worker's identity, last poll and rate on each queue, the backlog) and how
much room the recordings have (`api.system`).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from sqlmodel import Session

from api.deps import EngineDep, SettingsDep, TemporalUnavailableError
from api.schemas_system import SystemReport
from api.system import QueueProbeDep, queue_names, read_disks

router = APIRouter(tags=["system"])


@router.get("/system")
async def system(
    engine: EngineDep, settings: SettingsDep, probe: QueueProbeDep
) -> SystemReport:
    """Workers and task queues (from Temporal), and disk space of the output roots.

    Answers 200 while Temporal is down: `temporal_error` says why the queues are
    missing, and the disks are still read.
    """

    def read_queues() -> list[str]:
        with Session(engine) as db:
            return queue_names(db)

    disks = await asyncio.to_thread(
        read_disks, engine, settings.recordings_path, settings.min_free_space_gib
    )
    queues = await asyncio.to_thread(read_queues)
    try:
        reports = await probe.describe(queues)
    except TemporalUnavailableError as err:
        return SystemReport(queues=[], temporal_error=str(err), disks=disks)
    return SystemReport(queues=reports, disks=disks)

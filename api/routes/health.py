"""`/api/health`: liveness (public) and readiness of the DB, Temporal and workers.

`/api/health` and `/api/health/ready` answer 503 when a component is down. A
degraded output root (the write gate, shared by the workers through the DB) makes
the status `degraded` and is listed in `degraded_roots`, but keeps the answer 200:
the API and the workers still serve (and every other root still records), so an
orchestrator must not restart or unroute them for a full or unmounted disk.
`/api/health/live` only says the process answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from api.deps import ControlDep, DatabaseProbeDep, RootsProbeDep
from api.schemas import HealthReport

public_router = APIRouter(prefix="/health", tags=["health"])
router = APIRouter(prefix="/health", tags=["health"])

_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": HealthReport, "description": "A component is down"}
}


@public_router.get("/live")
async def live() -> dict[str, str]:
    """Answer while the process serves requests."""
    return {"status": "ok"}


@router.get("", responses=_NOT_READY)
@router.get("/ready", responses=_NOT_READY)
async def ready(
    response: Response,
    database: DatabaseProbeDep,
    control: ControlDep,
    roots: RootsProbeDep,
) -> HealthReport:
    """Check the DB, Temporal and a worker on each task queue; 503 if any is down.

    Degraded output roots are listed and make the status `degraded`, with 200.
    """
    components = {"database": await database()} | await control.health()
    up = all(c.status == "ok" for c in components.values())
    if not up:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    degraded = await roots()
    return HealthReport(
        status="ok" if up and not degraded else "degraded",
        components=components,
        degraded_roots=degraded,
    )

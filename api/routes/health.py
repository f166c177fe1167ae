"""`/api/health`: liveness (public) and readiness of the DB, Temporal and workers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from api.deps import ControlDep, DatabaseProbeDep
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
    response: Response, database: DatabaseProbeDep, control: ControlDep
) -> HealthReport:
    """Check the DB, Temporal and a worker on each task queue; 503 if any is down."""
    components = {"database": await database()} | await control.health()
    ok = all(c.status == "ok" for c in components.values())
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthReport(status="ok" if ok else "degraded", components=components)

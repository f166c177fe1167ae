"""The API's routers: public ones, and the rest behind a router-level auth check."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import get_current_user, reject_unknown_query
from api.params import AUTH_RESPONSES
from api.routes import (
    auth,
    config,
    filters,
    health,
    media,
    notifications,
    pipeline,
    pipeline_jobs,
    pipeline_presets,
    platforms,
    sessions,
    streamers,
    system,
    templates,
)

__all__ = ["api_router"]

public_router = APIRouter()
public_router.include_router(health.public_router)
public_router.include_router(auth.public_router)
public_router.include_router(media.public_router)

# one dependency guards every route below, so a new route cannot forget it
protected_router = APIRouter(
    dependencies=[Depends(get_current_user)], responses=AUTH_RESPONSES
)
protected_router.include_router(auth.router)
protected_router.include_router(health.router)
protected_router.include_router(system.router)
protected_router.include_router(streamers.router)
protected_router.include_router(config.streamer_router)
protected_router.include_router(config.router)
protected_router.include_router(templates.router)
protected_router.include_router(filters.router)
protected_router.include_router(sessions.router)
protected_router.include_router(media.router)
protected_router.include_router(platforms.router)
protected_router.include_router(notifications.router)
protected_router.include_router(pipeline.router)
protected_router.include_router(pipeline_jobs.router)
protected_router.include_router(pipeline_presets.pipeline_router)
protected_router.include_router(pipeline_presets.step_router)

api_router = APIRouter(prefix="/api", dependencies=[Depends(reject_unknown_query)])
api_router.include_router(public_router)
api_router.include_router(protected_router)

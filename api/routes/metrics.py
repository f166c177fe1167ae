"""`GET /metrics`: the app DB's series in Prometheus's text format.

Every worker shares the app DB, so the series read from it (streamers by state and
platform, recording slots, pipeline jobs, notification deliveries and dead letters,
the write gate: `activities.metrics_db`) are exported once, here; the workers
export what they count themselves on their `--metrics-port`.

Who may scrape: anyone when `SREC_METRICS_PUBLIC=true` (a private network);
otherwise a bearer token, either `SREC_METRICS_TOKEN` (a static secret for
Prometheus's `authorization.credentials_file`: a scraper cannot log in and refresh
a 15-minute JWT) or a user's access token (a person with `curl`). Without either
it is a 401, as every other protected route.

The route is left out of the OpenAPI document: its answer is Prometheus's text
exposition format, not one of the API's JSON models.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from sqlmodel import Session

from activities.metrics_db import DbCollector
from api.deps import SettingsDep, get_current_user, get_signer

router = APIRouter(tags=["metrics"])

_bearer = HTTPBearer(auto_error=False)


def _registry(request: Request) -> CollectorRegistry:
    """This app's registry: built at the first scrape, on the app's DB engine."""
    registry: CollectorRegistry | None = getattr(
        request.app.state, "metrics_registry", None
    )
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(DbCollector(request.app.state.engine))
        # the API process's own CPU, memory and open files
        ProcessCollector(registry=registry)
        request.app.state.metrics_registry = registry
    return registry


def _authorise(
    request: Request,
    settings: SettingsDep,
    credentials: HTTPAuthorizationCredentials | None,
) -> None:
    """Let the scrape through, or raise 401 (see the module docstring)."""
    if settings.metrics_public:
        return
    token = settings.metrics_token
    if (
        credentials is not None
        and token is not None
        and hmac.compare_digest(
            credentials.credentials.encode(), token.get_secret_value().encode()
        )
    ):
        return
    with Session(request.app.state.engine) as db:
        get_current_user(credentials, get_signer(request), db)


@router.get("/metrics", include_in_schema=False)
async def metrics(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    """The DB-derived series, computed now."""
    await asyncio.to_thread(_authorise, request, settings, credentials)
    body = await asyncio.to_thread(generate_latest, _registry(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST)

"""The API's composition root: `create_app` wires settings, DB, auth and Temporal."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import uvicorn
from fastapi import FastAPI
from sqlmodel import Session

from activities.config.seed import read_seed, seed_global
from activities.db import app_instance_id, make_engine, migrate
from activities.host_map import HostMapTransport, parse_host_map
from activities.notify import REDACTOR
from activities.platforms import default_registry
from api.auth import TokenSigner, ensure_admin
from api.config_notify import ConfigNotifier
from api.dashboard import mount_dashboard
from api.deps import Platforms, TemporalNotifyControl, TemporalWorkflowControl
from api.errors import install_handlers
from api.event_hub import EventHub
from api.pipeline_control import TemporalPipelineControl
from api.routes import api_router
from api.routes.metrics import router as metrics_router
from api.settings import ApiSettings
from api.system import TemporalQueueProbe

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

log = logging.getLogger(__name__)

# `POST /api/parse` asks platforms: a user waits, so fail within seconds
HTTP_TIMEOUT = httpx.Timeout(10.0, read=20.0)
USER_AGENT = "srec/0.1"


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the FastAPI application.

    The lifespan creates the DB engine, migrates the schema, ensures the `admin`
    user and prepares a Temporal client that connects on first use, so the API
    serves (and reports Temporal as down in health) while Temporal is unreachable.

    Args:
        settings: the validated settings; read from the environment if None.

    Returns:
        The application.
    """
    resolved = settings if settings is not None else ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(resolved.database_url)
        migrate(engine)
        # the global configuration level: from SREC_* on the first start only
        seed_global(engine, read_seed(), resolved.recordings_path)
        with Session(engine) as db:
            ensure_admin(db, resolved.data_dir, resolved.admin_password)
            instance_id = app_instance_id(db)
        app.state.settings = resolved
        app.state.engine = engine
        app.state.signer = TokenSigner(resolved.jwt_key)
        app.state.workflow_control = TemporalWorkflowControl(
            resolved.temporal_address, resolved.temporal_namespace, instance_id
        )
        routes = parse_host_map(resolved.host_map)
        http = httpx.AsyncClient(
            timeout=HTTP_TIMEOUT,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
            transport=HostMapTransport(routes) if routes else None,
        )
        app.state.platforms = Platforms(default_registry(), http)
        app.state.notify_control = TemporalNotifyControl(app.state.workflow_control)
        app.state.queue_probe = TemporalQueueProbe(app.state.workflow_control)
        # channel secrets met by test sends never reach a log line
        REDACTOR.install()
        app.state.pipeline_control = TemporalPipelineControl(app.state.workflow_control)
        # hot reload: configuration changes reach their workflows spread out
        app.state.config_notifier = ConfigNotifier(rate=resolved.config_reload_rate)
        # the dashboard's live events: the app DB read once a second while watched
        app.state.event_hub = EventHub(engine)
        try:
            yield
        finally:
            await app.state.event_hub.close()
            await app.state.config_notifier.close()
            await http.aclose()
            engine.dispose()

    app = FastAPI(
        title="srec",
        summary="Live-stream recorder: streamers, sessions and health",
        lifespan=lifespan,
        redoc_url=None,
        # bearer tokens need no OAuth2 redirect page, and it would be one more
        # unauthenticated route
        swagger_ui_oauth2_redirect_url=None,
    )
    app.include_router(api_router)
    mount_dashboard(app)
    # GET /metrics, at the root where Prometheus looks (api.routes.metrics)
    app.include_router(metrics_router)
    install_handlers(app)
    return app


def run(settings: ApiSettings) -> None:
    """Serve the API with uvicorn until interrupted (`srec api`).

    Args:
        settings: the validated settings; `api_host`/`api_port` pick the socket.
    """
    log.info("serving the API on http://%s:%s", settings.api_host, settings.api_port)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
    )

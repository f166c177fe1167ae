"""The web dashboard: the page at `/`, its static files, and the live-events hub.

The page is a client of the API like any other: plain HTML and ES modules under
`api/web/static/` (the vendored libraries in `vendor/`, each with its licence), no
build step, every action through the `/api` routes with the user's bearer token.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from api.routes import events

if TYPE_CHECKING:
    from fastapi import FastAPI

WEB_DIR = Path(__file__).parent / "web"
STATIC_DIR = WEB_DIR / "static"

page_router = APIRouter(include_in_schema=False)


@page_router.get("/")
def index() -> FileResponse:
    """The dashboard's one HTML page; its script routes by the URL's `#` part."""
    # the shell names its scripts without versions: always ask for a fresh one
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def mount_dashboard(app: FastAPI) -> None:
    """Serve the page at `/`, its files at `/static` and `/api/ws/events`.

    Args:
        app: the API application.
    """
    app.include_router(page_router)
    app.include_router(events.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

"""Errors the routes raise beyond a plain `HTTPException`, and their handlers.

A 409 that another streamer causes names it (`Conflict.streamer`), so a client can
show or link it instead of guessing which one holds the name or URL.

A 405 lists in `Allow` every method the path serves (RFC 9110 §15.5.6). Starlette
names only those of the first route that matched the path, and GET and POST of
one path are two routes here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from api.schemas import Conflict, StreamerRef

if TYPE_CHECKING:
    from fastapi import FastAPI, Request


class ConflictError(HTTPException):
    """A 409 answered as `api.schemas.Conflict`.

    Args:
        detail: the reason.
        streamer: the other streamer involved, if one is.
    """

    def __init__(self, detail: str, streamer: StreamerRef | None = None) -> None:
        super().__init__(status.HTTP_409_CONFLICT, detail)
        self.streamer = streamer


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConflictError)
    body = Conflict(detail=str(exc.detail), streamer=exc.streamer)
    return JSONResponse(body.model_dump(mode="json"), status_code=exc.status_code)


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                methods |= route.methods
    return JSONResponse(
        {"detail": exc.detail},
        status_code=exc.status_code,
        headers={"Allow": ", ".join(sorted(methods))},
    )


def install_handlers(app: FastAPI) -> None:
    """Register the handlers of this module's errors on the app."""
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, _method_not_allowed)

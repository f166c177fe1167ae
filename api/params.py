"""Route parameters every router shares, and the error answers routes document.

Every id and number a route accepts is bounded: an id is a positive 32-bit integer
(`MAX_ID`: the id columns are INTEGER, which Postgres keeps in 32 bits), so a
larger one is a 422 with the reason instead of an overflow in the database (a 500).

The `*_RESPONSES` dicts document the error statuses in the OpenAPI spec, so a
client (and the schemathesis run in the tests) knows every answer it can get.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from activities.contracts import MAX_ID
from api.schemas import Conflict, ErrorDetail, ValidationFailed

__all__ = [
    "AUTH_RESPONSES",
    "BODY_RESPONSES",
    "CONFLICT_RESPONSES",
    "LOGIN_RESPONSES",
    "MAX_ID",
    "NOT_FOUND_RESPONSES",
    "UNAVAILABLE_RESPONSES",
    "UPSTREAM_RESPONSES",
    "VALIDATION_RESPONSES",
    "Limit",
    "Offset",
    "SessionId",
    "StreamerId",
    "StreamerIdFilter",
]

MAX_PAGE = 500

StreamerId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The streamer's id (1 to 2^31-1)")
]
SessionId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The session's id (1 to 2^31-1)")
]
StreamerIdFilter = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="Only this streamer's (1 to 2^31-1)"),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Items to skip")]

Responses = dict[int | str, dict[str, Any]]

VALIDATION_RESPONSES: Responses = {
    422: {"model": ValidationFailed, "description": "The request does not validate"}
}
BODY_RESPONSES: Responses = {
    400: {"model": ErrorDetail, "description": "The body cannot be parsed"}
}
AUTH_RESPONSES: Responses = {
    401: {"model": ErrorDetail, "description": "No valid access token"},
    **VALIDATION_RESPONSES,
}
LOGIN_RESPONSES: Responses = {
    401: {"model": ErrorDetail, "description": "Wrong credentials or token"},
    **VALIDATION_RESPONSES,
}
NOT_FOUND_RESPONSES: Responses = {
    404: {"model": ErrorDetail, "description": "No such item"}
}
CONFLICT_RESPONSES: Responses = {
    409: {"model": Conflict, "description": "Conflicts with another streamer or state"}
}
UPSTREAM_RESPONSES: Responses = {
    502: {"model": ErrorDetail, "description": "The platform answered unreadably"}
}
UNAVAILABLE_RESPONSES: Responses = {
    503: {"model": ErrorDetail, "description": "Temporal is unreachable"}
}

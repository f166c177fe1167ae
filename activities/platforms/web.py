"""HTTP for platform modules: one request helper and one JSON-at-the-boundary parser.

`request` maps what every platform shares to outcomes (`base.Outcome`): timeouts
and refused connections, 5xx → `unavailable`; 429 (and the platforms' other
rate-limit statuses, per call) → `rate_limited` with the Retry-After it sent.
`parse` validates a body against the module's pydantic model; a changed shape is
an `ExtractorError` that names the missing field, never a `KeyError`.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from activities.contracts import LiveOutcome
from activities.errors import ExtractorError
from activities.platforms.base import Outcome, describe

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

M = TypeVar("M", bound=BaseModel)

# Platform APIs answer browsers; some refuse other user agents outright.
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
DEFAULT_RETRY_AFTER_SECS = 60.0


async def request(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    params: Any = None,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    data: Mapping[str, str] | None = None,
    files: Any = None,
    rate_limited: Collection[int] = (429,),
    follow_redirects: bool = True,
) -> httpx.Response:
    """Send one API request; transport failures and throttling become outcomes.

    Args:
        http: the shared client.
        method: GET, POST, …
        url: the endpoint.
        what: names the call in messages (`bilibili room_init`).
        params: query parameters.
        headers: request headers (the module's, credentials included).
        json: a JSON body.
        data: a form body (`application/x-www-form-urlencoded`).
        files: a multipart form body (httpx's `files`).
        rate_limited: statuses this platform uses to throttle.
        follow_redirects: False to read a redirect's Location yourself.

    Returns:
        The response, whatever its status below 500 (the caller reads 4xx).

    Raises:
        Outcome: `unavailable` (network, 5xx) or `rate_limited`.
    """
    try:
        response = await http.request(
            method,
            url,
            params=params,
            headers=headers,
            json=json,
            data=data,
            files=files,
            follow_redirects=follow_redirects,
        )
    except httpx.HTTPError as err:
        raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: {err!r}") from err
    status = response.status_code
    if status in rate_limited:
        raise Outcome(
            LiveOutcome.RATE_LIMITED,
            f"{what}: HTTP {status}",
            retry_after_secs=retry_after(response.headers.get("retry-after")),
        )
    if status >= 500:
        raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: HTTP {status}")
    return response


def parse(model: type[M], response: httpx.Response | bytes | str, what: str) -> M:
    """Validate a JSON body against `model`.

    Raises:
        ExtractorError: the body is not JSON, or a field is missing or mistyped.
    """
    body = response.content if isinstance(response, httpx.Response) else response
    try:
        return model.model_validate_json(body)
    except ValidationError as err:
        raise ExtractorError(f"{what}: {describe(err)}") from err


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def cookie_header(cookies: str | None) -> dict[str, str]:
    """`{"Cookie": cookies}`, or nothing."""
    return {"Cookie": cookies} if cookies else {}

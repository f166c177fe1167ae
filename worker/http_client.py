"""The process's one HTTP client, shared by extractors and engines (STYLE 23).

Both `srec worker` and `srec record` build it here, so timeouts, limits and the
User-Agent are set in one place. It lives apart from `worker.main` so that
`srec record` does not import Temporal's worker machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from collections.abc import Mapping

HTTP_TIMEOUT = httpx.Timeout(10.0, read=30.0)
HTTP_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50)
USER_AGENT = "srec/0.1"


def build_http(
    *, proxy: str | None = None, headers: Mapping[str, str] | None = None
) -> httpx.AsyncClient:
    """Build the shared client.

    Args:
        proxy: HTTP(S)/SOCKS proxy URL for every request, or None.
        headers: extra headers for every request (they win over the defaults).

    Returns:
        A client the caller closes (`async with`).
    """
    return httpx.AsyncClient(
        timeout=HTTP_TIMEOUT,
        limits=HTTP_LIMITS,
        follow_redirects=True,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        proxy=proxy,
    )

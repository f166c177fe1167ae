"""The host-mapping transport: a test seam that sends named hosts elsewhere.

`SREC_HOST_MAP="live.bilibili.com=127.0.0.1:8123,gql.twitch.tv=127.0.0.1:8123"`
makes the process's HTTP client (worker, API, `srec probe`, `srec record`) send
requests for those hosts to the given address over plain HTTP; the Host header and
everything else stay as they were. It exists for the test suite's fake platforms
(`tests/fakes/platform`) and is not meant for production: a mapped host loses TLS.
Streams (the engines' own fetchers) and streamlink's requests do not go through it;
chat websockets do, through `map_ws_url` (`wss://host/…` → `ws://ip:port/…`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

if TYPE_CHECKING:
    from collections.abc import Mapping


def parse_host_map(text: str) -> dict[str, str]:
    """`host=ip:port,host2=ip:port` → {host: "ip:port"}.

    Raises:
        ValueError: an entry is not `host=ip:port`.
    """
    found: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        host, sep, target = entry.partition("=")
        address, colon, port = target.strip().rpartition(":")
        if not sep or not host.strip() or not colon or not port.isdigit():
            raise ValueError(f"not host=ip:port: {entry!r}")
        found[host.strip().lower()] = f"{address}:{port}"
    return found


def map_ws_url(url: str, host_map: Mapping[str, str]) -> str:
    """`url` sent to its mapped address over plain `ws`, if its host is mapped."""
    parts = urlsplit(url)
    target = host_map.get((parts.hostname or "").lower())
    if target is None:
        return url
    return urlunsplit(parts._replace(scheme="ws", netloc=target))


class HostMapTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, with requests for mapped hosts sent to their address.

    Args:
        host_map: host → `ip:port`.
        **kwargs: httpx.AsyncHTTPTransport's arguments (limits, …).
    """

    def __init__(self, host_map: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host_map = {host.lower(): target for host, target in host_map.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = self.host_map.get(request.url.host.lower())
        if target is not None:
            address, _, port = target.rpartition(":")
            # the Host header was set from the original URL and stays
            request.url = request.url.copy_with(
                scheme="http", host=address, port=int(port)
            )
        return await super().handle_async_request(request)

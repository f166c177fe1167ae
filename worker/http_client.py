"""The process's one HTTP client, shared by extractors and engines (STYLE 23).

Both `srec worker` and `srec record` build it here, so timeouts, limits and the
User-Agent are set in one place, from the `NetworkAccess` they also give the
engines. It lives apart from `worker.main` so that `srec record` does not import
Temporal's worker machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.host_map import HostMapTransport, parse_host_map

if TYPE_CHECKING:
    from collections.abc import Mapping

    from activities.engines.network import NetworkAccess

HTTP_TIMEOUT = httpx.Timeout(10.0, read=30.0)
HTTP_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50)
USER_AGENT = "srec/0.1"


class HttpSettings(BaseSettings):
    """What the commands without their own settings (`srec record`, `srec probe`)
    read from the environment for their client."""

    model_config = SettingsConfigDict(env_prefix="SREC_", extra="ignore")

    host_map: str = Field(
        default="", description="Tests only: host=ip:port,… (activities.host_map)"
    )

    @field_validator("host_map")
    @classmethod
    def _check_host_map(cls, value: str) -> str:
        parse_host_map(value)
        return value

    @property
    def host_routes(self) -> dict[str, str]:
        """`host_map` parsed: host → ip:port."""
        return parse_host_map(self.host_map)


def build_http(
    network: NetworkAccess,
    *,
    headers: Mapping[str, str] | None = None,
    host_map: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """Build the shared client.

    Args:
        network: its TLS trust and proxy; the engines get the same object, so
            whatever bypasses the client (HLS segment bodies) goes out the same way.
        headers: extra headers for every request (they win over the defaults).
        host_map: tests only: hosts sent to another address (`activities.host_map`);
            give the engines no `NetworkAccess` then, so nothing bypasses the map.
        host_map: tests only: hosts sent to another address (`activities.host_map`).

    Returns:
        A client the caller closes (`async with`).
    """
    return httpx.AsyncClient(
        timeout=HTTP_TIMEOUT,
        limits=HTTP_LIMITS,
        follow_redirects=True,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        proxy=network.proxy,
        verify=network.ssl_context,
        transport=(
            HostMapTransport(host_map, limits=HTTP_LIMITS, verify=network.ssl_context)
            if host_map
            else None
        ),
    )

"""What the native engines are told about how the shared client reaches the network.

The native HLS engine moves segment bodies, nearly all of a recording's bytes,
outside httpx (`activities.engines.hls.http11`), because httpx's async layers cost
several times more CPU per byte on the event loop. It may do so only when the
requests would have gone to the network anyway, with the same TLS trust and proxy
as the shared client. Only the code that built that client knows this: a client
built on a test's mock transport, or one whose settings we were not told, must keep
every request on httpx. So the composition root (`worker.http_client`) builds both
from one `NetworkAccess` and hands it to the engines; an engine given none keeps
to httpx. Nothing reads httpx's private transport or mounts.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class NetworkAccess:
    """How the shared client talks to servers, for a path that bypasses it.

    Attributes:
        ssl_context: the TLS context the client verifies servers with (its CA
            bundle); the bypass verifies against the same one.
        proxy: the client-wide proxy URL, or None.
    """

    ssl_context: ssl.SSLContext
    proxy: str | None = None


def network_access(*, proxy: str | None = None) -> NetworkAccess:
    """The access of a client that verifies servers as httpx does by default.

    Args:
        proxy: the client-wide proxy URL, or None.

    Returns:
        The settings to build the client and the engines with: certifi's CA
        bundle, or the one `SSL_CERT_FILE`/`SSL_CERT_DIR` name.
    """
    return NetworkAccess(ssl_context=httpx.create_ssl_context(), proxy=proxy)

"""The poller's HTTP: aiohttp underneath, for a fraction of httpx's CPU per request.

Measured on loopback (`bench/http_clients.py`, figures in bench/README.md): a small
playlist GET costs about 0.2 ms of CPU through aiohttp and 1.5-3.4 ms through
`httpx.AsyncClient` (httpcore's pool and h11 on anyio), so 10,000 streamers checked
every minute would spend most of a core in httpx alone. Two seams, one session:

* `AiohttpGetter.get(url)`: a bare GET returning status, final URL and body, for
  the hot paths the poller owns (generic HLS playlists);
* `AiohttpTransport`: an `httpx.AsyncBaseTransport` over the same session, so the
  extractors, which take an `httpx.AsyncClient`, run unchanged with aiohttp doing
  the network (about 0.6 ms per request: httpx's request and response objects
  remain).

Both honour the client-wide `http://` proxy, the TLS context of the worker's
client and the tests' host map (`activities.host_map`). aiohttp speaks no SOCKS:
`poll_http` returns None for such a proxy, and the poller keeps the shared httpx
client then.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
from yarl import URL

from activities.errors import StreamUnavailableError

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Mapping
    from types import TracebackType

    from activities.platforms._generic_look import Fetch

MAX_REDIRECTS = 5


class FetchError(Exception):
    """A GET failed on the network (refused, reset, timed out, bad URL)."""


class UnreachableError(FetchError):
    """The server could not be reached at all (refused, no route, DNS)."""


@dataclass(frozen=True)
class Fetched:
    """A finished GET: final status, final URL and the whole body."""

    status: int
    url: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class AiohttpGetter:
    """One aiohttp session for the poller (created on first use, in the loop).

    Args:
        timeout_secs: a request's whole time, connect included.
        max_connections: open connections at most (aiohttp keeps them alive).
        ssl_context: verifies https servers (the worker client's context).
        proxy: an `http://` proxy for every request, or None.
        host_map: tests only: host → `ip:port` (see `activities.host_map`).
        headers: sent with every request (the User-Agent).
    """

    def __init__(
        self,
        *,
        timeout_secs: float = 10.0,
        max_connections: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
        host_map: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_secs)
        self.max_connections = max_connections
        self.ssl_context = ssl_context
        self.proxy = proxy
        self.host_map = {h.lower(): t for h, t in (host_map or {}).items()}
        self.headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                ssl=self.ssl_context if self.ssl_context is not None else True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                headers=self.headers,
                # cookies stay with the platforms' own calls (httpx); none here
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def target(self, url: str, headers: dict[str, str]) -> URL:
        """`url`, sent to its mapped address when the host map names its host."""
        parsed = URL(url)
        mapped = self.host_map.get((parsed.host or "").lower())
        if mapped is None:
            return parsed
        address, _, port = mapped.rpartition(":")
        headers.setdefault("Host", parsed.raw_authority)
        return parsed.with_scheme("http").with_host(address).with_port(int(port))

    async def get(self, url: str, headers: Mapping[str, str] | None = None) -> Fetched:
        """GET `url`, following redirects; the body is read whole.

        Raises:
            UnreachableError: nothing answered at the address.
            FetchError: any other network failure or timeout.
        """
        sent = dict(headers or {})
        with _mapped_errors(url):
            target = self.target(url, sent)
            async with self.session.get(
                target, headers=sent, proxy=self.proxy, max_redirects=MAX_REDIRECTS
            ) as response:
                body = await response.read()
                return Fetched(response.status, str(response.url), body)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AiohttpGetter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@contextlib.contextmanager
def _mapped_errors(url: str) -> Any:
    try:
        yield
    except aiohttp.ClientConnectorError as err:
        raise UnreachableError(f"{url}: connection failed: {err}") from err
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        raise FetchError(f"{url}: {err!r}") from err


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx's transport seam, with aiohttp doing the network.

    httpx keeps building requests, following redirects, decoding bodies and
    raising its own errors (aiohttp's are mapped to httpx's: a refused connection
    is `httpx.ConnectError`, a timeout `httpx.TimeoutException`).

    Args:
        getter: the session, proxy and host map to use.
    """

    def __init__(self, getter: AiohttpGetter) -> None:
        self.getter = getter

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = {
            k: v
            for k, v in request.headers.items()
            # the body is read whole below; aiohttp frames it itself
            if k.lower() not in ("content-length", "transfer-encoding")
        }
        target = self.getter.target(str(request.url), headers)
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        try:
            response = await self.getter.session.request(
                request.method,
                target,
                headers=headers,
                data=body or None,
                proxy=self.getter.proxy,
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes Content-Encoding itself
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        except aiohttp.ClientConnectorError as err:
            raise httpx.ConnectError(str(err), request=request) from err
        except (aiohttp.ServerTimeoutError, TimeoutError) as err:
            raise httpx.ReadTimeout(str(err) or "timed out", request=request) from err
        except aiohttp.ClientError as err:
            raise httpx.NetworkError(str(err), request=request) from err
        return httpx.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=_Body(response, request),
            request=request,
        )


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request):
        self.response = response
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as err:
            raise httpx.ReadError(str(err), request=self.request) from err

    async def aclose(self) -> None:
        self.response.release()


def fetcher(getter: AiohttpGetter) -> Fetch:
    """The generic extractor's `look` GET, through `getter`."""

    async def fetch(url: str) -> tuple[int, str, str]:
        try:
            got = await getter.get(url)
        except UnreachableError as err:
            raise ConnectionError(str(err)) from err
        except FetchError as err:
            raise StreamUnavailableError(str(err)) from err
        return got.status, got.url, got.text

    return fetch


def poll_http(
    *,
    ssl_context: ssl.SSLContext | None,
    proxy: str | None,
    host_map: Mapping[str, str] | None,
    headers: Mapping[str, str],
    timeout: httpx.Timeout,
    max_connections: int,
) -> tuple[AiohttpGetter, httpx.AsyncClient] | None:
    """The poller's getter and an httpx client over it (close both).

    Returns:
        None when aiohttp cannot go where the worker's client goes (a SOCKS or
        https proxy): the poller then uses the worker's shared client.
    """
    if proxy is not None and not proxy.lower().startswith("http://"):
        return None
    getter = AiohttpGetter(
        timeout_secs=(timeout.connect or 10.0) + (timeout.read or 30.0),
        max_connections=max_connections,
        ssl_context=ssl_context,
        proxy=proxy,
        host_map=host_map,
        headers=headers,
    )
    client = httpx.AsyncClient(
        transport=AiohttpTransport(getter),
        timeout=timeout,
        follow_redirects=True,
        headers=headers,
    )
    return getter, client

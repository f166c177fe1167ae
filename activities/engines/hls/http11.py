"""The lean segment path: blocking `http.client` GETs in worker threads.

Why: segment bodies are nearly all of an HLS recording's bytes, and httpx spends about
5 ms of CPU per MB moving them through its async layers, all of it on the event loop
that every recording in a worker shares (0.43 CPU-s per recorded minute of a 6 Mbps
stream, against 0.23 for `ffmpeg -c copy`; 50 such recordings outran one loop).
`http.client` reads a Content-Length body with `recv_into` straight into the result
(about 0.7 ms per MB) and, in a thread, does it with the GIL released, off the loop.
Playlists, keys and init sections stay on httpx: they are small.

What it does: one keep-alive connection per (scheme, host, port) and concurrent
download, pooled per recording (`LeanFetcher`) and closed with it; the client's and the
source's headers; up to 5 redirects (absolute or relative `Location`); chunked and
Content-Length bodies; the client's connect and read timeouts on the socket; an
`http://` proxy, by absolute-URI requests for http targets and a CONNECT tunnel for
https ones. `usable_proxy` says which proxies it can use; for any other (SOCKS, an
`https://` proxy) the engine keeps the httpx path. It sends no `Accept-Encoding` (it
does not decode). It verifies TLS against the context it is given (the shared
client's, see `activities.engines.network`), and shares the client's cookie jar:
cookies set on the client, or by a playlist response, go with every segment request
(unless the request names its own `Cookie`), and a segment's `Set-Cookie` lands in
the jar for httpx's next request.

Threads run in one bounded executor for the process (`MAX_THREADS`). An awaiting task
that is cancelled, or that passes its deadline, shuts the request's socket down from
the loop: the thread's blocked read fails at once, so neither shutdown nor the
executor waits for a read timeout.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import socket
import ssl
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping
    from http.cookiejar import CookieJar

MAX_THREADS = 64
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DROPPED = frozenset({"accept-encoding", "connection", "host"})
_executor_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def _shared_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="hls-fetch")
        return _executor


class LeanFetchError(Exception):
    """A request failed: network trouble, a timeout, a bad URL or too many redirects."""


@dataclass(frozen=True)
class Response:
    """A finished GET: the final status and the whole body."""

    status: int
    body: bytes


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    auth: str | None  # a Proxy-Authorization value


def usable_proxy(proxy: str | None) -> bool:
    """True when `LeanFetcher` can go through `proxy` (none, or an http:// one)."""
    if not proxy:
        return True
    parts = urlsplit(proxy)
    return parts.scheme == "http" and bool(parts.hostname)


def _parse_proxy(proxy: str | None) -> _Proxy | None:
    if not proxy:
        return None
    parts = urlsplit(proxy)
    if not usable_proxy(proxy) or parts.hostname is None:
        raise ValueError(f"unsupported proxy {proxy}")
    auth = None
    if parts.username is not None:
        user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(user_pass.encode()).decode("ascii")
    return _Proxy(parts.hostname, parts.port or 80, auth)


def _merge(*layers: Mapping[str, str]) -> dict[str, str]:
    """Later layers win, names compared without case; see `_DROPPED`."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return {n: v for low, (n, v) in merged.items() if low not in _DROPPED}


class _Call:
    """One request's connection, so that the loop can abort it."""

    def __init__(self) -> None:
        self.aborted = False
        self.conn: http.client.HTTPConnection | None = None
        self.lock = threading.Lock()

    def attach(self, conn: http.client.HTTPConnection) -> None:
        with self.lock:
            self.conn = conn
            if not self.aborted:
                return
        raise LeanFetchError("aborted")

    def detach(self) -> None:
        """The request is over: a late abort must not touch the pooled connection."""
        with self.lock:
            self.conn = None

    def abort(self) -> None:
        with self.lock:
            self.aborted = True
            conn = self.conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


_Key = tuple[str, str, int]


class LeanFetcher:
    """Blocking GETs in threads over a small per-recording keep-alive pool.

    Args:
        headers: sent with every request (lower precedence than a call's own).
        connect_timeout: seconds to open a connection (and a proxy tunnel).
        read_timeout: seconds any single socket read may wait.
        ssl_context: verifies https servers (the shared client's context).
        proxy: an `http://` proxy URL (see `usable_proxy`), or None.
        cookies: the client's cookie jar, read and updated; None sends none.
    """

    def __init__(
        self,
        headers: Mapping[str, str],
        *,
        connect_timeout: float,
        read_timeout: float,
        ssl_context: ssl.SSLContext,
        proxy: str | None = None,
        cookies: CookieJar | None = None,
    ) -> None:
        self.headers = dict(headers)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.proxy = _parse_proxy(proxy)
        self.ssl_context = ssl_context
        self.cookies = cookies
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.connections_opened = 0  # for tests and logs

    async def get(self, url: str, headers: Mapping[str, str]) -> Response:
        """GET `url` in a worker thread, following redirects.

        Bound it with `asyncio.timeout`: a cancelled or timed-out call aborts the
        thread's request rather than leaving it to run into the read timeout.

        Raises:
            LeanFetchError: network trouble, a bad URL, too many redirects.
        """
        call = _Call()
        future = asyncio.get_running_loop().run_in_executor(
            _shared_executor(), self._get, call, url, _merge(self.headers, headers)
        )
        try:
            return await future
        except BaseException:
            call.abort()  # the thread gives up at once, its connection is dropped
            raise

    def close(self) -> None:
        """Close idle connections; those still in use close when their request ends."""
        with self._lock:
            self._closed = True
            idle = [c for conns in self._idle.values() for c in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()

    # --- in the worker thread -----------------------------------------------------

    def _get(self, call: _Call, url: str, headers: dict[str, str]) -> Response:
        for _ in range(MAX_REDIRECTS + 1):
            status, location, body = self._request(call, url, headers)
            if status in _REDIRECTS and location:
                url = urljoin(url, location)
                continue
            return Response(status, body)
        raise LeanFetchError(f"more than {MAX_REDIRECTS} redirects")

    def _request(
        self, call: _Call, url: str, headers: dict[str, str]
    ) -> tuple[int, str | None, bytes]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as err:
            raise LeanFetchError(f"bad URL {url}: {err}") from err
        if scheme not in ("http", "https") or not parts.hostname:
            raise LeanFetchError(f"cannot fetch {url}")
        key = (scheme, parts.hostname, port)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if self.proxy is not None and scheme == "http":
            target = parts._replace(fragment="").geturl()  # absolute-URI form
            if self.proxy.auth:
                headers = {**headers, "Proxy-Authorization": self.proxy.auth}
        jar, jar_request = self.cookies, None
        # httpx does not merge the jar into an explicit Cookie header either
        if jar is not None and not any(n.lower() == "cookie" for n in headers):
            jar_request = urllib.request.Request(url)
            jar.add_cookie_header(jar_request)
            headers = {**headers, **dict(jar_request.header_items())}
        while True:
            conn, reused = self._take(key)
            try:
                call.attach(conn)
                if conn.sock is None:
                    conn.connect()
                    if call.aborted:  # aborted while connecting: no socket to shut
                        raise LeanFetchError("aborted")
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                if reused and not call.aborted:
                    continue  # the server closed an idle keep-alive connection
                raise LeanFetchError(repr(err)) from err
            except BaseException:
                conn.close()
                raise
            call.detach()
            if jar is not None and jar_request is not None:
                # the jar locks itself: httpx may use it on the loop meanwhile
                jar.extract_cookies(response, jar_request)
            if response.will_close:
                conn.close()
            else:
                self._give_back(key, conn)
            return response.status, response.getheader("Location"), body

    def _take(self, key: _Key) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._closed:
                raise LeanFetchError("the fetcher is closed")
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        self.connections_opened += 1
        return self._connect(key), False

    def _connect(self, key: _Key) -> http.client.HTTPConnection:
        scheme, host, port = key
        proxy = self.proxy
        if proxy is None:
            if scheme == "https":
                return _TimedHTTPS(
                    host, port, self.connect_timeout, self.read_timeout,
                    self.ssl_context,
                )  # fmt: skip
            return _TimedHTTP(host, port, self.connect_timeout, self.read_timeout)
        if scheme == "http":
            return _TimedHTTP(
                proxy.host, proxy.port, self.connect_timeout, self.read_timeout
            )
        conn = _TimedHTTPS(
            proxy.host, proxy.port, self.connect_timeout, self.read_timeout,
            self.ssl_context,
        )  # fmt: skip
        tunnel_headers = {"Proxy-Authorization": proxy.auth} if proxy.auth else None
        conn.set_tunnel(host, port, headers=tunnel_headers)
        return conn

    def _give_back(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.setdefault(key, []).append(conn)
                return
        conn.close()


class _TimedHTTP(http.client.HTTPConnection):
    """Connects within the connect timeout, then reads with the read timeout."""

    def __init__(self, host: str, port: int, connect: float, read: float) -> None:
        super().__init__(host, port, timeout=connect)
        self._read_timeout = read

    def connect(self) -> None:
        super().connect()
        assert self.sock is not None
        self.sock.settimeout(self._read_timeout)


class _TimedHTTPS(http.client.HTTPSConnection):
    """`_TimedHTTP` over TLS (the handshake is bound by the connect timeout)."""

    def __init__(
        self, host: str, port: int, connect: float, read: float, ctx: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=connect, context=ctx)
        self._read_timeout = read

    def connect(self) -> None:
        super().connect()
        assert self.sock is not None
        self.sock.settimeout(self._read_timeout)

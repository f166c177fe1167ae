"""A scripted HLS origin for faults, served through `httpx.MockTransport`.

Each URL gets a script: a playlist answers from a list (text, status code, exception
or an `asyncio.Event` to hang on until set; the last entry repeats), a file answers
its bytes after `stall` unanswered requests and `fail` failures, or hangs until
`release` is set. Any URL without a script fails the test (streamlink's strict
`requests_mock`). The origin counts requests per URL and the most requests it saw in
flight at once. `LoopbackProxy` is a real forward proxy on loopback for proxy tests.

    origin = ScriptedHls()
    origin.playlist("index.m3u8", [media_playlist(0, segs), 404])
    origin.file("seg0.ts", body, fail=2)
    async with origin.client() as http: ...
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urljoin

import httpx

from tests.fakes.background import BackgroundFake

if TYPE_CHECKING:
    from collections.abc import Callable

BASE = "https://cdn.example.com/live/"

Answer: TypeAlias = str | int | Exception | asyncio.Event


@dataclass
class FileScript:
    """How one file answers."""

    body: bytes
    fail: int = 0
    status: int = 500
    release: asyncio.Event | None = None
    stall: int = 0


@dataclass
class ScriptedHls:
    """The origin; `base` resolves the relative names given to `playlist`/`file`."""

    base: str = BASE
    playlists: dict[str, list[Answer]] = field(default_factory=dict)
    files: dict[str, FileScript] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    order: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(
        self, predicate: Callable[[], bool], limit_secs: float = 15.0
    ) -> None:
        """Wait until `predicate` holds, checking it after every request."""
        async with asyncio.timeout(limit_secs):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def url(self, name: str) -> str:
        """The absolute URL of `name`."""
        return urljoin(self.base, name)

    def playlist(self, name: str, answers: list[Answer]) -> str:
        """Script a playlist; returns its URL."""
        url = self.url(name)
        self.playlists[url] = list(answers)
        return url

    def file(
        self,
        name: str,
        body: bytes,
        *,
        fail: int = 0,
        status: int = 500,
        release: asyncio.Event | None = None,
        stall: int = 0,
    ) -> str:
        """Script a file.

        Args:
            name: relative to `base`, or absolute.
            body: the bytes it serves (byte ranges honoured).
            fail: answer `status` this many times first.
            status: the failing status.
            release: hang every request until this is set.
            stall: never answer this many requests first (until cancelled).

        Returns:
            Its URL.
        """
        url = self.url(name)
        self.files[url] = FileScript(body, fail, status, release, stall)
        return url

    def client(self) -> httpx.AsyncClient:
        """A client whose every request goes to this origin."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def count(self, name: str) -> int:
        """Requests so far for `name`."""
        return self.requests[self.url(name)]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests[url] += 1
        self.order.append(url)
        self._changed.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if url in self.playlists:
                return await self._playlist(url)
            script = self.files.get(url)
            if script is None:
                raise AssertionError(f"unexpected request to {url}")
            if script.stall > 0:
                script.stall -= 1
                await asyncio.Event().wait()  # until the client gives up
            if script.release is not None:
                await script.release.wait()
            if script.fail > 0:
                script.fail -= 1
                return httpx.Response(script.status)
            return _ranged(request, script.body)
        finally:
            self.in_flight -= 1

    async def _playlist(self, url: str) -> httpx.Response:
        answers = self.playlists[url]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, asyncio.Event):
            await answer.wait()
            return await self._playlist(url)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer)
        return httpx.Response(200, text=answer)


def _ranged(request: httpx.Request, body: bytes) -> httpx.Response:
    wanted = request.headers.get("Range")
    if not wanted:
        return httpx.Response(200, content=body)
    first, _, last = wanted.removeprefix("bytes=").partition("-")
    start, end = int(first), int(last) + 1
    return httpx.Response(
        206,
        content=body[start:end],
        headers={"Content-Range": f"bytes {start}-{end - 1}/{len(body)}"},
    )


@dataclass
class Seg:
    """One segment line of a scripted media playlist.

    Attributes:
        uri: the segment URI.
        duration: its EXTINF.
        discontinuity: preceded by `EXT-X-DISCONTINUITY`.
        key: an `EXT-X-KEY` attribute list to put before it.
        init: an `EXT-X-MAP` URI to put before it.
        gap: marked `EXT-X-GAP`.
        byterange: an `EXT-X-BYTERANGE` value.
    """

    uri: str
    duration: float = 1.0
    discontinuity: bool = False
    key: str | None = None
    init: str | None = None
    gap: bool = False
    byterange: str | None = None


def media_playlist(
    first: int,
    segments: list[Seg],
    *,
    target: int = 1,
    endlist: bool = False,
    version: int = 3,
) -> str:
    """A media playlist starting at media sequence `first`."""
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{version}",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
    ]
    for seg in segments:
        if seg.key:
            lines.append(f"#EXT-X-KEY:{seg.key}")
        if seg.init:
            lines.append(f'#EXT-X-MAP:URI="{seg.init}"')
        if seg.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXTINF:{seg.duration:.3f},")
        if seg.byterange:
            lines.append(f"#EXT-X-BYTERANGE:{seg.byterange}")
        if seg.gap:
            lines.append("#EXT-X-GAP")
        lines.append(seg.uri)
    if endlist:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def window(
    first: int,
    count: int,
    *,
    name: str = "seg{}.ts",
    endlist: bool = False,
    target: int = 1,
) -> str:
    """A sliding-window playlist of `count` plain segments named after `name`."""
    return media_playlist(
        first,
        [Seg(name.format(n)) for n in range(first, first + count)],
        endlist=endlist,
        target=target,
    )


class LoopbackProxy(BackgroundFake):
    """A forward proxy on 127.0.0.1 that is also the origin it forwards to.

    As an HTTP proxy it answers absolute-form requests (`GET http://host/path`) from
    `routes`; with `socks=True` it is a SOCKS5 proxy (no authentication) whose every
    CONNECT leads to that same origin. Either way a test proves its requests went
    through the proxy to hosts that do not exist.
    """

    def __init__(self, routes: dict[str, bytes], *, socks: bool = False) -> None:
        self.routes = routes
        self.socks = socks
        self.seen: list[str] = []
        self.tunnels: list[str] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The proxy URL to configure."""
        assert self._httpd is not None, "LoopbackProxy not started"
        host, port = self._httpd.server_address[:2]
        return f"{'socks5' if self.socks else 'http'}://{host!s}:{port}"

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            origin = ""

            def handle(self) -> None:
                if proxy.socks:
                    self.origin = _socks5_accept(self.rfile, self.wfile)
                    proxy.tunnels.append(self.origin)
                super().handle()

            def do_GET(self) -> None:
                url = self.path
                if self.origin:  # origin-form inside a SOCKS tunnel
                    host, _, port = self.origin.rpartition(":")
                    authority = host if port == "80" else self.origin
                    url = f"http://{authority}{self.path}"
                proxy.seen.append(url)
                body = proxy.routes.get(url)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


def _socks5_accept(rfile: io.BufferedIOBase, wfile: io.BufferedIOBase) -> str:
    """Answer a SOCKS5 greeting and CONNECT (RFC 1928); return the `host:port` asked."""
    version, methods = rfile.read(2)
    assert version == 5, "not a SOCKS5 client"
    rfile.read(methods)
    wfile.write(b"\x05\x00")  # no authentication
    _, command, _, kind = rfile.read(4)
    assert command == 1, "only CONNECT"
    if kind == 3:  # domain name
        host = rfile.read(rfile.read(1)[0]).decode()
    else:  # IPv4 or IPv6
        host = str(ipaddress.ip_address(rfile.read(4 if kind == 1 else 16)))
    port = int.from_bytes(rfile.read(2), "big")
    wfile.write(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")  # succeeded
    wfile.flush()
    return f"{host}:{port}"

"""The lean segment fetcher (`http11`) against a real loopback server."""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, ClassVar

import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import RecordingStats
from activities.engines.hls import HlsEngine
from activities.engines.hls.http11 import LeanFetcher, LeanFetchError, usable_proxy
from activities.engines.network import network_access
from tests.activities.engines.hls_support import make_plan
from tests.fakes.segment_sink import CheckingSink

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

BODY = bytes(range(256)) * 4096  # 1 MiB


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    log: ClassVar[list[tuple[str, str, int, dict[str, str]]]] = []
    release = threading.Event()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_CONNECT(self) -> None:
        self.log.append(("CONNECT", self.path, self.client_address[1], {}))
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.log.append(("GET", self.path, self.client_address[1], headers))
        path = self.path
        if path.startswith("http://"):  # the absolute form a proxy gets
            path = "/" + path.split("/", 3)[3]
        if path.startswith("/seg"):
            self._send(200, BODY)
        elif path == "/range":
            first, last = headers["range"].removeprefix("bytes=").split("-")
            self._send(206, BODY[int(first) : int(last) + 1])
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(BODY), 300_000):
                chunk = BODY[start : start + 300_000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/relative":
            self._redirect("seg1")
        elif path == "/absolute":
            self._redirect(f"http://{self.headers['Host']}/relative")
        elif path == "/loop":
            self._redirect("/loop")
        elif path == "/stall":
            self.release.wait(10)
            self._send(200, b"late")
        elif path == "/live.m3u8":
            self._send(200, PLAYLIST.encode())
        else:
            self._send(404, b"no")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


PLAYLIST = """#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:2.0,
seg0.ts
#EXTINF:2.0,
seg1.ts
#EXTINF:2.0,
seg2.ts
#EXT-X-ENDLIST
"""


@pytest.fixture
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Handler.log.clear()
    Handler.release.clear()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        Handler.release.set()
        server.shutdown()
        server.server_close()


def lean(**kw: object) -> LeanFetcher:
    return LeanFetcher(
        {"User-Agent": "test/1"},
        connect_timeout=2.0,
        read_timeout=kw.pop("read_timeout", 2.0),  # type: ignore[arg-type]
        ssl_context=network_access().ssl_context,
        **kw,  # type: ignore[arg-type]
    )


async def test_one_keep_alive_connection_serves_every_segment(origin: str) -> None:
    fetcher = lean()
    try:
        for n in range(3):
            got = await fetcher.get(f"{origin}/seg{n}.ts", {"Referer": "r"})
            assert (got.status, got.body) == (200, BODY)
    finally:
        fetcher.close()
    assert fetcher.connections_opened == 1
    assert len({port for _, _, port, _ in Handler.log}) == 1
    sent = Handler.log[0][3]
    assert sent["user-agent"] == "test/1"
    assert sent["referer"] == "r"
    assert sent["accept-encoding"] == "identity"  # http.client's: no decoding


async def test_chunked_bodies_and_ranges(origin: str) -> None:
    fetcher = lean()
    try:
        assert (await fetcher.get(f"{origin}/chunked", {})).body == BODY
        got = await fetcher.get(f"{origin}/range", {"Range": "bytes=10-19"})
        assert (got.status, got.body) == (206, BODY[10:20])
    finally:
        fetcher.close()
    assert fetcher.connections_opened == 1


async def test_redirects_relative_and_absolute_and_not_forever(origin: str) -> None:
    fetcher = lean()
    try:
        assert (await fetcher.get(f"{origin}/absolute", {})).body == BODY
        assert [path for _, path, _, _ in Handler.log] == [
            "/absolute",
            "/relative",
            "/seg1",
        ]
        with pytest.raises(LeanFetchError, match="redirects"):
            await fetcher.get(f"{origin}/loop", {})
    finally:
        fetcher.close()


async def test_an_error_status_is_returned(origin: str) -> None:
    fetcher = lean()
    try:
        assert (await fetcher.get(f"{origin}/missing", {})).status == 404
    finally:
        fetcher.close()


async def test_read_timeout_and_refused_connections_fail(origin: str) -> None:
    fetcher = lean(read_timeout=0.3)
    try:
        with pytest.raises(LeanFetchError, match="timed out"):
            await fetcher.get(f"{origin}/stall", {})
        with pytest.raises(LeanFetchError):
            await fetcher.get("http://127.0.0.1:1/seg0.ts", {})
        with pytest.raises(LeanFetchError, match="cannot fetch"):
            await fetcher.get("ftp://127.0.0.1/x", {})
    finally:
        fetcher.close()


async def test_a_cancelled_fetch_aborts_its_thread_at_once(origin: str) -> None:
    fetcher = lean(read_timeout=30.0)
    threads = threading.active_count()
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await fetcher.get(f"{origin}/stall", {})
        assert time.monotonic() - started < 2
        # the aborted connection is dropped; the next request opens another
        assert (await fetcher.get(f"{origin}/seg0.ts", {})).body == BODY
        assert fetcher.connections_opened == 2
    finally:
        fetcher.close()
    assert threading.active_count() <= threads + 64  # the bounded executor


async def test_an_idle_connection_the_server_closed_is_replaced(origin: str) -> None:
    fetcher = lean()
    try:
        await fetcher.get(f"{origin}/seg0.ts", {})
        for conns in fetcher._idle.values():
            for conn in conns:
                assert conn.sock is not None
                conn.sock.close()  # as if the server had timed it out
        assert (await fetcher.get(f"{origin}/seg1.ts", {})).body == BODY
    finally:
        fetcher.close()
    assert fetcher.connections_opened == 2


async def test_an_http_proxy_gets_absolute_uris_and_connect(origin: str) -> None:
    port = origin.rsplit(":", 1)[1]
    fetcher = lean(proxy=f"http://user:pw@127.0.0.1:{port}")
    try:
        got = await fetcher.get("http://media.example/seg0.ts", {})
        assert got.body == BODY
        with pytest.raises(LeanFetchError, match="502"):
            await fetcher.get("https://media.example:8443/seg0.ts", {})
    finally:
        fetcher.close()
    method, path, _, headers = Handler.log[0]
    assert (method, path) == ("GET", "http://media.example/seg0.ts")
    assert headers["proxy-authorization"] == "Basic dXNlcjpwdw=="
    assert Handler.log[1][:2] == ("CONNECT", "media.example:8443")


def test_only_http_proxies_are_supported() -> None:
    assert usable_proxy(None)
    assert usable_proxy("http://proxy:3128")
    assert not usable_proxy("socks5://proxy:1080")
    assert not usable_proxy("https://proxy:443")


async def test_the_engine_records_through_the_lean_path(
    origin: str, tmp_path: Path
) -> None:
    sink, stats = CheckingSink(), RecordingStats()
    source = StreamSource(url=f"{origin}/live.m3u8", kind=StreamKind.HLS)
    async with httpx.AsyncClient() as http:
        engine = HlsEngine(http, network=network_access())
        assert engine.lean_fetcher_for(source) is not None
        reason = await asyncio.wait_for(
            engine.record(source, make_plan(tmp_path), sink, stats), 30
        )
    assert reason == "ended"
    assert (tmp_path / "out" / "rec_0.ts").read_bytes() == BODY * 3
    segment_ports = {port for _, path, port, _ in Handler.log if path.endswith(".ts")}
    # at most the engine's concurrency in connections, and no httpx request for them
    assert 1 <= len(segment_ports) <= engine.concurrency
    assert all(
        h["accept-encoding"] == "identity"
        for _, p, _, h in Handler.log
        if p.endswith(".ts")
    )

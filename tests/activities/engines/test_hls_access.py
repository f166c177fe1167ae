"""When the HLS engine takes the lean segment path, and how: TLS trust and cookies.

The decision comes from our own settings (`NetworkAccess`, given by whoever built the
client), never from httpx's internals. The lean path verifies https servers against
the context it is given and shares the client's cookie jar, in both directions.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, ClassVar

import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import RecordingStats
from activities.engines.hls import HlsEngine
from activities.engines.hls.http11 import LeanFetcher, LeanFetchError
from activities.engines.network import NetworkAccess, network_access
from tests.activities.engines.hls_support import make_plan
from tests.fakes.segment_sink import CheckingSink
from tests.fakes.tls import self_signed, server_context, trusting

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

BODY = b"\x47" * 188 * 64
PLAYLIST = """#EXTM3U
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:1.0,
seg0.ts
#EXTINF:1.0,
seg1.ts
#EXT-X-ENDLIST
"""


class Handler(BaseHTTPRequestHandler):
    """The playlist sets a session cookie; segments need it (else 403)."""

    protocol_version = "HTTP/1.1"
    log: ClassVar[list[tuple[str, dict[str, str]]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.log.append((self.path, headers))
        if self.path == "/live.m3u8":
            self._send(200, PLAYLIST.encode(), "session=s3cret; Path=/")
        elif self.path.startswith("/seg"):
            cookies = headers.get("cookie", "")
            if "session=s3cret" in cookies and "preset=1" in cookies:
                self._send(200, BODY, "fetched=yes; Path=/")
            else:
                self._send(403, b"who are you")
        else:
            self._send(404, b"")

    def _send(self, status: int, body: bytes, cookie: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(body)


class Origin:
    def __init__(self, url: str, cert: Path) -> None:
        self.url = url
        self.cert = cert

    def segment_requests(self) -> list[dict[str, str]]:
        return [h for path, h in Handler.log if path.startswith("/seg")]


@pytest.fixture(params=["http", "https"])
def origin(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Origin]:
    cert, key = self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if request.param == "https":
        server.socket = server_context(cert, key).wrap_socket(
            server.socket, server_side=True
        )
    server.daemon_threads = True
    Handler.log.clear()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield Origin(f"{request.param}://127.0.0.1:{server.server_port}", cert)
    finally:
        server.shutdown()
        server.server_close()


async def test_the_engine_records_through_the_lean_path_with_cookies(
    origin: Origin, tmp_path: Path
) -> None:
    """A cookie set on the client and one the playlist sets reach every segment."""
    network = NetworkAccess(ssl_context=trusting(origin.cert))
    sink, stats = CheckingSink(), RecordingStats()
    source = StreamSource(url=f"{origin.url}/live.m3u8", kind=StreamKind.HLS)
    # built as worker.http_client builds the shared client: from the same access
    async with httpx.AsyncClient(
        verify=network.ssl_context, cookies={"preset": "1"}
    ) as http:
        engine = HlsEngine(http, network=network)
        assert engine.lean_fetcher_for(source) is not None
        reason = await asyncio.wait_for(
            engine.record(source, make_plan(tmp_path), sink, stats), 30
        )
        # a segment's Set-Cookie is in the jar for httpx's next request
        assert http.cookies.get("fetched") == "yes"
    assert reason == "ended"
    assert (tmp_path / "out" / "rec_0.ts").read_bytes() == BODY * 2
    sent = origin.segment_requests()
    assert len(sent) == 2
    # http.client's own header: httpx would have asked for gzip
    assert all(h["accept-encoding"] == "identity" for h in sent)


async def test_a_cookie_header_of_the_source_wins_over_the_jar(origin: Origin) -> None:
    """As in httpx: an explicit Cookie header is sent as is, the jar left out."""
    jar = httpx.Cookies({"preset": "1"}).jar
    fetcher = LeanFetcher(
        {},
        connect_timeout=2,
        read_timeout=2,
        ssl_context=trusting(origin.cert),
        cookies=jar,
    )
    try:
        got = await fetcher.get(f"{origin.url}/seg0.ts", {"Cookie": "session=s3cret"})
        assert got.status == 403  # the jar's preset=1 was not added
        both = {"Cookie": "session=s3cret; preset=1"}
        assert (await fetcher.get(f"{origin.url}/seg0.ts", both)).body == BODY
    finally:
        fetcher.close()


@pytest.mark.parametrize("origin", ["https"], indirect=True)
async def test_https_is_verified_against_the_given_bundle(origin: Origin) -> None:
    # the default bundle (certifi) does not know the test's self-signed certificate
    fetcher = LeanFetcher(
        {},
        connect_timeout=2,
        read_timeout=2,
        ssl_context=network_access().ssl_context,
    )
    try:
        with pytest.raises(LeanFetchError, match="CERTIFICATE_VERIFY_FAILED"):
            await fetcher.get(f"{origin.url}/seg0.ts", {})
    finally:
        fetcher.close()
    assert origin.segment_requests() == []


def test_the_default_access_verifies_servers() -> None:
    context = network_access(proxy="http://proxy:3128").ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


async def test_the_lean_path_only_when_the_engine_is_told_the_network() -> None:
    source = StreamSource(url="http://x/live.m3u8", kind=StreamKind.HLS)
    network = network_access()
    async with httpx.AsyncClient() as real:
        # a client whose settings nobody described stays on httpx, real or not
        assert HlsEngine(real).lean_fetcher_for(source) is None
        lean = HlsEngine(real, network=network).lean_fetcher_for(source)
        assert lean is not None
        assert lean.ssl_context is network.ssl_context
        assert lean.cookies is real.cookies.jar
        # a SOCKS proxy is for httpx alone
        socks = source.model_copy(update={"proxy": "socks5://p:1080"})
        assert HlsEngine(real, network=network).lean_fetcher_for(socks) is None
        # a client-wide proxy goes with the access; the source's own wins
        proxied = HlsEngine(
            real, network=NetworkAccess(network.ssl_context, "http://a:1")
        )
        fetcher = proxied.lean_fetcher_for(source)
        assert fetcher is not None
        assert fetcher.proxy is not None
        assert fetcher.proxy.host == "a"
        own = source.model_copy(update={"proxy": "http://b:2"})
        fetcher = proxied.lean_fetcher_for(own)
        assert fetcher is not None
        assert fetcher.proxy is not None
        assert fetcher.proxy.host == "b"

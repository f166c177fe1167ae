"""Media shared by the engine tests.

Real HLS segment sets rendered by ffmpeg once per session (for scripted origins), and
live loopback streams for the ffmpeg and streamlink engines: each test records a few
seconds of them and stops; starting a stream per test would cost seconds of encoder
start-up each. Both end when the session does.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from activities.contracts import StreamKind, StreamSource
from tests.fakes.hls_media import Rendition, render
from tests.fakes.live_faults import Variant
from tests.fakes.live_flv import LiveFlvServer
from tests.fakes.live_hls import LiveHls

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

LIVE_SECS = 600


@dataclass(frozen=True)
class HlsMedia:
    """Segment sets for scripted origins.

    Attributes:
        ts: 12 one-second MPEG-TS segments, 320x240.
        ts_small: 4 one-second MPEG-TS segments of another encode, 192x144.
        fmp4: 8 one-second fMP4 fragments with their init section, 320x240.
        fmp4_small: 4 fMP4 fragments of another encode, 192x144.
    """

    ts: Rendition
    ts_small: Rendition
    fmp4: Rendition
    fmp4_small: Rendition


@pytest.fixture(scope="session")
def hls_media(ffmpeg: Path, tmp_path_factory: pytest.TempPathFactory) -> HlsMedia:
    root = tmp_path_factory.mktemp("hls-media")
    small = (192, 144)
    return HlsMedia(
        ts=render(ffmpeg, root / "ts", count=12),
        ts_small=render(ffmpeg, root / "ts_small", count=4, size=small),
        fmp4=render(ffmpeg, root / "fmp4", count=8, fmp4=True),
        fmp4_small=render(ffmpeg, root / "fmp4_small", count=4, fmp4=True, size=small),
    )


@pytest.fixture(scope="session")
def live_variants(
    ffmpeg: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Variant]:
    """The three variants a `LiveOrigin` serves, 32 one-second segments each."""
    root = tmp_path_factory.mktemp("live-variants")
    ts = render(ffmpeg, root / "ts", count=32)
    fmp4 = render(ffmpeg, root / "fmp4", count=32, fmp4=True)
    return {
        "ts": Variant("ts", ts),
        "fmp4": Variant("fmp4", fmp4),
        "aes": Variant("aes", ts),
    }


@pytest.fixture(scope="session")
def live_hls(
    ffmpeg: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveHls]:
    """A live HLS stream (1 s segments, 1 s GOP) for the whole session."""
    directory = tmp_path_factory.mktemp("live-hls")
    with LiveHls(directory, ffmpeg=ffmpeg, duration=LIVE_SECS, list_size=6) as live:
        live.wait_for_segments(3, timeout=20)
        yield live


@pytest.fixture(scope="session")
def live_flv(ffmpeg: Path) -> Iterator[LiveFlvServer]:
    """A live HTTP-FLV stream (1 s GOP) for the whole session."""
    with LiveFlvServer(ffmpeg, duration_secs=LIVE_SECS) as server:
        yield server


@pytest.fixture
def live_source(
    request: pytest.FixtureRequest,
) -> Callable[[StreamKind], StreamSource]:
    """The shared live stream of a transport, started on first use."""

    def source(kind: StreamKind) -> StreamSource:
        if kind == StreamKind.HLS:
            live: LiveHls = request.getfixturevalue("live_hls")
            return StreamSource(url=live.url, kind=kind)
        server: LiveFlvServer = request.getfixturevalue("live_flv")
        return StreamSource(url=server.url, kind=kind)

    return source


class Refusing:
    """An HTTP server that answers 404 to everything and remembers each request.

    Also serves as an HTTP proxy: a proxied request line carries the full URL.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append((self.requestline, dict(self.headers.items())))
                self.send_error(404, "stream offline")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture
def refusing() -> Iterator[Refusing]:
    """A local server that answers 404 (offline) and records the requests."""
    server = Refusing()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        with contextlib.suppress(RuntimeError):
            server.thread.join(5)


@pytest.fixture
def silent() -> Iterator[str]:
    """A URL whose server takes the connection and never answers."""
    with socket.socket() as listener:
        # the kernel completes connections into the backlog without accept()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        host, port = listener.getsockname()[:2]
        yield f"http://{host}:{port}/live.flv"

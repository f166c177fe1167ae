"""A live HLS origin whose faults are scheduled in time, for continuity tests.

The stream is a function of the origin's clock. Segment n of a real rendition is
published `segment_secs` after segment n-1; `backlog` segments are there at time 0
and the playlist lists the last `window` published ones. At `end_secs` the stream
ends: the playlist gets `#EXT-X-ENDLIST` and stops growing. Faults, each active
from `start` to `end` seconds of origin time, are what real CDNs do for seconds at
a time:

* `stall`: the playlist keeps answering the copy it had at `start` (a stale cache,
  an ad break, an encoder restart behind a packager), while segments go on being
  published, so the first fresh reload jumps ahead;
* `stale`: the playlist answers the window of `back` seconds earlier (a lagging
  edge): the media sequence goes back;
* `playlist`: the playlist answers `status` (404 bursts while an edge rotates);
* `media`: segments, init sections and keys answer `status` (503 bursts).

A segment already published stays available after it leaves the window, as on
CDNs; one not yet published answers 404. Three variants: MPEG-TS (`ts`), fMP4
with `EXT-X-MAP` (`fmp4`) and AES-128 over MPEG-TS (`aes`, IV = media sequence).

Two front ends share the model: `LiveOrigin.handle` for `httpx.MockTransport` on
a test's clock (a `FakeClock` makes a minute of faults take milliseconds), and
`LiveOriginServer`, a real HTTP server on loopback on the wall clock, for
`srec record` and the recording activity.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import httpx

from tests.fakes.background import BackgroundFake
from tests.fakes.hls_media import encrypt, sequence_iv

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tests.fakes.hls_media import Rendition

PLAYLIST = "live.m3u8"
KEY = bytes(range(16))


@dataclass(frozen=True)
class Fault:
    """One fault, active from `start` (inclusive) to `end` seconds of origin time.

    Attributes:
        kind: `stall`, `stale`, `playlist` or `media` (see the module).
        status: the answer of a `playlist` or `media` fault.
        back: how many seconds behind a `stale` playlist is.
    """

    kind: str
    start: float
    end: float
    status: int = 0
    back: float = 0.0

    def active(self, now: float) -> bool:
        return self.start <= now < self.end


def stall(start: float, end: float) -> Fault:
    """The playlist stops advancing from `start` to `end`."""
    return Fault("stall", start, end)


def stale(start: float, end: float, back: float) -> Fault:
    """Reloads answer a window `back` seconds old from `start` to `end`."""
    return Fault("stale", start, end, back=back)


def playlist_status(start: float, end: float, status: int = 404) -> Fault:
    """The playlist answers `status` from `start` to `end`."""
    return Fault("playlist", start, end, status=status)


def media_status(start: float, end: float, status: int = 503) -> Fault:
    """Segments, init sections and keys answer `status` from `start` to `end`."""
    return Fault("media", start, end, status=status)


@dataclass(frozen=True)
class Variant:
    """A rendition as the origin serves it: `ts`, `fmp4` or `aes`."""

    name: str
    rendition: Rendition

    @property
    def ext(self) -> str:
        """The extension of its segment names."""
        return "m4s" if self.name == "fmp4" else "ts"

    @property
    def recorded_ext(self) -> str:
        """The extension of the files a recording of it gets."""
        return "mp4" if self.name == "fmp4" else "ts"

    def body(self, n: int) -> bytes:
        """Segment n as served."""
        data = self.rendition.segments[n]
        return encrypt(data, KEY, sequence_iv(n)) if self.name == "aes" else data


@dataclass
class LiveOrigin:
    """The stream and its faults as a function of `clock` (seconds).

    Attributes:
        requests: (time, path, status) of every request, in order.
        first_request: the time of the first request, None before it.
    """

    variant: Variant
    clock: Callable[[], float]
    end_secs: float
    faults: Sequence[Fault] = ()
    segment_secs: float = 1.0
    window: int = 8
    backlog: int = 1
    requests: list[tuple[float, str, int]] = field(default_factory=list)
    first_request: float | None = None

    def __post_init__(self) -> None:
        needed = self.published(self.end_secs)
        if needed > len(self.variant.rendition.segments):
            raise ValueError(f"the rendition has fewer than {needed} segments")

    def published(self, now: float) -> int:
        """How many segments exist at `now`."""
        steps = math.floor(min(now, self.end_secs) / self.segment_secs + 1e-9)
        return self.backlog + max(0, steps)

    def wall_secs(self) -> float:
        """Origin seconds from the first request to the end of the stream."""
        assert self.first_request is not None, "nothing was requested"
        return self.end_secs - self.first_request

    def playlist_at(self, now: float) -> str:
        """The playlist text a fault-free origin answers at `now`."""
        count = self.published(now)
        first = max(0, count - self.window)
        fmp4 = self.variant.name == "fmp4"
        lines = [
            "#EXTM3U",
            f"#EXT-X-VERSION:{7 if fmp4 else 3}",
            f"#EXT-X-TARGETDURATION:{math.ceil(self.segment_secs)}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
        ]
        if fmp4:
            lines.append('#EXT-X-MAP:URI="init.mp4"')
        if self.variant.name == "aes":
            lines.append('#EXT-X-KEY:METHOD=AES-128,URI="key.bin"')
        for n in range(first, count):
            duration = self.variant.rendition.durations[n]
            lines += [f"#EXTINF:{duration:.3f},", f"seg{n}.{self.variant.ext}"]
        if now >= self.end_secs:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def answer(self, path: str) -> tuple[int, bytes]:
        """Status and body for a request of `path` (relative to the origin) now."""
        now = self.clock()
        if self.first_request is None:
            self.first_request = now
        status, body = self._answer(path.lstrip("/"), now)
        self.requests.append((now, path, status))
        return status, body

    def _answer(self, name: str, now: float) -> tuple[int, bytes]:
        faults = [f for f in self.faults if f.active(now)]
        if name == PLAYLIST:
            seen = now
            for fault in faults:
                if fault.kind == "playlist":
                    return fault.status, b""
                if fault.kind == "stall":
                    seen = fault.start
                elif fault.kind == "stale":
                    seen = max(0.0, now - fault.back)
            return 200, self.playlist_at(seen).encode()
        for fault in faults:
            if fault.kind == "media":
                return fault.status, b""
        rendition = self.variant.rendition
        if name == "init.mp4" and rendition.init is not None:
            return 200, rendition.init
        if name == "key.bin" and self.variant.name == "aes":
            return 200, KEY
        stem, dot, ext = name.partition(".")
        if not (stem.startswith("seg") and dot and ext == self.variant.ext):
            return 404, b""
        n = int(stem.removeprefix("seg"))
        if n >= self.published(now):
            return 404, b""
        return 200, self.variant.body(n)

    def sequences_served(self) -> list[int]:
        """The media sequences of the segment requests answered 200, in order."""
        return [
            int(path.lstrip("/").removeprefix("seg").partition(".")[0])
            for _, path, status in self.requests
            if status == 200 and path.lstrip("/").startswith("seg")
        ]

    # --- httpx.MockTransport ------------------------------------------------------

    def url(self, base: str = "https://live.example.com/hls/") -> str:
        """The playlist URL under `base`, for a mock transport."""
        return base + PLAYLIST

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """`httpx.MockTransport` handler: the last path segment names the file."""
        status, body = self.answer(request.url.path.rsplit("/", 1)[-1])
        return httpx.Response(status, content=body)


class LiveOriginServer(BackgroundFake):
    """A `LiveOrigin` on 127.0.0.1 on the wall clock, from the first request on.

    The stream goes live when the recorder first asks, so however long a process
    takes to start, it finds the same one-segment backlog and the faults at the
    same offsets into its recording.

    Args:
        variant: what it serves.
        **timeline: `LiveOrigin`'s `end_secs`, `faults`, `window`, ...
    """

    def __init__(self, variant: Variant, **timeline: object) -> None:
        self._started: float | None = None
        self._lock = threading.Lock()
        self.origin = LiveOrigin(variant, clock=self.elapsed, **timeline)  # type: ignore[arg-type]
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def elapsed(self) -> float:
        """Seconds since the first request (0 before it)."""
        with self._lock:
            if self._started is None:
                self._started = time.monotonic()
            return time.monotonic() - self._started

    def live(self) -> bool:
        """Whether anything was requested yet."""
        return self._started is not None

    @property
    def url(self) -> str:
        """The playlist URL."""
        assert self._httpd is not None, "LiveOriginServer not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/{PLAYLIST}"

    def ended(self) -> bool:
        """Whether the stream is over (ENDLIST published)."""
        return self.live() and self.elapsed() >= self.origin.end_secs

    def start(self) -> None:
        origin = self.origin

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as CDNs

            def do_GET(self) -> None:
                status, body = origin.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

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

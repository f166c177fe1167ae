"""A live HLS origin on loopback from rendered segments, and where each frame came from.

`WindowHls` publishes the segments of a `Rendition` one by one in real time (one per
EXTINF duration of wall time, from `start()`), keeps a sliding window of the newest
in `live.m3u8` and serves every published segment as `seg<N>.ts`; after the last
one the playlist gets ENDLIST. Unlike `LiveHls` it costs no encoder, and every byte
it serves is known in advance, so `FrameIndex` can tell which source segment and
frame each video packet of a recording is: ffmpeg copies H.264 access units byte for
byte (`-c copy`), whatever container and timestamps it writes around them.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from tests.fakes.background import BackgroundFake

if TYPE_CHECKING:
    from pathlib import Path

    from tests.fakes.hls_media import Rendition

PLAYLIST = "live.m3u8"


class WindowHls(BackgroundFake):
    """Serves `rendition` live (see the module docstring).

    Args:
        rendition: the segments, published in order.
        window: segments listed in the playlist.
        head_start: segments published at once when serving starts.
    """

    def __init__(
        self, rendition: Rendition, *, window: int = 10, head_start: int = 4
    ) -> None:
        self.rendition = rendition
        self.window = window
        self.head_start = head_start
        self.extra: dict[str, bytes] = {}  # more files to serve, by name
        self._started = 0.0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The media playlist URL."""
        assert self._httpd is not None, "WindowHls not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/{PLAYLIST}"

    def published(self) -> int:
        """How many segments are out so far."""
        elapsed = time.monotonic() - self._started
        count, total = self.head_start, 0.0
        for duration in self.rendition.durations[self.head_start :]:
            total += duration
            if total > elapsed:
                break
            count += 1
        return min(count, len(self.rendition.segments))

    async def wait_for_published(self, n: int, limit_secs: float = 60.0) -> None:
        """Wait until `n` segments are out (publishing follows the clock alone)."""
        async with asyncio.timeout(limit_secs):
            while self.published() < n:  # noqa: ASYNC110 (no event: a clock)
                await asyncio.sleep(0.05)

    def playlist(self) -> str:
        """The playlist as served now."""
        out = self.published()
        first = max(0, out - self.window)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{round(max(self.rendition.durations))}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
        ]
        for n in range(first, out):
            lines += [f"#EXTINF:{self.rendition.durations[n]:.3f},", f"seg{n}.ts"]
        if out == len(self.rendition.segments):
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = origin._body(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._started = time.monotonic()
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

    def _body(self, name: str) -> bytes | None:
        if name in self.extra:
            return self.extra[name]
        if name == PLAYLIST:
            return self.playlist().encode()
        if name.startswith("seg") and name.endswith(".ts"):
            number = name[3:-3]
            if number.isdigit() and int(number) < self.published():
                return self.rendition.segments[int(number)]
        return None


def _fingerprint(packet_bytes: bytes) -> str:
    # the tail: a muxer may put an access unit delimiter in front, never behind
    return hashlib.sha1(packet_bytes[-64:]).hexdigest()


class FrameIndex:
    """Which source segment and frame each video packet of a recording is.

    Args:
        rendition: the source (MPEG-TS segments).
        directory: where to write its segments to read them with PyAV.
    """

    def __init__(self, rendition: Rendition, directory: Path) -> None:
        self.where: dict[str, tuple[int, int]] = {}
        self.per_segment: list[int] = []
        directory.mkdir(parents=True, exist_ok=True)
        for n, data in enumerate(rendition.segments):
            path = directory / f"seg{n}.ts"
            path.write_bytes(data)
            prints = video_fingerprints(path)
            self.per_segment.append(len(prints))
            for frame, print_ in enumerate(prints):
                self.where[print_] = (n, frame)
        total = sum(self.per_segment)
        assert len(self.where) == total, "the source repeats a frame: pick another"

    def frames(self, path: Path, *, cut_tail: bool = False) -> list[int]:
        """The source frame numbers (counted from the stream's start) in `path`.

        Args:
            path: a recording.
            cut_tail: the file was cut back mid-packet (a settled file): its last
                packet may be incomplete, and is then left out.

        Raises:
            AssertionError: a packet that is not in the source.
        """
        starts = [sum(self.per_segment[:n]) for n in range(len(self.per_segment))]
        prints = video_fingerprints(path)
        if cut_tail and prints and prints[-1] not in self.where:
            prints.pop()
        found = []
        for print_ in prints:
            assert print_ in self.where, f"{path}: a video packet not in the source"
            segment, frame = self.where[print_]
            found.append(starts[segment] + frame)
        return found


def video_fingerprints(path: Path) -> list[str]:
    """Fingerprints of the video packets of a file, in file order."""
    import av  # heavy: only tests that record import it

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return [_fingerprint(bytes(p)) for p in container.demux(video) if p.size]

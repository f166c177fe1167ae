"""The benchmarks' live source: the stream encoded once, replayed live almost for free.

`LiveSource` serves the files of `bench.encode` from a threaded loopback HTTP
server, live, on a timeline that starts when the server starts:

* `/hls/<client>/live.m3u8`: a sliding window of `window` segments whose media
  sequence advances in real time. The content loops, with `#EXT-X-DISCONTINUITY` at
  each wrap, so a run can last any length. Segments (`/hls/<client>/seg/<n>.ts`)
  are sent from disk with sendfile. A request for one of the next few segments waits
  until it is published, so a single `curl` given a URL range records live.
* `/flv/<client>/live.flv`: the FLV file replayed in real time by tag timestamps,
  like a CDN edge: the header, onMetaData and sequence headers, then the stream from
  the latest keyframe (that GOP at once), looping with timestamps carried on.

`<client>` is any name; each one gets its own request log, which is how the
concurrent benchmark checks that every recorder fetched every segment exactly once.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import math
import re
import signal
import socket
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.encode import ensure_source

if TYPE_CHECKING:
    from types import TracebackType

    from bench.encode import SourceMedia

log = logging.getLogger(__name__)

# a segment this many ahead of the live edge is waited for instead of refused
WAIT_AHEAD_SEGMENTS = 3
_CLIENT = r"(?P<client>[A-Za-z0-9_.-]+)"
_HLS_PLAYLIST = re.compile(rf"/hls/{_CLIENT}/live\.m3u8")
_HLS_SEGMENT = re.compile(rf"/hls/{_CLIENT}/seg/(?P<seq>\d+)\.ts")
_FLV_STREAM = re.compile(rf"/flv/{_CLIENT}/live\.flv")

_FLV_HEADER_BYTES = 13  # 9-byte header + PreviousTagSize0
_TAG_HEADER = 11
_TAG_AUDIO, _TAG_VIDEO, _TAG_SCRIPT = 8, 9, 18


# --- FLV index ------------------------------------------------------------------------


@dataclass(frozen=True)
class _FlvIndex:
    data: bytes
    prelude: bytes  # header + metadata + sequence headers
    offsets: list[int]  # media tags (and later script tags), in file order
    ends: list[int]
    stamps: list[int]  # milliseconds
    keyframes: list[int]  # positions in `offsets` of video keyframes
    duration_ms: int

    @classmethod
    def load(cls, path: Path, fps: int) -> _FlvIndex:
        data = path.read_bytes()
        if not data.startswith(b"FLV"):
            raise ValueError(f"{path} is not FLV")
        pos = _FLV_HEADER_BYTES
        prelude_end = pos
        offsets: list[int] = []
        ends: list[int] = []
        stamps: list[int] = []
        keyframes: list[int] = []
        while pos + _TAG_HEADER <= len(data):
            kind = data[pos] & 0x1F
            size = int.from_bytes(data[pos + 1 : pos + 4], "big")
            stamp = int.from_bytes(data[pos + 4 : pos + 7], "big") | (
                data[pos + 7] << 24
            )
            end = pos + _TAG_HEADER + size + 4
            if end > len(data):
                break
            body = data[pos + _TAG_HEADER : pos + _TAG_HEADER + 2]
            sequence_header = kind in (_TAG_AUDIO, _TAG_VIDEO) and body[1:2] == b"\0"
            if not offsets and (kind == _TAG_SCRIPT or sequence_header):
                prelude_end = end
            else:
                if kind == _TAG_VIDEO and body[0] >> 4 == 1 and not sequence_header:
                    keyframes.append(len(offsets))
                offsets.append(pos)
                ends.append(end)
                stamps.append(stamp)
            pos = end
        if not keyframes:
            raise ValueError(f"{path} has no keyframe")
        return cls(
            data=data,
            prelude=data[:prelude_end],
            offsets=offsets,
            ends=ends,
            stamps=stamps,
            keyframes=keyframes,
            duration_ms=stamps[-1] + round(1000 / fps),
        )


# --- the server ----------------------------------------------------------------------


@dataclass
class ClientLog:
    """What one client fetched."""

    playlists: int = 0
    segments: Counter[int] = field(default_factory=Counter)
    segment_bytes: int = 0
    flv_bytes: int = 0
    # seconds from a segment's publication to the end of its first response
    delays: dict[int, float] = field(default_factory=dict)


class LiveSource:
    """Serves `SourceMedia` live on 127.0.0.1 (see the module docstring).

    Args:
        media: the encoded files.
        window: segments in the live playlist.
        port: 0 for an ephemeral port.
    """

    def __init__(self, media: SourceMedia, *, window: int = 6, port: int = 0) -> None:
        self.media = media
        self.window = window
        self._ends: list[float] = []
        total = 0.0
        for duration in media.durations:
            total += duration
            self._ends.append(total)
        self._loop_secs = total
        # the stream "started" a window earlier: a full window is there at once
        self._preroll = self._ends[min(window, len(self._ends)) - 1]
        self._flv = _FlvIndex.load(media.flv, media.spec.fps)
        self._keyframe_stamps = [self._flv.stamps[i] for i in self._flv.keyframes]
        self._lock = threading.Lock()
        self._logs: dict[str, ClientLog] = {}
        self._stopping = threading.Event()
        self._t0 = time.monotonic()
        self._httpd = _Server(("127.0.0.1", port), _handler(self))
        self._thread: threading.Thread | None = None

    # --- lifecycle

    def start(self) -> None:
        """Start serving; the live timeline starts now."""
        self._t0 = time.monotonic()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="bench-source", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """End every response and close the server."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> LiveSource:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- addresses and logs

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def hls_url(self, client: str) -> str:
        """The live playlist URL of `client`."""
        return f"{self.base_url}/hls/{client}/live.m3u8"

    def segment_url(self, client: str, sequence: int) -> str:
        """The URL of segment `sequence` as `client` sees it."""
        return f"{self.base_url}/hls/{client}/seg/{sequence}.ts"

    def flv_url(self, client: str) -> str:
        """The live FLV URL of `client`."""
        return f"{self.base_url}/flv/{client}/live.flv"

    def logs(self) -> dict[str, ClientLog]:
        """A copy of every client's request log."""
        with self._lock:
            return {
                name: ClientLog(
                    entry.playlists,
                    Counter(entry.segments),
                    entry.segment_bytes,
                    entry.flv_bytes,
                    dict(entry.delays),
                )
                for name, entry in self._logs.items()
            }

    def segment_size(self, sequence: int) -> int:
        """Bytes of segment `sequence`."""
        return self.segment_path(sequence).stat().st_size

    # --- HLS timeline

    def live_last(self) -> int:
        """Media sequence of the newest published segment."""
        return self._last_at(time.monotonic())

    def _last_at(self, now: float) -> int:
        t = now - self._t0 + self._preroll
        loops = int(t // self._loop_secs)
        within = t - loops * self._loop_secs
        # a hair of slack: float sums must not unpublish a segment at its boundary
        i = bisect.bisect_right(self._ends, within + 1e-9) - 1
        return loops * len(self._ends) + i

    def published_at(self, sequence: int) -> float:
        """When segment `sequence` is (or was) published, in `time.monotonic()`."""
        loops, i = divmod(sequence, len(self._ends))
        end = loops * self._loop_secs + self._ends[i]
        return self._t0 + end - self._preroll

    def segment_path(self, sequence: int) -> Path:
        """The file behind segment `sequence`."""
        return self.media.segments[sequence % len(self.media.segments)]

    def playlist(self, client: str) -> str:
        """The live playlist text at this moment."""
        last = self._last_at(time.monotonic())
        first = max(0, last - self.window + 1)
        n = len(self.media.segments)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{math.ceil(max(self.media.durations))}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{first // n}",
        ]
        for sequence in range(first, last + 1):
            if sequence % n == 0 and sequence != first:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f"#EXTINF:{self.media.durations[sequence % n]:.6f},")
            lines.append(f"seg/{sequence}.ts")
        self._log(client).playlists += 1
        return "\n".join(lines) + "\n"

    def wait_published(self, sequence: int) -> bool:
        """Wait until `sequence` is published; False if it is too far ahead."""
        last = self.live_last()
        if sequence <= last:
            return True
        if sequence > last + WAIT_AHEAD_SEGMENTS:
            return False
        delay = self.published_at(sequence) - time.monotonic()
        return not self._stopping.wait(max(0.0, delay) + 0.001)

    def is_retained(self, sequence: int) -> bool:
        """Whether a segment is still served (a CDN keeps two windows)."""
        return sequence >= self.live_last() - 2 * self.window

    def _log(self, client: str) -> ClientLog:
        with self._lock:
            return self._logs.setdefault(client, ClientLog())

    def note_segment(self, client: str, sequence: int, size: int) -> None:
        """Count one complete segment response."""
        delay = time.monotonic() - self.published_at(sequence)
        with self._lock:
            entry = self._logs.setdefault(client, ClientLog())
            entry.segments[sequence] += 1
            entry.segment_bytes += size
            entry.delays.setdefault(sequence, delay)

    # --- FLV replay

    def stream_flv(self, sock: socket.socket, client: str) -> None:
        """Send the live FLV stream to `sock` until the client or the server stops."""
        flv = self._flv
        loop_secs = flv.duration_ms / 1000
        position = time.monotonic() - self._t0
        loop = int(position // loop_secs)
        within_ms = (position - loop * loop_secs) * 1000
        k = max(0, bisect.bisect_right(self._keyframe_stamps, within_ms) - 1)
        i = flv.keyframes[k]
        view = memoryview(flv.data)
        sock.sendall(flv.prelude)
        sent = len(flv.prelude)
        count = len(flv.offsets)
        while not self._stopping.is_set():
            now = time.monotonic()
            start = i
            while i < count and self._due(loop, flv.stamps[i], loop_secs) <= now:
                i += 1
            if i > start:
                if loop == 0:
                    sock.sendall(view[flv.offsets[start] : flv.ends[i - 1]])
                else:
                    sock.sendall(self._restamped(start, i, loop * flv.duration_ms))
                sent += flv.ends[i - 1] - flv.offsets[start]
            if i == count:
                loop, i = loop + 1, 0
                continue
            wait = self._due(loop, flv.stamps[i], loop_secs) - time.monotonic()
            if wait > 0:
                self._stopping.wait(wait)
        with self._lock:
            self._logs.setdefault(client, ClientLog()).flv_bytes += sent

    def _due(self, loop: int, stamp_ms: int, loop_secs: float) -> float:
        return self._t0 + loop * loop_secs + stamp_ms / 1000

    def _restamped(self, start: int, stop: int, shift_ms: int) -> bytes:
        flv = self._flv
        parts: list[bytes | bytearray] = []
        for j in range(start, stop):
            offset = flv.offsets[j]
            header = bytearray(flv.data[offset : offset + _TAG_HEADER])
            stamp = (flv.stamps[j] + shift_ms) & 0xFFFFFFFF
            header[4:8] = struct.pack(">I", ((stamp & 0xFFFFFF) << 8) | (stamp >> 24))
            parts += (header, flv.data[offset + _TAG_HEADER : flv.ends[j]])
        return b"".join(parts)


class _Server(ThreadingHTTPServer):
    # the default listen backlog of 5 drops connections when 50 recorders start
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # recorders hang up mid-response when they stop: not worth a traceback
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("source: %s hung up", client_address)
        else:
            super().handle_error(request, client_address)


def _handler(source: LiveSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # keep-alive, as a CDN: recorders reuse one connection for many segments
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if found := _HLS_PLAYLIST.fullmatch(path):
                body = source.playlist(found["client"]).encode()
                self._head(200, "application/vnd.apple.mpegurl", len(body))
                self.wfile.write(body)
            elif found := _HLS_SEGMENT.fullmatch(path):
                self._segment(found["client"], int(found["seq"]))
            elif found := _FLV_STREAM.fullmatch(path):
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "video/x-flv")
                self.send_header("Connection", "close")
                self.end_headers()
                with contextlib.suppress(OSError):
                    source.stream_flv(self.connection, found["client"])
            else:
                self._head(404, "text/plain", 0)

        def _segment(self, client: str, sequence: int) -> None:
            if not source.wait_published(sequence) or not source.is_retained(sequence):
                self._head(404, "text/plain", 0)
                return
            path = source.segment_path(sequence)
            size = path.stat().st_size
            self._head(200, "video/mp2t", size)
            with path.open("rb") as handle:
                self.connection.sendfile(handle)
            source.note_segment(client, sequence, size)

        def _head(self, status: int, kind: str, length: int) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(length))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("source: " + format, *args)

    return Handler


def main() -> None:
    """Serve the source until Ctrl-C (`python -m bench.source`)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    media = ensure_source()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _sig, _frame: stop.set())
    with LiveSource(media) as live:
        log.info("HLS: %s", live.hls_url("me"))
        log.info("FLV: %s", live.flv_url("me"))
        log.info("%.2f Mbps; Ctrl-C stops", media.bitrate_bps / 1e6)
        stop.wait()


if __name__ == "__main__":
    main()

"""A live HTTP-FLV server on loopback, fed by ffmpeg: a stand-in for a CDN edge.

ffmpeg encodes a test pattern and a sine tone in real time (`-re`) to FLV on its
stdout. A reader thread parses the tags and fans them out to every client of
`GET /live.flv`, which gets what a live edge sends: the FLV header, the cached
onMetaData and sequence headers, then live tags from the next keyframe on. When
ffmpeg ends, every response ends; later requests get 404 (offline).

    with LiveFlvServer(ffmpeg, duration_secs=5) as server:
        ...  # record server.url
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from activities.engines.flv.tags import FlvHeader, FlvParser, FlvTag
from tests.fakes.background import BackgroundFake

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

_CLIENT_QUEUE_TAGS = 4096


class _Client:
    def __init__(self) -> None:
        self.queue: queue.Queue[bytes | None] = queue.Queue(_CLIENT_QUEUE_TAGS)
        self.started = False


class LiveFlvServer(BackgroundFake):
    """ffmpeg → FLV tags → any number of HTTP clients.

    Args:
        ffmpeg: the ffmpeg binary.
        duration_secs: length of the live stream (ffmpeg `-t`).
        audio: include the AAC sine track.
        video: include the H.264 test pattern.
        fps: video frame rate; a keyframe every second (`-g fps`).
    """

    def __init__(
        self,
        ffmpeg: Path,
        duration_secs: float = 5.0,
        *,
        audio: bool = True,
        video: bool = True,
        fps: int = 25,
    ) -> None:
        self._ffmpeg = ffmpeg
        self._duration = duration_secs
        self._audio = audio
        self._video = video
        self._fps = fps
        self._lock = threading.Lock()
        self._clients: list[_Client] = []
        self._header: FlvHeader | None = None
        self._prelude: dict[str, FlvTag] = {}
        self._ended = threading.Event()
        self._ready = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """The stream URL."""
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/live.flv"

    @property
    def ended(self) -> bool:
        """Whether the live stream has finished."""
        return self._ended.is_set()

    def start(self) -> None:
        """Start ffmpeg and the HTTP server; return once the stream has headers."""
        cmd = [str(self._ffmpeg), "-nostdin", "-hide_banner", "-loglevel", "error"]
        if self._video:
            cmd += [
                "-re",
                "-f",
                "lavfi",
                "-i",
                f"testsrc=size=320x240:rate={self._fps}",
            ]
        if self._audio:
            cmd += ["-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
        cmd += ["-t", str(self._duration)]
        if self._video:
            cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency"]
            cmd += ["-pix_fmt", "yuv420p"]
            cmd += ["-g", str(self._fps)]
        if self._audio:
            cmd += ["-c:a", "aac", "-b:a", "64k"]
        # Without -flush_packets ffmpeg sends 32 KiB bursts, not a live cadence.
        cmd += ["-flush_packets", "1", "-f", "flv", "pipe:1"]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._read_ffmpeg, daemon=True),
            threading.Thread(target=self._httpd.serve_forever, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        if not self._ready.wait(15) or self._header is None:
            self.stop()
            raise RuntimeError("ffmpeg produced no FLV stream")

    def stop(self) -> None:
        """Stop ffmpeg, end every response and close the server."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._finish()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for thread in self._threads:
            thread.join(5)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()

    def _read_ffmpeg(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        parser = FlvParser()
        fd = self._proc.stdout.fileno()
        try:
            while chunk := os.read(fd, 65536):
                for item in parser.feed(chunk):
                    if isinstance(item, FlvHeader):
                        self._header = item
                    else:
                        self._publish(item)
        finally:
            self._finish()

    def _publish(self, tag: FlvTag) -> None:
        with self._lock:
            if tag.is_metadata:
                self._prelude["metadata"] = tag
            elif tag.is_avc_sequence_header:
                self._prelude["avc"] = tag
            elif tag.is_aac_sequence_header:
                self._prelude["aac"] = tag
            if self._header is not None and ("avc" in self._prelude or not self._video):
                self._ready.set()
            if tag.is_metadata or tag.is_sequence_header:
                return
            data = tag.encode()
            for client in list(self._clients):
                if not client.started and (tag.is_keyframe or not self._video):
                    client.started = True
                if not client.started:
                    continue
                try:
                    client.queue.put_nowait(data)
                except queue.Full:
                    # Like an edge server, drop a client that cannot keep up.
                    self._clients.remove(client)
                    with contextlib.suppress(queue.Full):
                        client.queue.put_nowait(None)

    def _finish(self) -> None:
        with self._lock:
            self._ended.set()
            self._ready.set()
            for client in self._clients:
                with contextlib.suppress(queue.Full):
                    client.queue.put_nowait(None)
            self._clients.clear()

    def _subscribe(self) -> tuple[bytes, _Client] | None:
        with self._lock:
            if self._ended.is_set() or self._header is None:
                return None
            prelude = self._header.encode() + b"".join(
                self._prelude[k].encode(0)
                for k in ("metadata", "avc", "aac")
                if k in self._prelude
            )
            client = _Client()
            self._clients.append(client)
            return prelude, client

    def _unsubscribe(self, client: _Client) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._clients.remove(client)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/live.flv":
                    self.send_error(404)
                    return
                subscription = server._subscribe()
                if subscription is None:
                    self.send_error(404, "stream offline")
                    return
                prelude, client = subscription
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "video/x-flv")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(prelude)
                    while (data := client.queue.get()) is not None:
                        self.wfile.write(data)
                except OSError:
                    pass  # the client went away
                finally:
                    server._unsubscribe(client)

            def log_message(self, format: str, *args: object) -> None:
                logger.debug(format, *args)

        return Handler

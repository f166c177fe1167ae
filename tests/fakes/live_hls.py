"""A live HLS stream on loopback: ffmpeg writes it, http.server serves it.

ffmpeg encodes a test pattern and a sine tone in real time (`-re`) into MPEG-TS
segments of `hls_time` seconds, keeps `list_size` of them in `live.m3u8` and deletes
older ones, like a live origin. A threaded `http.server` on 127.0.0.1 (ephemeral port)
serves the directory. `end_stream()` sends SIGINT, so ffmpeg appends
`#EXT-X-ENDLIST` while the server keeps answering; `stop()` also closes the server.
`fmp4=True` writes fragmented MP4 segments with an `init.mp4` (EXT-X-MAP);
`encrypt=True` encrypts the segments with AES-128 (`-hls_key_info_file`) under a
random key served as `key.bin`.

    with LiveHls(tmp_path, ffmpeg=ffmpeg, duration=10) as live:
        live.wait_for_segments(2, timeout=10)
        ...  # record live.url

    async with LiveHls(tmp_path, ffmpeg=ffmpeg) as live:
        await live.wait_for_segments_async(2, timeout=10)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import signal
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fakes.background import BackgroundFake
from tests.fakes.media_check import monotonic_packets

logger = logging.getLogger(__name__)

PLAYLIST = "live.m3u8"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("live_hls: " + format, *args)

    def end_headers(self) -> None:
        # a live playlist must never be cached
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class LiveHls(BackgroundFake):
    """ffmpeg → HLS files in `directory` → HTTP on loopback.

    Args:
        directory: where ffmpeg writes the playlist and segments (served as `/`).
        ffmpeg: the ffmpeg binary.
        hls_time: target segment length in seconds.
        list_size: segments kept in the playlist window.
        duration: length of the stream (ffmpeg `-t`); it always ends by itself.
        fmp4: fragmented MP4 segments instead of MPEG-TS.
        encrypt: AES-128 segments; the key is `key`.
    """

    def __init__(
        self,
        directory: Path,
        *,
        ffmpeg: Path,
        hls_time: float = 1.0,
        list_size: int = 6,
        duration: float = 60.0,
        fmp4: bool = False,
        encrypt: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.fmp4 = fmp4
        self.key = os.urandom(16) if encrypt else None
        self.ffmpeg = ffmpeg
        self.hls_time = hls_time
        self.list_size = list_size
        self.duration = duration
        self._proc: subprocess.Popen[bytes] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def playlist_path(self) -> Path:
        """The playlist file ffmpeg rewrites."""
        return self.directory / PLAYLIST

    @property
    def url(self) -> str:
        """The media playlist URL."""
        assert self._httpd is not None, "LiveHls not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/{PLAYLIST}"

    @property
    def running(self) -> bool:
        """Whether ffmpeg is still producing the stream."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the HTTP server and ffmpeg (returns at once)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_QuietHandler, directory=str(self.directory))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        cmd = [
            str(self.ffmpeg),
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-t",
            str(self.duration),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-f",
            "hls",
            "-hls_time",
            str(self.hls_time),
            "-hls_list_size",
            str(self.list_size),
            # temp_file: a segment appears under its name only once complete
            "-hls_flags",
            "delete_segments+temp_file",
            "-hls_segment_filename",
            str(self.directory / ("seg%05d.m4s" if self.fmp4 else "seg%05d.ts")),
        ]
        if self.fmp4:
            cmd += ["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"]
        if self.key is not None:
            key_file = self.directory / "key.bin"
            key_file.write_bytes(self.key)
            info = self.directory / "key.info"
            # line 1: the key URI in the playlist; line 2: where ffmpeg reads it
            info.write_text(f"key.bin\n{key_file}\n")
            cmd += ["-hls_key_info_file", str(info)]
        cmd.append(str(self.playlist_path))
        with (self.directory / "ffmpeg.log").open("wb") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )

    def end_stream(self, timeout: float = 10.0) -> None:
        """Stop ffmpeg with SIGINT so it writes `#EXT-X-ENDLIST`; keep serving.

        Idempotent; ffmpeg's process group is killed if it does not exit in time.
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """End the stream (ENDLIST written), then stop serving. Idempotent."""
        self.end_stream(timeout)
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def segments_produced(self) -> int:
        """How many segments ffmpeg has published so far (including deleted ones)."""
        try:
            text = self.playlist_path.read_text()
        except FileNotFoundError:
            return 0
        found = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
        first = int(found.group(1)) if found else 0
        return first + text.count("#EXTINF")

    def ended(self) -> bool:
        """Whether the playlist carries `#EXT-X-ENDLIST`."""
        with contextlib.suppress(FileNotFoundError):
            return "#EXT-X-ENDLIST" in self.playlist_path.read_text()
        return False

    def wait_for_segments(self, n: int, timeout: float = 20.0) -> None:
        """Block until `n` segments were published.

        Raises:
            TimeoutError: they did not appear in time (ffmpeg's log is attached).
        """
        deadline = time.monotonic() + timeout
        while self.segments_produced() < n:
            if time.monotonic() > deadline:
                raise TimeoutError(self._timeout_message(n))
            time.sleep(0.05)

    # the same signature as wait_for_segments, deliberately
    async def wait_for_segments_async(
        self,
        n: int,
        timeout: float = 20.0,  # noqa: ASYNC109
    ) -> None:
        """`wait_for_segments` without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while self.segments_produced() < n:
            if time.monotonic() > deadline:
                raise TimeoutError(self._timeout_message(n))
            await asyncio.sleep(0.05)

    def _timeout_message(self, n: int) -> str:
        log = ""
        with contextlib.suppress(OSError):
            log = (self.directory / "ffmpeg.log").read_text(errors="replace")
        return f"{n} HLS segments did not appear; ffmpeg said: {log[-2000:]}"


def assert_playable(path: Path, *, min_video_frames: int = 1) -> dict[str, int]:
    """Check a recorded file with PyAV: H.264 + AAC, decodable, monotonic timestamps.

    Args:
        path: the recording.
        min_video_frames: decoded video frames required.

    Returns:
        Packet counts per codec name.
    """
    import av  # heavy import, only for tests that record

    counts: dict[str, int] = {}
    frames = 0
    with av.open(str(path)) as container:
        codecs = {s.index: s.codec_context.name for s in container.streams}
        assert sorted(codecs.values()) == ["aac", "h264"], codecs
        for packet in monotonic_packets(container, path):
            index = packet.stream.index
            counts[codecs[index]] = counts.get(codecs[index], 0) + 1
            if codecs[index] == "h264" and frames < min_video_frames:
                frames += len(packet.decode())
    assert frames >= min_video_frames, f"{path}: only {frames} video frames decoded"
    return counts

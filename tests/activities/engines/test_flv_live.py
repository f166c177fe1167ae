"""The native FLV engine on real data: sample.flv over HTTP, a proxy, ffmpeg live.

Every recording here is checked with PyAV: streams present, timestamps monotonic,
durations matching what the engine reported.
"""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import RecordingStats
from activities.engines.flv import FlvEngine
from activities.errors import RecorderProcessError
from activities.media import pyav_check
from tests.fakes.flv_recording import (
    AAC_SEQ,
    AVC_SEQ,
    METADATA,
    URL,
    FakeSink,
    av_stream,
    check_playable,
    flv_bytes,
    mock_client,
    parse_file,
    plan_in,
    record_bytes,
)
from tests.fakes.flv_samples import RESOURCES, check_keyframe_index
from tests.fakes.live_flv import LiveFlvServer

if TYPE_CHECKING:
    from pathlib import Path

    from activities.engines.base import SegmentState


async def test_records_the_real_sample_replayed_over_http(tmp_path: Path) -> None:
    body = (RESOURCES / "sample.flv").read_bytes()
    reason, sink, stats = await record_bytes(
        tmp_path, body, chunk=4096, max_duration_secs=3
    )
    assert reason == "ended"
    closed = sink.of("closed")
    # sample.flv has keyframes at 0 and 8.334 s only: files split there
    assert [s.duration_secs for s in closed] == [8.323, 2.016]
    for segment in closed:
        assert check_playable(segment.path) == pytest.approx(
            segment.duration_secs, abs=0.05
        )
        check_keyframe_index(segment.path.read_bytes())
        # read from the sequence headers as PyAV reads them: H.264 426x240, AAC
        assert segment.streams == pyav_check(segment.path).streams
        assert [(s.codec, s.width, s.sample_rate) for s in segment.streams or []] == [
            ("h264", 426, None),
            ("aac", None, 48000),
        ]
    assert stats.media_time_secs == pytest.approx(8.323 + 2.016)


class ProxyServer:
    """A loopback HTTP forward proxy that answers every GET with `body`."""

    def __init__(self, body: bytes) -> None:
        self.requests: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ProxyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the shared client was used for {request.url}")


async def test_a_proxied_source_gets_its_own_client(tmp_path: Path) -> None:
    body = flv_bytes(METADATA, AVC_SEQ, AAC_SEQ, *av_stream(0, 2))
    sink = FakeSink()
    with ProxyServer(body) as proxy:
        source = StreamSource(url=URL, kind=StreamKind.FLV, proxy=proxy.url)
        async with mock_client(refuse) as shared:
            reason = await FlvEngine(shared).record(
                source, plan_in(tmp_path), sink, RecordingStats()
            )
    assert reason == "ended"
    assert proxy.requests == [URL]
    [closed] = sink.of("closed")
    assert len(parse_file(closed.path)[1]) == 3 + 40


async def test_an_unusable_proxy_fails_clearly(tmp_path: Path) -> None:
    source = StreamSource(url=URL, kind=StreamKind.FLV, proxy="ftp://proxy.test")
    async with mock_client(refuse) as shared:
        with pytest.raises(RecorderProcessError, match="unusable proxy"):
            await FlvEngine(shared).record(
                source, plan_in(tmp_path), FakeSink(), RecordingStats()
            )


# --- a real live stream from ffmpeg ---------------------------------------------


def check_durations_add_up(closed: list[SegmentState], stream_secs: float) -> None:
    """Each file's onMetaData agrees with its tags, and the files' durations sum
    to the part of the stream the recorder saw: never more than the stream, and
    all but its start (the recorder joins at the keyframe after connecting, later
    on a loaded machine)."""
    for segment in closed:
        check_keyframe_index(segment.path.read_bytes())
    total = sum(s.duration_secs for s in closed)
    assert stream_secs - 3.0 <= total <= stream_secs


def live_source(server: LiveFlvServer) -> StreamSource:
    return StreamSource(url=server.url, kind=StreamKind.FLV)


def live_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(10.0))


async def test_records_a_live_stream_in_duration_segments(
    tmp_path: Path, ffmpeg: Path
) -> None:
    sink, stats = FakeSink(), RecordingStats()
    with LiveFlvServer(ffmpeg, duration_secs=5.5) as server:
        async with live_client() as http:
            reason = await FlvEngine(http).record(
                live_source(server), plan_in(tmp_path, max_duration_secs=2), sink, stats
            )
    assert reason == "ended"
    closed = sink.of("closed")
    assert len(closed) >= 2
    assert sink.of("progressed")
    for segment in closed:
        assert segment.streams == pyav_check(segment.path).streams
    for segment in closed[:-1]:
        duration = check_playable(segment.path)
        assert 1.5 <= duration <= 2.1
        assert segment.duration_secs == pytest.approx(duration, abs=0.1)
    check_playable(closed[-1].path)
    check_durations_add_up(closed, stream_secs=5.5)
    assert stats.segments_closed == len(closed)
    assert stats.bytes_written == sum(s.path.stat().st_size for s in closed)
    assert stats.media_time_secs == pytest.approx(sum(s.duration_secs for s in closed))


async def test_records_a_live_stream_in_size_segments(
    tmp_path: Path, ffmpeg: Path
) -> None:
    sink = FakeSink()
    max_size = 20_000
    with LiveFlvServer(ffmpeg, duration_secs=4.5) as server:
        async with live_client() as http:
            await FlvEngine(http).record(
                live_source(server),
                plan_in(tmp_path, max_size_bytes=max_size),
                sink,
                RecordingStats(),
            )
    closed = sink.of("closed")
    assert len(closed) >= 2
    for segment in closed:
        assert check_playable(segment.path) == pytest.approx(
            segment.duration_secs, abs=0.1
        )
    check_durations_add_up(closed, stream_secs=4.5)
    assert all(s.size_bytes >= max_size for s in closed[:-1])


async def test_cancel_finalises_the_current_file(tmp_path: Path, ffmpeg: Path) -> None:
    sink = FakeSink()
    with LiveFlvServer(ffmpeg, duration_secs=20) as server:
        async with live_client() as http:
            task = asyncio.create_task(
                FlvEngine(http).record(
                    live_source(server), plan_in(tmp_path), sink, RecordingStats()
                )
            )
            async with asyncio.timeout(15):
                await sink.progress.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert not server.ended
    [closed] = sink.of("closed")
    assert closed.size_bytes >= sink.of("progressed")[-1].size_bytes
    assert check_playable(closed.path) >= 0.5
    check_keyframe_index(closed.path.read_bytes())

"""The streamlink engine (streamlink | ffmpeg) on live loopback streams."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from activities.contracts import Container, StreamKind, StreamSelection, StreamSource
from activities.engines.remux.streamlink import (
    StreamlinkEngine,
    quality_spec,
    streamlink_args,
)
from activities.errors import StreamUnavailableError
from activities.tools import find_executable
from tests.fakes.media_check import (
    EXTENSIONS,
    check_segments,
    check_split,
    has_mp4_trailer,
)
from tests.fakes.sink import (
    RecordingSink,
    closed_at_least,
    plan_in,
    record,
    wait_until,
)


@pytest.fixture(scope="module")
def streamlink() -> Path:
    exe = find_executable("streamlink")
    assert exe, "streamlink is a dependency: reinstall the project"
    return exe


@pytest.mark.parametrize("kind", [StreamKind.HLS, StreamKind.FLV])
async def test_every_container_split_by_duration_then_cancelled(
    tmp_path, ffmpeg, streamlink, live_source, kind: StreamKind
) -> None:
    engine = StreamlinkEngine(ffmpeg, streamlink)
    source = live_source(kind)
    outcomes = await asyncio.gather(
        *(
            record(
                engine,
                source,
                plan_in(tmp_path / ext, max_duration_secs=1.0, container=container),
                until=closed_at_least(2),
                limit_secs=25,
            )
            for container, ext in EXTENSIONS.items()
        )
    )
    for (container, ext), outcome in zip(EXTENSIONS.items(), outcomes, strict=True):
        assert outcome.reason is None
        check_split(outcome, start=0, ext=ext)
        if container == Container.MP4:
            assert has_mp4_trailer(Path(outcome.sink.of("closed")[-1].path))


async def test_stream_end_ends_the_recording(tmp_path, ffmpeg, streamlink) -> None:
    from tests.fakes.live_flv import LiveFlvServer

    sink = RecordingSink()
    async with LiveFlvServer(ffmpeg, duration_secs=30) as server:
        recording = asyncio.create_task(
            record(
                StreamlinkEngine(ffmpeg, streamlink),
                StreamSource(url=server.url, kind=StreamKind.FLV),
                plan_in(tmp_path, container=Container.MP4),
                limit_secs=20,
                sink=sink,
            )
        )
        await wait_until(lambda: any(e.size > 0 for e in sink.of("progressed")))
        await asyncio.to_thread(server.stop)  # the stream ends, the edge goes away
        outcome = await recording
    assert outcome.reason == "ended"
    (closed,) = outcome.sink.of("closed")
    check_segments([closed], ext="mp4")
    assert has_mp4_trailer(Path(closed.path))


async def test_404_is_unavailable_and_headers_are_sent(
    tmp_path, ffmpeg, streamlink, refusing
) -> None:
    source = StreamSource(
        url=f"{refusing.url}/live.m3u8",
        kind=StreamKind.HLS,
        headers={"User-Agent": "srec-test/1", "X-Token": "abc=1"},
    )
    started = time.monotonic()
    with pytest.raises(StreamUnavailableError, match="404"):
        await record(StreamlinkEngine(ffmpeg, streamlink), source, plan_in(tmp_path))
    assert time.monotonic() - started < 8
    line, headers = refusing.requests[0]
    assert line.startswith("GET /live.m3u8 ")
    assert headers["User-Agent"] == "srec-test/1"
    assert headers["X-Token"] == "abc=1"
    assert not list(tmp_path.iterdir())


async def test_proxy_carries_the_request(
    tmp_path, ffmpeg, streamlink, refusing
) -> None:
    source = StreamSource(
        url="http://stream.invalid/live.flv", kind=StreamKind.FLV, proxy=refusing.url
    )
    with pytest.raises(StreamUnavailableError):
        await record(StreamlinkEngine(ffmpeg, streamlink), source, plan_in(tmp_path))
    line = refusing.requests[0][0]
    assert line.startswith("GET http://stream.invalid"), line


@pytest.mark.parametrize(
    ("qualities", "spec"),
    [
        pytest.param([], "best", id="default"),
        pytest.param(["1080p60", " 720P ", "720p"], "1080p60,720p,best", id="ordered"),
        pytest.param(["best", "", "a,b"], "best", id="junk-dropped"),
    ],
)
def test_quality_spec(qualities: list[str], spec: str) -> None:
    assert quality_spec(StreamSelection(qualities=qualities)) == spec


def test_streamlink_args() -> None:
    source = StreamSource(
        url="http://cdn/x.flv",
        kind=StreamKind.FLV,
        headers={"Cookie": "a=1; b=2"},
        proxy="socks5://p:1080",
        selection=StreamSelection(qualities=["source"]),
    )
    args = streamlink_args(
        Path("/bin/streamlink"), source, stream_timeout_secs=7.5, hls_live_edge=2
    )
    assert args[:6] == [
        "/bin/streamlink",
        "--no-config",
        "--no-plugin-sideloading",
        "--loglevel",
        "warning",
        "--stdout",
    ]
    assert args[args.index("--stream-timeout") + 1] == "7.5"
    assert args[args.index("--hls-live-edge") + 1] == "2"
    assert args[args.index("--http-header") + 1] == "Cookie=a=1; b=2"
    assert args[args.index("--http-proxy") + 1] == "socks5://p:1080"
    assert args[-2:] == ["httpstream://http://cdn/x.flv", "source,best"]

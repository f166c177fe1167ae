"""The ffmpeg engine on live loopback streams, every file checked with PyAV."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from activities.contracts import Container, StreamKind, StreamSource
from activities.engines.remux.ffmpeg import FfmpegEngine, input_args
from activities.errors import RecorderProcessError, StreamUnavailableError
from tests.fakes.media_check import (
    EXTENSIONS,
    check_segments,
    check_split,
    has_mp4_trailer,
)
from tests.fakes.sink import RecordingSink, closed_at_least, plan_in, record

if TYPE_CHECKING:
    from tests.activities.engines.conftest import Refusing


@pytest.mark.parametrize("kind", [StreamKind.HLS, StreamKind.FLV])
async def test_every_container_split_by_duration_then_cancelled(
    tmp_path, ffmpeg, live_source, kind: StreamKind
) -> None:
    """Four recordings of one stream at once, cut every second, cancelled mid-file."""
    engine = FfmpegEngine(ffmpeg)
    source = live_source(kind)
    outcomes = await asyncio.gather(
        *(
            record(
                engine,
                source,
                plan_in(
                    tmp_path / ext,
                    start_index=3,
                    max_duration_secs=1.0,
                    container=container,
                ),
                until=closed_at_least(2),
                limit_secs=20,
            )
            for container, ext in EXTENSIONS.items()
        )
    )
    for (container, ext), outcome in zip(EXTENSIONS.items(), outcomes, strict=True):
        assert outcome.reason is None
        check_split(outcome, start=3, ext=ext)
        last = Path(outcome.sink.of("closed")[-1].path)
        if container == Container.MP4:
            assert has_mp4_trailer(last), "SIGINT should let ffmpeg write the trailer"
        assert not list((tmp_path / ext).glob(".srec-*")), "staging files left"


async def test_stream_end_closes_a_single_file(tmp_path, ffmpeg) -> None:
    from tests.fakes.live_flv import LiveFlvServer

    async with LiveFlvServer(ffmpeg, duration_secs=4) as server:
        outcome = await record(
            FfmpegEngine(ffmpeg),
            StreamSource(url=server.url, kind=StreamKind.FLV),
            plan_in(tmp_path, container=Container.MKV),
            limit_secs=15,
        )
    assert outcome.reason == "ended"
    (closed,) = outcome.sink.of("closed")
    assert closed.index == 0
    assert closed.duration == pytest.approx(4.0, abs=1.0)
    (probed,) = check_segments([closed], ext="mkv")
    assert probed.header_duration_secs is not None  # the trailer is written


async def test_split_by_size_restarts_ffmpeg(tmp_path, ffmpeg, live_source) -> None:
    max_size = 50_000  # about 1.5 s of the test stream
    outcome = await record(
        FfmpegEngine(ffmpeg),
        live_source(StreamKind.HLS),
        plan_in(tmp_path, max_size_bytes=max_size, container=Container.TS),
        until=closed_at_least(2),
        limit_secs=20,
    )
    check_split(outcome, start=0, ext="ts")
    # no duration limit: only the size cut (a restart) closes a file mid-stream
    first = outcome.sink.of("closed")[0]
    assert first.size >= max_size


async def test_a_changed_duration_limit_restarts_ffmpeg_with_it(
    tmp_path, ffmpeg, live_source
) -> None:
    """The segment muxer's duration is fixed at start: a new one needs a new run."""
    plan = plan_in(tmp_path, max_duration_secs=1.0, container=Container.TS)
    changed_after: list[int] = []

    def until(sink: RecordingSink) -> bool:
        closed = len(sink.closed_with_bytes())
        if not changed_after and closed >= 2:
            plan.max_duration_secs = 3.0  # as the record activity does on a change
            changed_after.append(closed)
        return bool(changed_after) and closed >= changed_after[0] + 2

    outcome = await record(
        FfmpegEngine(ffmpeg),
        live_source(StreamKind.HLS),
        plan,
        until=until,
        limit_secs=30,
    )
    durations = [c.duration for c in outcome.sink.closed_with_bytes()]
    assert all(d < 1.6 for d in durations[:2]), durations
    # the file open at the change is cut short; the next one runs 3 s (the last
    # one is cut by the cancel that ends the test)
    after = changed_after[0]
    assert durations[after] < 1.6, durations
    assert durations[after + 1] >= 2.5, durations
    check_segments(outcome.sink.closed_with_bytes(), ext="ts")


async def test_404_is_unavailable_and_headers_are_sent(
    tmp_path, ffmpeg, refusing
) -> None:
    source = StreamSource(
        url=f"{refusing.url}/live.flv",
        kind=StreamKind.FLV,
        headers={"User-Agent": "srec-test/1", "Referer": "https://example.test/"},
    )
    started = time.monotonic()
    with pytest.raises(StreamUnavailableError, match="404"):
        await record(FfmpegEngine(ffmpeg), source, plan_in(tmp_path), limit_secs=10)
    assert time.monotonic() - started < 5
    line, headers = refusing.requests[0]
    assert line.startswith("GET /live.flv ")
    assert headers["User-Agent"] == "srec-test/1"
    assert headers["Referer"] == "https://example.test/"
    assert not list(tmp_path.iterdir())


async def test_proxy_carries_the_request(tmp_path, ffmpeg, refusing: Refusing) -> None:
    source = StreamSource(
        url="http://stream.invalid/live.m3u8", kind=StreamKind.HLS, proxy=refusing.url
    )
    with pytest.raises(StreamUnavailableError):
        await record(FfmpegEngine(ffmpeg), source, plan_in(tmp_path), limit_secs=10)
    line = refusing.requests[0][0]  # a proxied request names the whole URL
    assert line.startswith("GET http://stream.invalid"), line
    assert "/live.m3u8 " in line


async def test_a_server_that_never_answers_is_unavailable(
    tmp_path, ffmpeg, silent
) -> None:
    engine = FfmpegEngine(ffmpeg, rw_timeout_secs=1.0)
    source = StreamSource(url=silent, kind=StreamKind.FLV)
    started = time.monotonic()
    plan = plan_in(tmp_path, stream_timeout_secs=2.0)
    with pytest.raises(StreamUnavailableError):
        await record(engine, source, plan, limit_secs=10)
    assert time.monotonic() - started < 5


def fake_ffmpeg(tmp_path: Path, script: str) -> Path:
    path = tmp_path / "ffmpeg"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


async def test_failed_ffmpeg_reports_its_cause(tmp_path) -> None:
    ffmpeg = fake_ffmpeg(
        tmp_path,
        'echo "[mp4 @ 0x1] Could not find tag for codec vp9" >&2\n'
        'echo "Could not write header: Invalid argument" >&2\nexit 234\n',
    )
    source = StreamSource(url="http://127.0.0.1:9/live.flv", kind=StreamKind.FLV)
    with pytest.raises(
        RecorderProcessError, match=r"status 234.*Could not write header"
    ):
        await record(FfmpegEngine(ffmpeg), source, plan_in(tmp_path / "out"))


async def test_cancel_reaches_an_ffmpeg_that_ignores_sigint(tmp_path) -> None:
    ffmpeg = fake_ffmpeg(tmp_path, "trap '' INT\nsleep 30\n")
    engine = FfmpegEngine(
        ffmpeg, interrupt_timeout_secs=0.3, terminate_timeout_secs=0.3
    )
    source = StreamSource(url="http://127.0.0.1:9/live.flv", kind=StreamKind.FLV)
    started = time.monotonic()
    outcome = await record(
        engine,
        source,
        plan_in(tmp_path / "out"),
        until=lambda _: time.monotonic() - started > 0.5,
    )
    assert outcome.reason is None
    assert time.monotonic() - started < 3
    assert outcome.sink.events == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            StreamSource(url="http://a/x.flv", kind=StreamKind.FLV),
            ["-i", "http://a/x.flv"],
            id="plain",
        ),
        pytest.param(
            StreamSource(
                url="http://a/x.m3u8",
                kind=StreamKind.HLS,
                headers={"user-agent": "UA", "Cookie": "a=1", "Referer": "r"},
                proxy="http://proxy:3128",
            ),
            [
                "-user_agent",
                "UA",
                "-headers",
                "Cookie: a=1\r\nReferer: r\r\n",
                "-http_proxy",
                "http://proxy:3128",
                "-i",
                "http://a/x.m3u8",
            ],
            id="headers-and-proxy",
        ),
    ],
)
def test_input_args(source: StreamSource, expected: list[str]) -> None:
    args = input_args(source, rw_timeout_secs=2.5)
    assert args[:2] == ["-rw_timeout", "2500000"]
    assert args[-len(expected) :] == expected


def test_hls_starts_as_many_segments_back_as_asked() -> None:
    hls = StreamSource(url="http://a/x.m3u8", kind=StreamKind.HLS)
    flv = StreamSource(url="http://a/x.flv", kind=StreamKind.FLV)
    assert "-live_start_index" not in input_args(hls, rw_timeout_secs=1)
    edge = input_args(hls, rw_timeout_secs=1, live_edge=1)
    assert edge[-4:] == ["-live_start_index", "-1", "-i", "http://a/x.m3u8"]
    back = input_args(hls, rw_timeout_secs=1, live_edge=7)
    assert back[-4:-2] == ["-live_start_index", "-7"]
    assert "-live_start_index" not in input_args(flv, rw_timeout_secs=1, live_edge=1)


def test_socks_proxy_is_refused_clearly() -> None:
    source = StreamSource(
        url="http://a/x.flv", kind=StreamKind.FLV, proxy="socks5://p:1"
    )
    with pytest.raises(RecorderProcessError, match="streamlink"):
        input_args(source, rw_timeout_secs=1)

"""The native HLS engine: scripted playlists for edge cases, ffmpeg for real media."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import OutputPlan, RecordingStats, SegmentState
from activities.engines.hls import HlsEngine
from activities.errors import RecorderProcessError
from tests.fakes.clock import FakeClock
from tests.fakes.live_hls import LiveHls, assert_playable

if TYPE_CHECKING:
    from pathlib import Path

BASE = "https://cdn.example.com/live/"
URL = BASE + "index.m3u8"
SOURCE = StreamSource(url=URL, kind=StreamKind.HLS)

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def body(seq: int) -> bytes:
    return f"<segment {seq}>".encode()


def playlist(
    seq: int,
    count: int = 3,
    *,
    endlist: bool = False,
    target: int = 2,
    head: str = "",
) -> str:
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{seq}",
    ]
    if head:
        lines.append(head)
    for n in range(seq, seq + count):
        lines += [f"#EXTINF:{target}.0,", f"seg{n}.ts"]
    if endlist:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


class Origin:
    """A strict scripted HLS origin for MockTransport.

    The playlist answers come from `playlists` in order (the last one repeats);
    `segN.ts` answers `body(N)` unless `failures[N]` says how often to fail first.
    """

    def __init__(self, playlists: list[str | int | Exception]) -> None:
        self.playlists = playlists
        self.failures: dict[int, int] = {}
        self.blockers: dict[int, asyncio.Event] = {}
        self.segment_requests: list[int] = []
        self.playlist_requests = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == URL:
            self.playlist_requests += 1
            answer = (
                self.playlists.pop(0) if len(self.playlists) > 1 else self.playlists[0]
            )
            if isinstance(answer, Exception):
                raise answer
            if isinstance(answer, int):
                return httpx.Response(answer)
            return httpx.Response(200, text=answer)
        if url.startswith(BASE + "seg") and url.endswith(".ts"):
            seq = int(url[len(BASE) + 3 : -3])
            self.segment_requests.append(seq)
            if seq in self.blockers:
                await self.blockers[seq].wait()
            if self.failures.get(seq, 0) > 0:
                self.failures[seq] -= 1
                return httpx.Response(500)
            return httpx.Response(200, content=body(seq))
        raise AssertionError(f"unexpected request to {url}")


@dataclass
class Sink:
    """Records what the engine reports, checking the file agrees each time."""

    events: list[tuple[str, int, int, int | None]] = field(default_factory=list)
    opened_hook: Callable[[], Awaitable[None]] | None = None

    async def opened(self, segment: SegmentState) -> None:
        assert segment.path.exists()
        self.events.append(("opened", segment.index, segment.size_bytes, None))
        if self.opened_hook:
            await self.opened_hook()

    async def progressed(self, segment: SegmentState) -> None:
        assert segment.path.stat().st_size == segment.size_bytes
        self.events.append(
            ("progressed", segment.index, segment.size_bytes, segment.resume_marker)
        )

    async def closed(self, segment: SegmentState) -> None:
        if segment.size_bytes:
            assert segment.path.stat().st_size == segment.size_bytes
        else:
            assert not segment.path.exists()
        self.events.append(
            ("closed", segment.index, segment.size_bytes, segment.resume_marker)
        )

    def markers(self) -> list[int]:
        return [e[3] for e in self.events if e[0] == "progressed" and e[3] is not None]

    def of(self, kind: str) -> list[tuple[str, int, int, int | None]]:
        return [e for e in self.events if e[0] == kind]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_plan(tmp_path: Path, **kw) -> OutputPlan:
    return OutputPlan(path_for=lambda i, ext: tmp_path / "out" / f"rec_{i}.ts", **kw)


async def run_engine(
    origin: Origin, plan: OutputPlan, sink: Sink, clock: FakeClock, **kw
) -> tuple[str, RecordingStats]:
    stats = RecordingStats()
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin)) as http:
        engine = HlsEngine(http, clock=clock, sleep=clock.sleep, **kw)
        reason = await engine.record(SOURCE, plan, sink, stats)
    return reason, stats


def joined(*seqs: int) -> bytes:
    return b"".join(body(s) for s in seqs)


async def wait_until(predicate: Callable[[], bool], limit_secs: float = 15.0) -> None:
    """Poll `predicate` until it holds (the engines offer no event to wait on)."""
    async with asyncio.timeout(limit_secs):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.01)


# --- scripted playlists ---------------------------------------------------------------


async def test_overlapping_duplicate_and_stale_reloads_write_each_segment_once(
    tmp_path, clock
) -> None:
    origin = Origin(
        [
            playlist(0),
            playlist(1),
            playlist(1),  # duplicate
            playlist(0),  # stale copy from a lagging edge
            playlist(2, endlist=True),
        ]
    )
    sink = Sink()
    reason, stats = await run_engine(origin, make_plan(tmp_path), sink, clock)
    assert reason == "ended"
    assert (tmp_path / "out" / "rec_0.ts").read_bytes() == joined(0, 1, 2, 3, 4)
    assert sorted(origin.segment_requests) == [0, 1, 2, 3, 4]
    assert sink.markers() == [0, 1, 2, 3, 4]
    assert sink.events[0] == ("opened", 0, 0, None)
    assert sink.events[-1] == ("closed", 0, len(joined(0, 1, 2, 3, 4)), 4)
    assert stats.bytes_written == len(joined(0, 1, 2, 3, 4))
    assert stats.media_time_secs == pytest.approx(10.0)
    assert stats.segments_closed == 1
    assert stats.next_index == 1
    # a changed playlist is reloaded after a target duration, an unchanged after half
    assert clock.slept == [2.0, 2.0, 1.0, 1.0]


async def test_resume_marker_skips_segments_already_written(tmp_path, clock) -> None:
    origin = Origin([playlist(2, 4, endlist=True)])
    sink = Sink()
    plan = make_plan(tmp_path, start_index=7, resume_marker=3)
    reason, stats = await run_engine(origin, plan, sink, clock)
    assert reason == "ended"
    assert origin.segment_requests == [4, 5]
    assert (tmp_path / "out" / "rec_7.ts").read_bytes() == joined(4, 5)
    assert stats.next_index == 8


async def test_resume_marker_beyond_a_restarted_stream_is_dropped(
    tmp_path, clock
) -> None:
    origin = Origin([playlist(0, 2, endlist=True)])
    plan = make_plan(tmp_path, resume_marker=500)
    reason, _ = await run_engine(origin, plan, Sink(), clock)
    assert reason == "ended"
    assert (tmp_path / "out" / "rec_0.ts").read_bytes() == joined(0, 1)


async def test_failing_segment_is_retried_then_skipped(tmp_path, clock) -> None:
    origin = Origin([playlist(0, 4, endlist=True)])
    origin.failures = {1: 2, 2: 99}
    sink = Sink()
    reason, _ = await run_engine(origin, make_plan(tmp_path), sink, clock)
    assert reason == "ended"
    assert (tmp_path / "out" / "rec_0.ts").read_bytes() == joined(0, 1, 3)
    assert origin.segment_requests == [0, 1, 1, 1, 2, 2, 2, 3]
    assert sink.markers() == [0, 1, 3]


async def test_split_by_duration_at_segment_boundaries(tmp_path, clock) -> None:
    origin = Origin([playlist(0, 5, target=1, endlist=True)])
    sink = Sink()
    plan = make_plan(tmp_path, max_duration_secs=2.0)
    _, stats = await run_engine(origin, plan, sink, clock)
    out = tmp_path / "out"
    assert (out / "rec_0.ts").read_bytes() == joined(0, 1)
    assert (out / "rec_1.ts").read_bytes() == joined(2, 3)
    assert (out / "rec_2.ts").read_bytes() == joined(4)
    assert [(e[1], e[3]) for e in sink.of("closed")] == [(0, 1), (1, 3), (2, 4)]
    assert [e[0] for e in sink.events[:4]] == [
        "opened",
        "progressed",
        "progressed",
        "closed",
    ]
    assert stats.segments_closed == 3
    assert stats.next_index == 3


async def test_split_by_size(tmp_path, clock) -> None:
    origin = Origin([playlist(0, 3, endlist=True)])
    sink = Sink()
    plan = make_plan(tmp_path, max_size_bytes=len(body(0)) + 1)
    await run_engine(origin, plan, sink, clock)
    assert [e[1] for e in sink.of("closed")] == [0, 1]
    assert (tmp_path / "out" / "rec_1.ts").read_bytes() == joined(2)


@pytest.mark.parametrize(
    "gone",
    [
        pytest.param(404, id="404"),
        pytest.param(410, id="410"),
        pytest.param(httpx.ConnectError("connection refused"), id="refused"),
    ],
)
async def test_vanished_playlist_ends_the_recording(
    tmp_path, clock, gone: int | Exception
) -> None:
    origin = Origin([playlist(0, 2), gone])
    sink = Sink()
    reason, _ = await run_engine(origin, make_plan(tmp_path), sink, clock)
    assert reason == "ended"
    assert origin.playlist_requests == 4  # one good load, then three tries
    assert sink.events[-1][0] == "closed"


async def test_one_missing_playlist_is_not_the_end(tmp_path, clock) -> None:
    origin = Origin([playlist(0, 2), 404, 503, playlist(1, 2, endlist=True)])
    reason, _ = await run_engine(origin, make_plan(tmp_path), Sink(), clock)
    assert reason == "ended"
    assert (tmp_path / "out" / "rec_0.ts").read_bytes() == joined(0, 1, 2)


async def test_playlist_that_stops_advancing_stalls(tmp_path, clock) -> None:
    origin = Origin([playlist(0, 2, target=2)])
    sink = Sink()
    reason, _ = await run_engine(origin, make_plan(tmp_path), sink, clock)
    assert reason == "stalled"
    assert 6.0 < clock.now <= 8.0  # 3 target durations
    assert sink.of("closed") == [("closed", 0, len(joined(0, 1)), 1)]


async def test_failing_reloads_stall(tmp_path, clock) -> None:
    origin = Origin([playlist(0, 1), 503])
    reason, _ = await run_engine(origin, make_plan(tmp_path), Sink(), clock)
    assert reason == "stalled"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        pytest.param(
            playlist(0, head='#EXT-X-KEY:METHOD=AES-128,URI="key.bin"'),
            "EXT-X-KEY",
            id="aes",
        ),
        pytest.param(
            playlist(0, head='#EXT-X-MAP:URI="init.mp4"'), "EXT-X-MAP", id="fmp4"
        ),
        pytest.param(
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n", "master", id="master"
        ),
    ],
)
async def test_unsupported_playlists_fail_clearly(
    tmp_path, clock, text: str, match: str
) -> None:
    with pytest.raises(RecorderProcessError, match=match):
        await run_engine(Origin([text]), make_plan(tmp_path), Sink(), clock)
    assert not (tmp_path / "out").exists()


async def test_key_method_none_is_fine(tmp_path, clock) -> None:
    origin = Origin([playlist(0, 1, head="#EXT-X-KEY:METHOD=NONE", endlist=True)])
    reason, _ = await run_engine(origin, make_plan(tmp_path), Sink(), clock)
    assert reason == "ended"


async def test_cancel_closes_the_file_and_reraises(tmp_path, clock) -> None:
    origin = Origin([playlist(0, 3)])
    origin.blockers[2] = asyncio.Event()  # never set: the download hangs
    sink = Sink()
    stats = RecordingStats()
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin)) as http:
        engine = HlsEngine(http, clock=clock, sleep=clock.sleep)
        task = asyncio.create_task(
            engine.record(SOURCE, make_plan(tmp_path), sink, stats)
        )
        await wait_until(lambda: 2 in origin.segment_requests)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sink.events[-1] == ("closed", 0, len(joined(0, 1)), 1)
    assert (tmp_path / "out" / "rec_0.ts").read_bytes() == joined(0, 1)
    assert stats.segments_closed == 1


async def test_cancel_before_any_byte_deletes_the_empty_file(tmp_path, clock) -> None:
    hang = asyncio.Event()

    async def block() -> None:
        await hang.wait()

    origin = Origin([playlist(0, 3)])
    sink = Sink(opened_hook=block)
    stats = RecordingStats()
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin)) as http:
        engine = HlsEngine(http, clock=clock, sleep=clock.sleep)
        task = asyncio.create_task(
            engine.record(SOURCE, make_plan(tmp_path), sink, stats)
        )
        await wait_until(lambda: bool(sink.events))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sink.events == [("opened", 0, 0, None), ("closed", 0, 0, None)]
    assert not (tmp_path / "out" / "rec_0.ts").exists()
    assert stats.segments_closed == 0


# --- real media from ffmpeg -----------------------------------------------------------


async def test_records_a_live_ffmpeg_stream_until_it_ends(tmp_path, ffmpeg) -> None:
    sink = Sink()
    stats = RecordingStats()
    plan = OutputPlan(
        path_for=lambda i, ext: tmp_path / "rec" / f"part_{i}.ts", max_duration_secs=2.0
    )
    async with (
        LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=5, list_size=6) as live,
        httpx.AsyncClient(timeout=5) as http,
    ):
        await live.wait_for_segments_async(1, timeout=15)
        source = StreamSource(url=live.url, kind=StreamKind.HLS)
        reason = await asyncio.wait_for(
            HlsEngine(http).record(source, plan, sink, stats), 30
        )
    assert reason == "ended"
    markers = sink.markers()
    assert markers == sorted(set(markers))  # each media sequence once, in order
    assert markers[0] == 0
    closed = sink.of("closed")
    assert len(closed) >= 2
    assert stats.segments_closed == len(closed)
    assert stats.media_time_secs == pytest.approx(5.0, abs=0.5)
    for _, index, size, _ in closed:
        path = tmp_path / "rec" / f"part_{index}.ts"
        assert path.stat().st_size == size
        counts = assert_playable(path)
        assert counts["h264"] >= 1
        assert counts["aac"] >= 1


async def test_cancel_then_resume_continues_after_the_marker(tmp_path, ffmpeg) -> None:
    """A second run with the first run's marker neither loses nor repeats a segment."""
    first, second = Sink(), Sink()
    rec = tmp_path / "rec"
    async with (
        LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=20, list_size=6) as live,
        httpx.AsyncClient(timeout=5) as http,
    ):
        await live.wait_for_segments_async(1, timeout=15)
        source = StreamSource(url=live.url, kind=StreamKind.HLS)
        engine = HlsEngine(http)
        plan = OutputPlan(path_for=lambda i, ext: rec / f"part_{i}.ts")
        task = asyncio.create_task(engine.record(source, plan, first, RecordingStats()))
        await wait_until(lambda: len(first.markers()) >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        marker = first.of("closed")[-1][3]
        assert marker is not None
        # the retry comes a moment later, while the window still holds the next one
        await live.wait_for_segments_async(marker + 3, timeout=15)
        resumed = OutputPlan(
            path_for=lambda i, ext: rec / f"part_{i}.ts",
            start_index=1,
            resume_marker=marker,
        )
        task = asyncio.create_task(
            engine.record(source, resumed, second, RecordingStats())
        )
        await wait_until(lambda: len(second.markers()) >= 2)
        await asyncio.to_thread(live.end_stream)  # ENDLIST
        assert await asyncio.wait_for(task, 15) == "ended"
    assert second.markers()[0] == marker + 1
    assert first.markers() + second.markers() == list(
        range(first.markers()[0], second.markers()[-1] + 1)
    )
    assert_playable(rec / "part_0.ts")
    assert_playable(rec / "part_1.ts")

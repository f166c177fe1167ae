"""The native HLS engine's follow loop: reloads, resume, splits, ends, cancellation.

Scripted origins serve real MPEG-TS segments (rendered once per session), so every
recording is checked with PyAV; two tests record a live ffmpeg stream on loopback.
Fault cases live in `test_hls_faults`, fMP4 in `test_hls_fmp4`, AES in
`test_hls_crypto`, variant choice in `test_hls_select`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import OutputPlan, RecordingStats
from activities.engines.hls import HlsEngine
from tests.activities.engines.hls_support import check_files, make_plan, record
from tests.fakes.clock import VirtualClock
from tests.fakes.hls_media import check_recording
from tests.fakes.live_hls import LiveHls
from tests.fakes.scripted_hls import ScriptedHls, media_playlist, window
from tests.fakes.segment_sink import CheckingSink

if TYPE_CHECKING:
    from tests.activities.engines.conftest import HlsMedia


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def serve_ts(origin: ScriptedHls, media: HlsMedia, count: int = 12) -> None:
    for n in range(count):
        origin.file(f"seg{n}.ts", media.ts.segments[n])


async def test_overlapping_duplicate_and_stale_reloads_write_each_segment_once(
    tmp_path, clock, hls_media
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist(
        "index.m3u8",
        [
            window(0, 3),
            window(1, 3),
            window(1, 3),  # duplicate
            window(0, 3),  # stale copy from a lagging edge
            window(2, 3, endlist=True),
        ],
    )
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 1, 2, 3, 4]])
    assert all(origin.count(f"seg{n}.ts") == 1 for n in range(5))
    assert done.sink.markers() == [0, 1, 2, 3, 4]
    first, last = done.sink.events[0], done.sink.events[-1]
    assert (first.kind, first.index, first.size) == ("opened", 0, 0)
    assert (last.kind, last.marker) == ("closed", 4)
    assert done.stats.bytes_written == len(hls_media.ts.joined(0, 1, 2, 3, 4))
    assert done.stats.media_time_secs == pytest.approx(5.0)
    assert done.stats.segments_closed == 1
    assert done.stats.next_index == 1
    # a changed playlist is reloaded after a target duration, an unchanged after half
    assert clock.slept == [1.0, 1.0, 0.5, 0.5]


async def test_resume_marker_skips_segments_already_written(
    tmp_path, clock, hls_media
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist("index.m3u8", [window(2, 4, endlist=True)])
    plan = make_plan(tmp_path, start_index=7, resume_marker=3)
    done = await record(origin, url, plan, clock)
    assert done.reason == "ended"
    assert [origin.count(f"seg{n}.ts") for n in range(2, 6)] == [0, 0, 1, 1]
    check_files(done.sink, hls_media.ts, [[4, 5]])
    assert done.sink.files()[0].path.name == "rec_7.ts"
    assert done.stats.next_index == 8


async def test_resume_marker_beyond_a_restarted_stream_is_dropped(
    tmp_path, clock, hls_media
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist("index.m3u8", [window(0, 2, endlist=True)])
    done = await record(origin, url, make_plan(tmp_path, resume_marker=500), clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 1]])


async def test_split_by_duration_at_segment_boundaries(
    tmp_path, clock, hls_media
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist("index.m3u8", [window(0, 5, endlist=True)])
    done = await record(origin, url, make_plan(tmp_path, max_duration_secs=2.0), clock)
    check_files(done.sink, hls_media.ts, [[0, 1], [2, 3], [4]])
    assert [(e.index, e.marker) for e in done.sink.of("closed")] == [
        (0, 1),
        (1, 3),
        (2, 4),
    ]
    # each close is reported as soon as the file is full, before the next opens
    assert [e.kind for e in done.sink.events[:5]] == [
        "opened",
        "progressed",
        "progressed",
        "closed",
        "opened",
    ]
    assert done.stats.segments_closed == 3
    assert done.stats.next_index == 3


async def test_split_by_size_never_loses_a_byte(tmp_path, clock, hls_media) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist("index.m3u8", [window(0, 5, endlist=True)])
    limit = len(hls_media.ts.segments[0]) + 1
    done = await record(origin, url, make_plan(tmp_path, max_size_bytes=limit), clock)
    check_files(done.sink, hls_media.ts, [[0, 1], [2, 3], [4]])
    assert done.stats.bytes_written == len(hls_media.ts.joined(0, 1, 2, 3, 4))


async def test_vod_playlist_type_ends_like_endlist(tmp_path, clock, hls_media) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    text = window(0, 2).replace("#EXTM3U\n", "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n")
    url = origin.playlist("index.m3u8", [text])
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    assert origin.count("index.m3u8") == 1
    check_files(done.sink, hls_media.ts, [[0, 1]])


@pytest.mark.parametrize(
    "gone",
    [
        pytest.param(404, id="404"),
        pytest.param(410, id="410"),
        pytest.param(httpx.ConnectError("connection refused"), id="refused"),
    ],
)
async def test_vanished_playlist_ends_the_recording(
    tmp_path, clock, hls_media, gone: int | Exception
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist("index.m3u8", [window(0, 2), gone])
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    # gone on every load for 10 s, from the first one a target duration in
    assert clock.now == pytest.approx(11.0)
    assert origin.count("index.m3u8") == 1 + 21  # one good load, 0.5 s apart after
    assert done.sink.events[-1].kind == "closed"
    check_files(done.sink, hls_media.ts, [[0, 1]])


async def test_one_missing_playlist_is_not_the_end(tmp_path, clock, hls_media) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist(
        "index.m3u8", [window(0, 2), 404, 503, window(1, 2, endlist=True)]
    )
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 1, 2]])


async def test_playlist_that_stops_advancing_stalls_at_the_stream_timeout(
    tmp_path, clock, hls_media
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist("index.m3u8", [window(0, 2, target=2)])
    plan = make_plan(tmp_path, stream_timeout_secs=20.0)
    done = await record(origin, url, plan, clock)
    assert done.reason == "stalled"
    assert clock.now == pytest.approx(21.0)
    # reloaded at 0 and 2 (a change, a target duration), then every half target
    assert origin.count("index.m3u8") == 2 + 18
    check_files(done.sink, hls_media.ts, [[0, 1]])


async def test_a_stall_shorter_than_the_timeout_is_recorded_through(
    tmp_path, clock, hls_media
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    frozen = [window(0, 2)] * 30  # 15 s of unchanged reloads, target 1 s
    url = origin.playlist("index.m3u8", [*frozen, window(1, 3, endlist=True)])
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 1, 2, 3]])


async def test_failing_reloads_stall(tmp_path, clock, hls_media) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist("index.m3u8", [window(0, 1), 503])
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "stalled"
    assert 60.0 < clock.now <= 61.0  # the default stream timeout
    check_files(done.sink, hls_media.ts, [[0]])


async def test_an_empty_window_waits_for_segments(tmp_path, clock, hls_media) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist(
        "index.m3u8", [media_playlist(0, []), window(0, 2, endlist=True)]
    )
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 1]])


async def test_cancel_closes_the_file_and_reraises(tmp_path, clock, hls_media) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media, count=2)
    origin.file("seg2.ts", hls_media.ts.segments[2], release=asyncio.Event())  # hangs
    url = origin.playlist("index.m3u8", [window(0, 3)])
    sink = CheckingSink()
    stats = RecordingStats()
    source = StreamSource(url=url, kind=StreamKind.HLS)
    async with origin.client() as http:
        engine = HlsEngine(http, clock=clock, sleep=clock.sleep)
        task = asyncio.create_task(
            engine.record(source, make_plan(tmp_path), sink, stats)
        )
        await sink.wait_for(lambda: sink.markers() == [0, 1])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sink.events[-1].kind == "closed"
    check_files(sink, hls_media.ts, [[0, 1]])
    assert stats.segments_closed == 1


async def test_cancel_before_any_byte_deletes_the_empty_file(
    tmp_path, clock, hls_media
) -> None:
    hang = asyncio.Event()

    async def block() -> None:
        await hang.wait()

    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist("index.m3u8", [window(0, 3)])
    sink = CheckingSink(opened_hook=block)
    stats = RecordingStats()
    source = StreamSource(url=url, kind=StreamKind.HLS)
    async with origin.client() as http:
        engine = HlsEngine(http, clock=clock, sleep=clock.sleep)
        task = asyncio.create_task(
            engine.record(source, make_plan(tmp_path), sink, stats)
        )
        await sink.wait_for(lambda: bool(sink.events))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [(e.kind, e.index, e.size) for e in sink.events] == [
        ("opened", 0, 0),
        ("closed", 0, 0),
    ]
    assert not (tmp_path / "out" / "rec_0.ts").exists()
    assert stats.segments_closed == 0


# --- a live ffmpeg stream on loopback -------------------------------------------------


async def test_records_a_live_ffmpeg_stream_until_it_ends(tmp_path, ffmpeg) -> None:
    sink = CheckingSink()
    stats = RecordingStats()
    plan = OutputPlan(
        path_for=lambda i, ext: tmp_path / "rec" / f"part_{i}.{ext}",
        max_duration_secs=2.0,
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
    assert markers == list(range(len(markers)))  # each media sequence once, in order
    files = sink.files()
    assert len(files) >= 2
    assert stats.segments_closed == len(files)
    assert stats.media_time_secs == pytest.approx(5.0, abs=0.5)
    for event in files:
        assert event.path.suffix == ".ts"
        assert event.path.stat().st_size == event.size
        check_recording(event.path, duration=event.duration, tolerance=0.2)


async def test_cancel_then_resume_continues_after_the_marker(tmp_path, ffmpeg) -> None:
    """A second run with the first run's marker neither loses nor repeats a segment."""
    first, second = CheckingSink(), CheckingSink()
    rec = tmp_path / "rec"
    async with (
        LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=20, list_size=6) as live,
        httpx.AsyncClient(timeout=5) as http,
    ):
        await live.wait_for_segments_async(1, timeout=15)
        source = StreamSource(url=live.url, kind=StreamKind.HLS)
        engine = HlsEngine(http)
        plan = OutputPlan(path_for=lambda i, ext: rec / f"part_{i}.{ext}")
        task = asyncio.create_task(engine.record(source, plan, first, RecordingStats()))
        await first.wait_for(lambda: len(first.markers()) >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        marker = first.of("closed")[-1].marker
        assert marker is not None
        # the retry comes a moment later, while the window still holds the next one
        await live.wait_for_segments_async(marker + 3, timeout=15)
        resumed = OutputPlan(
            path_for=lambda i, ext: rec / f"part_{i}.{ext}",
            start_index=1,
            resume_marker=marker,
        )
        task = asyncio.create_task(
            engine.record(source, resumed, second, RecordingStats())
        )
        await second.wait_for(lambda: len(second.markers()) >= 2)
        await asyncio.to_thread(live.end_stream)  # ENDLIST
        assert await asyncio.wait_for(task, 15) == "ended"
    assert second.markers()[0] == marker + 1
    assert first.markers() + second.markers() == list(
        range(first.markers()[0], second.markers()[-1] + 1)
    )
    for event in first.files() + second.files():
        check_recording(event.path, duration=event.duration, tolerance=0.2)

"""The HLS engine against a misbehaving origin: every recording still plays.

Scripted faults: failing, hanging and missing segments, gap runs, declared gaps,
discontinuities, playlist regressions and restarts, hanging and garbled reloads,
real playlists m3u8 cannot model, bounded concurrent fetching, and the proxy.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import RecordingStats
from activities.engines.hls import HlsEngine
from activities.errors import RecorderProcessError
from tests.activities.engines.hls_support import check_files, make_plan, record
from tests.fakes.clock import VirtualClock
from tests.fakes.hls_media import check_recording
from tests.fakes.scripted_hls import (
    LoopbackProxy,
    ScriptedHls,
    Seg,
    media_playlist,
    window,
)
from tests.fakes.segment_sink import CheckingSink

RESOURCES = Path(__file__).parents[2] / "resources" / "hls"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def serve_ts(origin: ScriptedHls, hls_media, count: int = 12, **scripts) -> None:
    """Serve `segN.ts`; `scripts[N]` holds `ScriptedHls.file` options for one."""
    for n in range(count):
        origin.file(f"seg{n}.ts", hls_media.ts.segments[n], **scripts.get(f"s{n}", {}))


# --- segments -----------------------------------------------------------------------


async def test_a_listed_segment_is_retried_until_it_comes(
    tmp_path, clock, hls_media
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media, s1={"fail": 6, "status": 503})
    url = origin.playlist("index.m3u8", [window(0, 4, endlist=True)])
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 1, 2, 3]])
    assert [origin.count(f"seg{n}.ts") for n in range(4)] == [1, 7, 1, 1]
    # a growing pause between tries, capped
    assert clock.slept == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]


async def test_a_segment_that_left_the_window_is_a_gap_after_its_tries(
    tmp_path, clock, hls_media, caplog
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media, s1={"fail": 99, "status": 503})
    url = origin.playlist(
        "index.m3u8", [window(0, 3), window(3, 3), window(4, 2, endlist=True)]
    )
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    # no new file at the gap: MPEG-TS carries its own timestamps, a jump ahead
    check_files(done.sink, hls_media.ts, [[0, 2, 3, 4, 5]])
    assert origin.count("seg1.ts") == 3
    assert "no longer listed" in caplog.text
    assert "1 segments missing (gaps): 1 given up" in caplog.text


async def test_a_segment_a_playlist_never_drops_gives_way(
    tmp_path, clock, hls_media
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media, s2={"fail": 99, "status": 404})
    url = origin.playlist("index.m3u8", [window(0, 4, endlist=True)])
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 1, 3]])
    # tried for half the stream timeout, then a gap
    assert origin.count("seg2.ts") > 3
    assert 30.0 <= clock.now <= 32.0


async def test_a_hanging_download_times_out_and_is_retried(tmp_path, hls_media) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media, s1={"stall": 1})
    url = origin.playlist("index.m3u8", [window(0, 3, endlist=True)])
    done = await record(
        origin,
        url,
        make_plan(tmp_path),
        VirtualClock(),
        request_timeout_secs=0.2,
    )
    check_files(done.sink, hls_media.ts, [[0, 1, 2]])
    assert origin.count("seg1.ts") == 2


async def test_a_run_of_gaps_is_not_the_end(tmp_path, clock, hls_media) -> None:
    origin = ScriptedHls()
    dead = {"fail": 99, "status": 403}
    serve_ts(origin, hls_media, s2=dead, s3=dead, s4=dead)
    url = origin.playlist(
        "index.m3u8", [window(0, 3), window(3, 3), window(6, 3, endlist=True)]
    )
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 1, 5, 6, 7, 8]])


async def test_segments_that_all_fail_stall_at_the_stream_timeout(
    tmp_path, clock
) -> None:
    origin = ScriptedHls()
    for n in range(90):
        origin.file(f"seg{n}.ts", b"", fail=999, status=403)
    # the playlist advances every reload; nothing it lists can be fetched
    url = origin.playlist("index.m3u8", [window(n, 3) for n in range(90)])
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "stalled"
    # the poller gives up at 61 s; the downloads under way end their tries
    assert 61.0 <= clock.now <= 65.0
    assert done.sink.files() == []


async def test_declared_gaps_are_not_fetched(tmp_path, clock, hls_media) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media, count=4)
    text = media_playlist(
        0,
        [Seg("seg0.ts"), Seg("seg1.ts", gap=True), Seg("seg2.ts"), Seg("seg3.ts")],
        endlist=True,
    )
    url = origin.playlist("index.m3u8", [text])
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    assert origin.count("seg1.ts") == 0
    check_files(done.sink, hls_media.ts, [[0, 2, 3]])


async def test_segments_that_left_the_window_are_reported(
    tmp_path, clock, hls_media, caplog
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist("index.m3u8", [window(0, 3), window(6, 3, endlist=True)])
    done = await record(origin, url, make_plan(tmp_path), clock)
    check_files(done.sink, hls_media.ts, [[0, 1, 2, 6, 7, 8]])
    assert "segments 3..5 left the playlist before they were fetched" in caplog.text


# --- discontinuities and restarts -----------------------------------------------------


async def test_discontinuity_starts_a_new_file(tmp_path, clock, hls_media) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media, count=2)
    for n in range(2):
        origin.file(f"ad{n}.ts", hls_media.ts_small.segments[n])
    text = media_playlist(
        0,
        [
            Seg("seg0.ts"),
            Seg("seg1.ts"),
            Seg("ad0.ts", discontinuity=True),
            Seg("ad1.ts"),
        ],
        endlist=True,
    )
    url = origin.playlist("index.m3u8", [text])
    done = await record(origin, url, make_plan(tmp_path), clock)
    first, second = done.sink.files()
    assert first.path.read_bytes() == hls_media.ts.joined(0, 1)
    assert second.path.read_bytes() == hls_media.ts_small.joined(0, 1)
    check_recording(first.path, duration=2.0, size=(320, 240))
    check_recording(second.path, duration=2.0, size=(192, 144))
    assert [(e.index, e.marker) for e in done.sink.files()] == [(0, 1), (1, 3)]


async def test_a_restarted_encoder_continues_in_a_new_file(
    tmp_path, clock, hls_media, caplog
) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    for n in range(3):
        origin.file(f"new{n}.ts", hls_media.ts_small.segments[n])
    restarted = [Seg(f"new{n}.ts") for n in range(2)]
    url = origin.playlist(
        "index.m3u8",
        [
            window(3, 3),
            window(2, 3),  # one stale reload: ignored
            window(4, 3),
            # numbering from scratch, for three reloads: a restart
            media_playlist(0, restarted),
            media_playlist(0, restarted),
            media_playlist(0, restarted),
            media_playlist(0, [*restarted, Seg("new2.ts")], endlist=True),
        ],
    )
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    assert done.sink.markers() == [3, 4, 5, 6, 0, 1, 2]
    old, new = done.sink.files()
    assert old.path.read_bytes() == hls_media.ts.joined(3, 4, 5, 6)
    assert new.path.read_bytes() == hls_media.ts_small.joined(0, 1, 2)
    check_recording(old.path, duration=4.0)
    check_recording(new.path, duration=3.0)
    assert "stream restarted" in caplog.text


# --- playlist reloads -----------------------------------------------------------------


async def test_a_hanging_reload_times_out(tmp_path, hls_media) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist(
        "index.m3u8", [window(0, 2), asyncio.Event(), window(1, 2, endlist=True)]
    )
    done = await record(
        origin, url, make_plan(tmp_path), VirtualClock(), request_timeout_secs=0.2
    )
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 1, 2]])


async def test_a_garbled_reload_is_transient(tmp_path, clock, hls_media) -> None:
    origin = ScriptedHls()
    serve_ts(origin, hls_media)
    url = origin.playlist(
        "index.m3u8",
        [window(0, 2), "<html>502 Bad Gateway</html>", window(1, 2, endlist=True)],
    )
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 1, 2]])


async def test_an_unparseable_first_load_fails_clearly(tmp_path, clock) -> None:
    origin = ScriptedHls()
    url = origin.playlist("index.m3u8", ["<html>not here</html>"])
    with pytest.raises(RecorderProcessError, match="did not return an HLS playlist"):
        await record(origin, url, make_plan(tmp_path), clock)
    assert origin.count("index.m3u8") == 1  # no crash loop


async def test_streamlink_playlist_m3u8_cannot_model(
    tmp_path, clock, hls_media
) -> None:
    """test_date: DATERANGEs without ID and with an invalid date, recorded."""
    text = (RESOURCES / "streamlink" / "test_date.m3u8").read_text()
    origin = ScriptedHls()
    names = [
        "segment0-15.ts",
        "segment15-30.5.ts",
        "segment30.5-60.ts",
        "segment60-.ts",
    ]
    for n, name in enumerate(names):
        origin.file(name, hls_media.ts.segments[n])
    url = origin.playlist("date.m3u8", [text, text + "#EXT-X-ENDLIST\n"])
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    [event] = done.sink.files()
    assert event.path.read_bytes() == hls_media.ts.joined(0, 1, 2, 3)
    assert event.duration == pytest.approx(120.0)
    check_recording(event.path, duration=4.0)


async def test_streamlink_master_without_bandwidth(tmp_path, clock, hls_media) -> None:
    text = (RESOURCES / "streamlink" / "test_multivariant_bandwidth.m3u8").read_text()
    origin = ScriptedHls()
    master = origin.playlist("master.m3u8", [text])
    origin.playlist("720p60.m3u8", [window(0, 2, name="v/{}.ts", endlist=True)])
    for n in range(2):
        origin.file(f"v/{n}.ts", hls_media.ts.segments[n])
    done = await record(origin, master, make_plan(tmp_path), clock)
    check_files(done.sink, hls_media.ts, [[0, 1]])


# --- concurrency ----------------------------------------------------------------------


async def test_downloads_overlap_but_writes_keep_order_and_memory_bounded(
    tmp_path, clock, hls_media
) -> None:
    release = asyncio.Event()
    origin = ScriptedHls()
    serve_ts(origin, hls_media, count=8, s1={"release": release})
    url = origin.playlist("index.m3u8", [window(0, 8, endlist=True)])
    sink = CheckingSink()
    task = asyncio.create_task(
        record(origin, url, make_plan(tmp_path), clock, sink=sink, concurrency=4)
    )
    # segment 1 hangs: 0 is written, 2..4 are fetched meanwhile and wait for it in
    # memory, and 5.. do not start while four segments are held
    await origin.wait_for(
        lambda: origin.count("seg4.ts") == 1 and origin.in_flight == 1
    )
    await sink.wait_for(lambda: sink.markers() == [0])
    assert origin.count("seg5.ts") == 0
    assert origin.max_in_flight <= 4
    release.set()
    done = await task
    assert done.sink.markers() == list(range(8))
    check_files(done.sink, hls_media.ts, [list(range(8))])


# --- proxy ----------------------------------------------------------------------------


@pytest.mark.parametrize("socks", [False, True], ids=["http-proxy", "socks5-proxy"])
async def test_a_proxied_source_uses_its_own_client(
    tmp_path, hls_media, socks: bool
) -> None:
    base = "http://stream.invalid/live/"
    routes = {base + f"seg{n}.ts": hls_media.ts.segments[n] for n in range(2)}
    routes[base + "index.m3u8"] = window(0, 2, endlist=True).encode()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the shared client was used for {request.url}")

    sink = CheckingSink()
    with LoopbackProxy(routes, socks=socks) as proxy:
        source = StreamSource(
            url=base + "index.m3u8", kind=StreamKind.HLS, proxy=proxy.url
        )
        async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as shared:
            engine = HlsEngine(shared)
            reason = await asyncio.wait_for(
                engine.record(source, make_plan(tmp_path), sink, RecordingStats()), 15
            )
    assert reason == "ended"
    assert proxy.seen[0] == base + "index.m3u8"
    if socks:
        assert proxy.tunnels[0] == "stream.invalid:80"
    check_files(sink, hls_media.ts, [[0, 1]])


@pytest.mark.parametrize(
    ("proxy", "match"),
    [
        pytest.param("ftp://127.0.0.1:1", "bad proxy URL", id="bad-scheme"),
    ],
)
async def test_unusable_proxies_fail_clearly(tmp_path, proxy: str, match: str) -> None:
    source = StreamSource(
        url="http://x.invalid/i.m3u8", kind=StreamKind.HLS, proxy=proxy
    )
    async with httpx.AsyncClient() as shared:
        with pytest.raises(RecorderProcessError, match=match):
            await HlsEngine(shared).record(
                source, make_plan(tmp_path), CheckingSink(), RecordingStats()
            )

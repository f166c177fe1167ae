"""fMP4 HLS (EXT-X-MAP): the init section heads every file; a new init, a new file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import OutputPlan, RecordingStats
from activities.engines.hls import HlsEngine
from tests.activities.engines.hls_support import check_files, make_plan, record
from tests.fakes.clock import VirtualClock
from tests.fakes.hls_media import check_recording, encrypt
from tests.fakes.live_hls import LiveHls
from tests.fakes.scripted_hls import ScriptedHls, Seg, media_playlist
from tests.fakes.segment_sink import CheckingSink

RESOURCES = Path(__file__).parents[2] / "resources" / "hls"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


async def test_ytdlp_fmp4_playlist_split_keeps_the_init_in_every_file(
    tmp_path, clock, hls_media
) -> None:
    text = (RESOURCES / "yt-dlp" / "livestream_with_init.m3u8").read_text()
    origin = ScriptedHls()
    url = origin.playlist("fmp4/index.m3u8", [text, text + "#EXT-X-ENDLIST\n"])
    assert hls_media.fmp4.init is not None
    origin.file("init.mp4", hls_media.fmp4.init)
    for n in range(3):
        origin.file(f"fmp4/segment{100 + n}.m4s", hls_media.fmp4.segments[n])
    plan = make_plan(tmp_path, max_duration_secs=12.0)
    done = await record(origin, url, plan, clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.fmp4, [[0, 1], [2]], extinf=6.0)
    assert [e.path.name for e in done.sink.files()] == ["rec_0.mp4", "rec_1.mp4"]
    assert origin.count("init.mp4") == 1  # cached
    # the init section counts towards the bytes written
    assert done.stats.bytes_written == sum(e.size for e in done.sink.files())


async def test_a_new_init_section_starts_a_new_file(tmp_path, clock, hls_media) -> None:
    big, small = hls_media.fmp4, hls_media.fmp4_small
    assert big.init is not None
    assert small.init is not None
    origin = ScriptedHls()
    origin.file("a/init.mp4", big.init)
    origin.file("b/init.mp4", small.init)
    for n in range(2):
        origin.file(f"a/{n}.m4s", big.segments[n])
        origin.file(f"b/{n}.m4s", small.segments[n])
    text = media_playlist(
        0,
        [
            Seg("a/0.m4s", init="a/init.mp4"),
            Seg("a/1.m4s"),
            # no EXT-X-DISCONTINUITY: the init change alone must split
            Seg("b/0.m4s", init="b/init.mp4"),
            Seg("b/1.m4s"),
        ],
        version=7,
        endlist=True,
    )
    url = origin.playlist("index.m3u8", [text])
    done = await record(origin, url, make_plan(tmp_path), clock)
    first, second = done.sink.files()
    assert first.path.read_bytes() == big.joined(0, 1)
    assert second.path.read_bytes() == small.joined(0, 1)
    check_recording(first.path, duration=2.0, size=(320, 240))
    check_recording(second.path, duration=2.0, size=(192, 144))


async def test_the_same_init_at_a_re_signed_url_keeps_the_file(
    tmp_path, clock, hls_media
) -> None:
    media = hls_media.fmp4
    assert media.init is not None
    origin = ScriptedHls()
    origin.file("init.mp4?token=1", media.init)
    origin.file("init.mp4?token=2", media.init)
    for n in range(4):
        origin.file(f"{n}.m4s", media.segments[n])
    url = origin.playlist(
        "index.m3u8",
        [
            media_playlist(
                0, [Seg("0.m4s", init="init.mp4?token=1"), Seg("1.m4s")], version=7
            ),
            media_playlist(
                2,
                [Seg("2.m4s", init="init.mp4?token=2"), Seg("3.m4s")],
                version=7,
                endlist=True,
            ),
        ],
    )
    done = await record(origin, url, make_plan(tmp_path), clock)
    check_files(done.sink, media, [[0, 1, 2, 3]])


async def test_byte_ranges_of_one_resource(tmp_path, clock, hls_media) -> None:
    media = hls_media.fmp4
    assert media.init is not None
    whole = media.joined(0, 1, 2)
    origin = ScriptedHls()
    origin.file("stream.mp4", whole)
    sizes = [len(media.segments[n]) for n in range(3)]
    offset = len(media.init)
    segments = []
    for size in sizes:
        segments.append(Seg("stream.mp4", byterange=f"{size}@{offset}"))
        offset += size
    text = media_playlist(0, segments, version=7, endlist=True).replace(
        "#EXT-X-MEDIA-SEQUENCE:0\n",
        f'#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI="stream.mp4",'
        f'BYTERANGE="{len(media.init)}@0"\n',
    )
    url = origin.playlist("index.m3u8", [text])
    done = await record(origin, url, make_plan(tmp_path), clock)
    check_files(done.sink, media, [[0, 1, 2]])
    assert origin.count("stream.mp4") == 4  # the init section and three fragments


async def test_aes_128_fmp4_with_an_encrypted_init(tmp_path, clock, hls_media) -> None:
    media = hls_media.fmp4
    assert media.init is not None
    key, iv = bytes(range(16)), bytes(range(16, 32))
    origin = ScriptedHls()
    origin.file("key.bin", key)
    origin.file("init.mp4", encrypt(media.init, key, iv))
    for n in range(2):
        origin.file(f"{n}.m4s", encrypt(media.segments[n], key, iv))
    text = media_playlist(
        0,
        [
            Seg(
                "0.m4s",
                key=f'METHOD=AES-128,URI="key.bin",IV=0x{iv.hex()}',
                init="init.mp4",
            ),
            Seg("1.m4s"),
        ],
        version=7,
        endlist=True,
    )
    url = origin.playlist("index.m3u8", [text])
    done = await record(origin, url, make_plan(tmp_path), clock)
    check_files(done.sink, media, [[0, 1]])


async def test_records_a_live_fmp4_stream_from_ffmpeg(tmp_path, ffmpeg) -> None:
    sink = CheckingSink()
    stats = RecordingStats()
    plan = OutputPlan(
        path_for=lambda i, ext: tmp_path / "rec" / f"part_{i}.{ext}",
        max_duration_secs=2.0,
    )
    async with (
        LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=4, fmp4=True) as live,
        httpx.AsyncClient(timeout=5) as http,
    ):
        await live.wait_for_segments_async(1, timeout=15)
        assert "#EXT-X-MAP" in live.playlist_path.read_text()
        source = StreamSource(url=live.url, kind=StreamKind.HLS)
        reason = await asyncio.wait_for(
            HlsEngine(http).record(source, plan, sink, stats), 30
        )
        init = (live.directory / "init.mp4").read_bytes()
    assert reason == "ended"
    files = sink.files()
    assert len(files) >= 2
    assert stats.media_time_secs == pytest.approx(4.0, abs=0.5)
    for event in files:
        assert event.path.suffix == ".mp4"
        assert event.path.read_bytes().startswith(init)
        check_recording(event.path, duration=event.duration, tolerance=0.2)

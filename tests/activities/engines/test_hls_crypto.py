"""AES-128 HLS: IVs, decryption, the key cache, rotation, refusals, live ffmpeg."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import OutputPlan, RecordingStats
from activities.engines.hls import HlsEngine, crypto
from activities.errors import RecorderProcessError
from activities.hls.playlist import Key, MediaPlaylist, parse_playlist
from tests.activities.engines.hls_support import check_files, make_plan, record
from tests.fakes.clock import VirtualClock
from tests.fakes.hls_media import check_recording, encrypt, sequence_iv
from tests.fakes.live_hls import LiveHls
from tests.fakes.scripted_hls import ScriptedHls, Seg, media_playlist
from tests.fakes.segment_sink import CheckingSink

RESOURCES = Path(__file__).parents[2] / "resources" / "hls"
KEY_A = bytes(range(16))
KEY_B = bytes(range(100, 116))
IV_ONE = (1).to_bytes(16, "big")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


# --- pure functions -----------------------------------------------------------------


def test_iv_is_explicit_or_the_media_sequence() -> None:
    assert crypto.iv_for(Key("AES-128", "k", iv="0x01"), 99) == IV_ONE
    assert crypto.iv_for(Key("AES-128", "k"), 500) == sequence_iv(500)
    with pytest.raises(RecorderProcessError, match="not hexadecimal"):
        crypto.iv_for(Key("AES-128", "k", iv="0xZZ"), 0)
    with pytest.raises(RecorderProcessError, match="longer than 128 bits"):
        crypto.iv_for(Key("AES-128", "k", iv="0x" + "1" * 34), 0)


def parsed_keys(text: str) -> list[Key | None]:
    playlist = parse_playlist(text, "https://example.com/live/index.m3u8")
    assert isinstance(playlist, MediaPlaylist)
    return [s.key for s in playlist.segments]


def test_ivs_of_real_playlists() -> None:
    corpus = json.loads((RESOURCES / "m3u8" / "playlists.json").read_text())
    keys = parsed_keys(
        corpus["PLAYLIST_WITH_MULTIPLE_KEYS_UNENCRYPTED_AND_ENCRYPTED_NONE"]
    )
    assert keys[2] is not None
    assert crypto.iv_for(keys[2], 0) == bytes.fromhex(
        "10ef8f758ca555115584bb5b3c687f52"
    )
    rotated = parsed_keys(
        (RESOURCES / "yt-dlp" / "livestream_encrypted.m3u8").read_text()
    )
    assert rotated[0] is not None
    assert rotated[2] is not None
    assert crypto.iv_for(rotated[0], 500) == (1).to_bytes(16, "big")
    assert crypto.iv_for(rotated[2], 502) == (502).to_bytes(16, "big")


def test_a_placeholder_iv_fails_only_the_recording_that_needs_it() -> None:
    corpus = json.loads((RESOURCES / "m3u8" / "playlists.json").read_text())
    [key, *_] = parsed_keys(corpus["PLAYLIST_WITH_TAG_MEDIA_READY"])
    assert key is not None
    with pytest.raises(RecorderProcessError, match=r"IV=\[IV\]"):
        crypto.check_supported(key)


def test_decrypt_round_trip_and_wrong_key() -> None:
    plain = b"\x47" + bytes(375)
    sealed = encrypt(plain, KEY_A, IV_ONE)
    assert crypto.decrypt(sealed, KEY_A, IV_ONE) == plain
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt(sealed[:-1], KEY_A, IV_ONE)
    with pytest.raises(crypto.DecryptError, match="padding"):
        crypto.decrypt(encrypt(b"x" * 31, KEY_A, IV_ONE), KEY_B, IV_ONE)


def test_key_material() -> None:
    assert crypto.data_uri_key("data:;base64,AAECAwQFBgcICQoLDA0ODw==") == KEY_A
    assert crypto.data_uri_key("data:text/plain,%00%01") == b"\x00\x01"
    assert crypto.data_uri_key("https://keys/k.bin") is None
    with pytest.raises(crypto.DecryptError):
        crypto.data_uri_key("data:;base64,***")
    assert crypto.check_key(KEY_A, "k") == KEY_A
    with pytest.raises(crypto.DecryptError, match="not 16"):
        crypto.check_key(b"<html>", "k")


@pytest.mark.parametrize(
    ("key", "match"),
    [
        pytest.param(Key("SAMPLE-AES", "k"), "METHOD=SAMPLE-AES", id="sample-aes"),
        pytest.param(Key("SAMPLE-AES-CTR", "k"), "SAMPLE-AES-CTR", id="ctr"),
        pytest.param(
            Key("AES-128", "k", keyformat="com.apple.streamingkeydelivery"),
            "DRM",
            id="fairplay",
        ),
        pytest.param(Key("AES-128", None), "without a URI", id="no-uri"),
    ],
)
def test_unrecordable_keys_are_refused(key: Key, match: str) -> None:
    with pytest.raises(RecorderProcessError, match=match):
        crypto.check_supported(key)


# --- scripted origins with real media -------------------------------------------------


async def test_ytdlp_live_playlist_with_key_rotation(
    tmp_path, clock, hls_media
) -> None:
    """yt-dlp's fixture: explicit IV on key 1, key 2 without IV from segment 502."""
    text = (RESOURCES / "yt-dlp" / "livestream_encrypted.m3u8").read_text()
    origin = ScriptedHls()
    url = origin.playlist("encrypted/index.m3u8", [text, text + "#EXT-X-ENDLIST\n"])
    origin.file("https://keys.example.com/key1.bin", KEY_A)
    origin.file("https://keys.example.com/key2.bin", KEY_B)
    plain = hls_media.ts.segments
    for seq, (key, iv) in {
        500: (KEY_A, IV_ONE),
        501: (KEY_A, IV_ONE),
        502: (KEY_B, sequence_iv(502)),
    }.items():
        origin.file(f"encrypted/segment{seq}.ts", encrypt(plain[seq - 500], key, iv))
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 1, 2]], extinf=10.0)
    assert done.sink.markers() == [500, 501, 502]
    # each key fetched once, although two segments share the first
    assert origin.count("https://keys.example.com/key1.bin") == 1
    assert origin.count("https://keys.example.com/key2.bin") == 1


async def test_method_none_switches_encryption_off_and_on(
    tmp_path, clock, hls_media
) -> None:
    plain = hls_media.ts.segments
    origin = ScriptedHls()
    origin.file("k1.bin", KEY_A)
    origin.file("k2.bin", KEY_B)
    origin.file("seg0.ts", encrypt(plain[0], KEY_A, sequence_iv(0)))
    origin.file("seg1.ts", plain[1])
    origin.file("seg2.ts", encrypt(plain[2], KEY_B, IV_ONE))
    text = media_playlist(
        0,
        [
            Seg("seg0.ts", key='METHOD=AES-128,URI="k1.bin"'),
            Seg("seg1.ts", key="METHOD=NONE"),
            Seg("seg2.ts", key='METHOD=AES-128,URI="k2.bin",IV=0x1'),
        ],
        endlist=True,
    )
    url = origin.playlist("index.m3u8", [text])
    done = await record(origin, url, make_plan(tmp_path), clock)
    check_files(done.sink, hls_media.ts, [[0, 1, 2]])


async def test_key_rotated_behind_the_same_uri_is_fetched_again(
    tmp_path, clock, hls_media
) -> None:
    plain = hls_media.ts.segments
    origin = ScriptedHls()
    key_url = origin.file("key.bin", KEY_A)
    for n in range(2):
        origin.file(f"seg{n}.ts", encrypt(plain[n], KEY_A, sequence_iv(n)))
    origin.file("seg2.ts", encrypt(plain[2], KEY_B, sequence_iv(2)))
    key = 'METHOD=AES-128,URI="key.bin"'
    rotate = asyncio.Event()
    url = origin.playlist(
        "index.m3u8",
        [
            media_playlist(0, [Seg("seg0.ts", key=key), Seg("seg1.ts")]),
            rotate,
            media_playlist(
                0,
                [Seg("seg0.ts", key=key), Seg("seg1.ts"), Seg("seg2.ts")],
                endlist=True,
            ),
        ],
    )
    sink = CheckingSink()
    task = asyncio.create_task(
        record(origin, url, make_plan(tmp_path), clock, sink=sink)
    )
    await sink.wait_for(lambda: sink.markers() == [0, 1])
    origin.files[key_url].body = KEY_B
    rotate.set()
    done = await task
    check_files(done.sink, hls_media.ts, [[0, 1, 2]])
    assert origin.count("key.bin") == 2


@pytest.mark.parametrize(
    ("key_fail", "status", "expected", "reason"),
    [
        pytest.param(1, 503, [[0, 1, 2]], "ended", id="key-retried"),
        # the final window lists them: retried for half the stream timeout each
        pytest.param(99, 403, [], "ended", id="key-forbidden"),
    ],
)
async def test_key_failures(
    tmp_path, clock, hls_media, key_fail, status, expected, reason
) -> None:
    plain = hls_media.ts.segments
    origin = ScriptedHls()
    origin.file("key.bin", KEY_A, fail=key_fail, status=status)
    for n in range(3):
        origin.file(f"seg{n}.ts", encrypt(plain[n], KEY_A, sequence_iv(n)))
    segments = [Seg(f"seg{n}.ts") for n in range(3)]
    segments[0].key = 'METHOD=AES-128,URI="key.bin"'
    url = origin.playlist("index.m3u8", [media_playlist(0, segments, endlist=True)])
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == reason
    check_files(done.sink, hls_media.ts, expected)


async def test_a_key_that_is_no_key_leaves_a_gap(tmp_path, clock, hls_media) -> None:
    plain = hls_media.ts.segments
    origin = ScriptedHls()
    origin.file("good.bin", KEY_A)
    origin.file("html.bin", b"<html>login</html>")
    origin.file("seg0.ts", encrypt(plain[0], KEY_A, sequence_iv(0)))
    origin.file("seg1.ts", encrypt(plain[1], KEY_A, sequence_iv(1)))
    origin.file("seg2.ts", encrypt(plain[2], KEY_A, sequence_iv(2)))
    text = media_playlist(
        0,
        [
            Seg("seg0.ts", key='METHOD=AES-128,URI="good.bin"'),
            Seg("seg1.ts", key='METHOD=AES-128,URI="html.bin"'),
            Seg("seg2.ts", key='METHOD=AES-128,URI="good.bin"'),
        ],
        endlist=True,
    )
    url = origin.playlist("index.m3u8", [text])
    done = await record(origin, url, make_plan(tmp_path), clock)
    assert done.reason == "ended"
    check_files(done.sink, hls_media.ts, [[0, 2]])
    # tried like any download: while the final window lists it, for half the
    # stream timeout
    assert origin.count("html.bin") > 3
    assert 30.0 <= clock.now <= 32.0


@pytest.mark.parametrize(
    "key",
    [
        pytest.param('METHOD=SAMPLE-AES,URI="k.bin"', id="sample-aes"),
        pytest.param(
            'METHOD=SAMPLE-AES,URI="skd://x",KEYFORMAT="com.apple.streamingkeydelivery"',
            id="fairplay",
        ),
    ],
)
async def test_sample_aes_is_refused_before_any_download(
    tmp_path, clock, key: str
) -> None:
    origin = ScriptedHls()
    text = media_playlist(0, [Seg("seg0.ts", key=key)])
    url = origin.playlist("index.m3u8", [text])
    with pytest.raises(RecorderProcessError, match="SAMPLE-AES"):
        await record(origin, url, make_plan(tmp_path), clock)
    assert list(origin.requests) == [url]
    assert not (tmp_path / "out").exists()


# --- a live encrypted ffmpeg stream ---------------------------------------------------


async def test_records_a_live_aes_stream_from_ffmpeg(tmp_path, ffmpeg) -> None:
    sink = CheckingSink()
    stats = RecordingStats()
    plan = OutputPlan(path_for=lambda i, ext: tmp_path / "rec" / f"part_{i}.{ext}")
    async with (
        LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=3, encrypt=True) as live,
        httpx.AsyncClient(timeout=5) as http,
    ):
        await live.wait_for_segments_async(1, timeout=15)
        assert "METHOD=AES-128" in live.playlist_path.read_text()
        source = StreamSource(url=live.url, kind=StreamKind.HLS)
        reason = await asyncio.wait_for(
            HlsEngine(http).record(source, plan, sink, stats), 30
        )
    assert reason == "ended"
    [event] = sink.files()
    assert event.path.suffix == ".ts"
    assert stats.media_time_secs == pytest.approx(3.0, abs=0.5)
    check_recording(event.path, duration=event.duration, tolerance=0.2)

"""Lenient playlist parsing, on real playlists from streamlink, yt-dlp and m3u8."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from activities.hls.playlist import (
    ByteRange,
    InitSection,
    Key,
    MasterPlaylist,
    MediaPlaylist,
    PlaylistError,
    parse_playlist,
)

RESOURCES = Path(__file__).parents[2] / "resources" / "hls"
URL = "https://example.com/live/index.m3u8"
CORPUS: dict[str, str] = json.loads((RESOURCES / "m3u8" / "playlists.json").read_text())
# m3u8 6.0's model layer raises on these; the recorder must not
M3U8_REJECTS = [
    "IPTV_PLAYLIST_WITH_CUSTOM_TAGS",
    "LOW_LATENCY_OMITTED_ATTRIBUTES",
    "VARIANT_PLAYLIST_WITH_VIDEO_RANGE",
    "VARIANT_PLAYLIST_WITH_HDCP_LEVEL",
    "VARIANT_PLAYLIST_WITH_IFRAME_VIDEO_RANGE",
    "VARIANT_PLAYLIST_WITH_IFRAME_HDCP_LEVEL",
]


def fixture(source: str, name: str) -> str:
    return (RESOURCES / source / name).read_text()


def media(text: str, url: str = URL) -> MediaPlaylist:
    parsed = parse_playlist(text, url)
    assert isinstance(parsed, MediaPlaylist)
    return parsed


def master(text: str, url: str = URL) -> MasterPlaylist:
    parsed = parse_playlist(text, url)
    assert isinstance(parsed, MasterPlaylist)
    return parsed


def test_corpus_has_99_playlists() -> None:
    assert len(CORPUS) == 99
    assert set(M3U8_REJECTS) <= set(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_playlist_parses(name: str) -> None:
    parsed = parse_playlist(CORPUS[name], URL)
    if isinstance(parsed, MediaPlaylist):
        pairs = itertools.pairwise(parsed.segments)
        assert all(b.sequence == a.sequence + 1 for a, b in pairs)
        assert all(s.url.startswith(("http", "C:")) for s in parsed.segments)
        assert all(s.duration >= 0 for s in parsed.segments)
    else:
        assert all(v.url for v in parsed.variants)


@pytest.mark.parametrize("name", M3U8_REJECTS)
def test_playlists_m3u8_rejects_are_read(name: str) -> None:
    parsed = parse_playlist(CORPUS[name], URL)
    if isinstance(parsed, MasterPlaylist):
        assert parsed.variants
    else:
        assert parsed.segments


def test_variant_without_bandwidth() -> None:
    found = master(CORPUS["VARIANT_PLAYLIST_WITH_VIDEO_RANGE"])
    assert [(v.url, v.bandwidth) for v in found.variants] == [
        ("http://example.com/sdr.m3u8", 0),
        ("http://example.com/hdr.m3u8", 0),
    ]


def test_iptv_extinf_with_attributes_is_cut_down() -> None:
    found = media(CORPUS["IPTV_PLAYLIST_WITH_CUSTOM_TAGS"])
    [segment] = found.segments
    assert segment.url == "http://str00.iptv.domain/7331/mpegts?token=longtokenhere"
    assert segment.duration == 0.0  # -1: unknown


def test_low_latency_playlist_keeps_whole_segments_only() -> None:
    found = media(CORPUS["LOW_LATENCY_OMITTED_ATTRIBUTES"])
    assert found.media_sequence == 6342
    assert len(found.segments) == 10
    assert found.target_duration == 2.0
    assert all(s.url.endswith(".m4s") for s in found.segments)
    assert found.segments[0].init == InitSection(
        url="https://example.com/live/init_data.m4s"
    )


def test_sliding_window() -> None:
    found = media(CORPUS["SLIDING_WINDOW_PLAYLIST"])
    assert (found.media_sequence, found.last_sequence, found.ended) == (
        2680,
        2682,
        False,
    )


def test_delta_update_numbers_after_the_skipped_segments() -> None:
    found = media(CORPUS["LOW_LATENCY_DELTA_UPDATE_PLAYLIST"])
    assert found.segments[0].sequence == 269
    assert found.segments[0].url.endswith("fileSequence269.ts")


def test_negative_media_sequence() -> None:
    found = media(CORPUS["PLAYLIST_WITH_NEGATIVE_MEDIA_SEQUENCE"])
    assert found.media_sequence == -2680


def test_keys_with_iv_and_method_none_switching_back() -> None:
    found = media(CORPUS["PLAYLIST_WITH_MULTIPLE_KEYS_UNENCRYPTED_AND_ENCRYPTED_NONE"])
    keys = [s.key for s in found.segments]
    first = Key(
        method="AES-128",
        url="https://example.com/hls-key/key.bin",
        iv="0X10ef8f758ca555115584bb5b3c687f52",
    )
    assert keys[:2] == [None, None]
    assert keys[2:6] == [first] * 4
    assert keys[6:8] == [None, None]  # METHOD=NONE
    assert keys[8] is not None
    assert keys[8].url == "https://example.com/hls-key/key2.bin"


def test_placeholder_iv_is_kept_as_written() -> None:
    # checked by the engine's crypto, so only a recording that needs it fails
    found = media(CORPUS["PLAYLIST_WITH_TAG_MEDIA_READY"])
    key = found.segments[0].key
    assert key is not None
    assert key.iv == "[IV]"


def test_byteranges_continue_from_the_previous_range() -> None:
    found = media(CORPUS["PLAYLIST_USING_BYTERANGES"])
    assert [s.byterange for s in found.segments] == [
        ByteRange(0, 76242),
        ByteRange(762421, 83442),
        ByteRange(834421, 69864),
    ]
    text = (
        "#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:100@10\na.ts\n"
        "#EXTINF:1,\n#EXT-X-BYTERANGE:50\na.ts\n"
    )
    assert [s.byterange for s in media(text).segments] == [
        ByteRange(10, 100),
        ByteRange(110, 50),
    ]
    assert ByteRange(110, 50).header() == "bytes=110-159"


def test_init_sections_with_byteranges() -> None:
    found = media(CORPUS["MAP_URI_PLAYLIST_WITH_BYTERANGE"])
    assert [s.init for s in found.segments] == [
        InitSection("https://example.com/live/main.mp4", ByteRange(0, 812)),
        InitSection("https://example.com/live/main2.mp4", ByteRange(0, 912)),
    ]


def test_gaps_and_discontinuities() -> None:
    gaps = media(CORPUS["GAP_PLAYLIST"])
    assert [s.gap for s in gaps.segments] == [False, True, True, False]
    disc = media(CORPUS["DISCONTINUITY_PLAYLIST_WITH_PROGRAM_DATE_TIME"])
    assert any(s.discontinuity for s in disc.segments)
    assert not disc.segments[0].discontinuity


def test_content_steering_pathways() -> None:
    found = master(CORPUS["CONTENT_STEERING_PLAYLIST"])
    assert [v.pathway for v in found.variants] == ["CDN-A", "CDN-A", "CDN-B", "CDN-B"]


def test_playlist_without_header_line() -> None:
    windows = media(CORPUS["WINDOWS_PLAYLIST"])  # starts with a stray backslash line
    assert windows.media_sequence == 55119
    assert master(CORPUS["VARIANT_PLAYLIST_WITH_STABLE_VARIANT_ID"]).variants


# --- streamlink ---------------------------------------------------------------------


def test_streamlink_daterange_without_id_and_invalid_date() -> None:
    found = media(fixture("streamlink", "test_date.m3u8"))
    assert [s.duration for s in found.segments] == [15.0, 15.5, 29.5, 60.0]
    assert found.target_duration == 120.0
    assert found.segments[-1].url == "https://example.com/live/segment60-.ts"


def test_streamlink_variant_without_bandwidth() -> None:
    found = master(fixture("streamlink", "test_multivariant_bandwidth.m3u8"))
    by_url = {v.url.rsplit("/", 1)[1]: v for v in found.variants}
    assert by_url["audio_only.m3u8"].bandwidth == 0
    assert by_url["audio_only.m3u8"].names == ("Audio Only", "audio_only")
    assert by_url["chunked.m3u8"].source
    assert by_url["720p60.m3u8"].frame_rate == pytest.approx(59.993)


def test_streamlink_twitch_usher_names() -> None:
    found = master(fixture("streamlink", "test_multivariant_twitch_usher_v2.m3u8"))
    top = found.variants[-1]
    assert top.url == "https://mocked/1080p60.m3u8"
    assert top.names == ("1080p60",)
    assert top.source
    assert top.resolution == (1920, 1080)
    assert found.variants[1].names == ("480p", "480p30")


def test_streamlink_simple_media_is_vod() -> None:
    found = media(fixture("streamlink", "test_simple_media.m3u8"))
    assert found.ended
    assert len(found.segments) == 3


# --- yt-dlp -------------------------------------------------------------------------


def test_ytdlp_live_window() -> None:
    found = media(fixture("yt-dlp", "livestream_basic.m3u8"))
    assert (found.media_sequence, len(found.segments), found.ended) == (1000, 3, False)
    assert found.segments[1].url == "https://cdn.example.com/live/segment1001.ts"
    assert found.segments[1].duration == pytest.approx(6.006)


def test_ytdlp_key_rotation() -> None:
    found = media(fixture("yt-dlp", "livestream_encrypted.m3u8"))
    keys = [s.key for s in found.segments]
    assert keys[0] == keys[1]
    assert keys[0] is not None
    assert keys[2] is not None
    assert keys[2].url == "https://keys.example.com/key2.bin"


def test_ytdlp_init_section() -> None:
    found = media(fixture("yt-dlp", "livestream_with_init.m3u8"))
    assert {s.init for s in found.segments} == {
        InitSection("https://cdn.example.com/live/init.mp4")
    }


# --- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("<html><body>403 Forbidden</body></html>", id="html"),
        pytest.param("", id="empty"),
        pytest.param(
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=lots\nlow.m3u8\n", id="garbled"
        ),
    ],
)
def test_not_a_playlist(text: str) -> None:
    with pytest.raises(PlaylistError):
        parse_playlist(text, URL)


def test_uris_resolve_against_the_final_url() -> None:
    found = media(
        "#EXTM3U\n#EXTINF:1,\n../b/seg.ts?x=1\n", "https://h.example/a/i.m3u8"
    )
    assert found.segments[0].url == "https://h.example/b/seg.ts?x=1"

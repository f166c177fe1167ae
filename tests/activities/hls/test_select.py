"""Variant choice: the ranking rule on real master playlists and platform offers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from activities.contracts import StreamKind, StreamSelection
from activities.hls.playlist import MasterPlaylist, parse_playlist
from activities.hls.select import Candidate, candidates_of, rank

RESOURCES = Path(__file__).parents[2] / "resources" / "hls"
BASE = "https://cdn.example.com/live/"


def offered(source: str, name: str) -> list[Candidate]:
    parsed = parse_playlist((RESOURCES / source / name).read_text(), BASE + name)
    assert isinstance(parsed, MasterPlaylist)
    return candidates_of(parsed)


def best(candidates: list[Candidate], **selection: object) -> str:
    ranked = rank(candidates, StreamSelection.model_validate(selection))
    return ranked[0].url.rsplit("/", 1)[1]


USHER = ("streamlink", "test_multivariant_twitch_usher_v2.m3u8")
VOD = ("streamlink", "test_master_twitch_vod.m3u8")


@pytest.mark.parametrize(
    ("fixture", "selection", "chosen"),
    [
        pytest.param(USHER, {}, "1080p60.m3u8", id="default-highest-bitrate"),
        pytest.param(USHER, {"qualities": ["720p60"]}, "720p60.m3u8", id="name"),
        pytest.param(USHER, {"qualities": ["720P"]}, "720p60.m3u8", id="height"),
        pytest.param(USHER, {"qualities": ["source"]}, "1080p60.m3u8", id="source"),
        pytest.param(
            USHER, {"qualities": ["4k", "360p", "480p"]}, "360p.m3u8", id="in-order"
        ),
        pytest.param(
            USHER, {"qualities": ["audio_only"]}, "audio_only.m3u8", id="audio"
        ),
        pytest.param(USHER, {"qualities": ["8k"]}, "1080p60.m3u8", id="no-match"),
        pytest.param(VOD, {}, "720p60.m3u8", id="vod-bitrate-beats-source"),
        pytest.param(VOD, {"qualities": ["source"]}, "source.m3u8", id="vod-source"),
        pytest.param(VOD, {"qualities": ["1080p"]}, "source.m3u8", id="vod-height"),
        pytest.param(
            VOD, {"max_bitrate_bps": 2_000_000}, "480p30.m3u8", id="max-bitrate"
        ),
        pytest.param(
            VOD,
            {"min_bitrate_bps": 1_000_000, "max_bitrate_bps": 1_500_000},
            "480p30.m3u8",
            id="bitrate-window",
        ),
        pytest.param(
            ("streamlink", "test_multivariant_bandwidth.m3u8"),
            {"min_bitrate_bps": 10_000_000, "qualities": ["1080p60"]},
            "chunked.m3u8",
            id="unknown-bitrate-is-kept",
        ),
        pytest.param(
            ("streamlink", "test_1.m3u8"),
            {"qualities": ["818p"]},
            "6000kbit.m3u8",
            id="resolution-height",
        ),
        pytest.param(
            ("streamlink", "test_master.m3u8"),
            {"qualities": ["480p30"]},
            "480p.m3u8",
            id="video-group-id",
        ),
    ],
)
def test_ranking_on_real_masters(
    fixture: tuple[str, str], selection: dict[str, object], chosen: str
) -> None:
    assert best(offered(*fixture), **selection) == chosen


def test_audio_only_ranks_last_unless_asked_for() -> None:
    ranked = rank(offered(*VOD), StreamSelection())
    assert ranked[-1].audio_only
    assert ranked[-1].url.endswith("audio_only.m3u8")
    assert not any(c.audio_only for c in ranked[:-1])


def test_everything_filtered_out_falls_back_to_the_best(caplog) -> None:
    caplog.set_level(logging.WARNING)
    assert best(offered(*VOD), min_bitrate_bps=50_000_000) == "720p60.m3u8"
    assert "recording the best of them anyway" in caplog.text


STEERING = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1280000,PATHWAY-ID="CDN-A"
low/video.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=7680000,PATHWAY-ID="CDN-A"
hi/video.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1280000,PATHWAY-ID="CDN-B"
https://backup.example.net/low/video.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=7680000,PATHWAY-ID="CDN-B"
https://backup.example.net/hi/video.m3u8
"""


def steering() -> list[Candidate]:
    parsed = parse_playlist(STEERING, BASE + "master.m3u8")
    assert isinstance(parsed, MasterPlaylist)
    return candidates_of(parsed)


@pytest.mark.parametrize(
    ("selection", "url"),
    [
        pytest.param({}, BASE + "hi/video.m3u8", id="first-of-equals"),
        pytest.param(
            {"cdns": ["cdn-b"]}, "https://backup.example.net/hi/video.m3u8", id="name"
        ),
        pytest.param(
            {"cdns": ["backup.example"]},
            "https://backup.example.net/hi/video.m3u8",
            id="host-substring",
        ),
        pytest.param(
            {"cdn_blacklist": ["CDN-A"]},
            "https://backup.example.net/hi/video.m3u8",
            id="blacklist",
        ),
        pytest.param(
            {"cdns": ["CDN-B"], "max_bitrate_bps": 2_000_000},
            "https://backup.example.net/low/video.m3u8",
            id="bounds-then-cdn",
        ),
        pytest.param(
            {"cdn_blacklist": ["cdn-a", "cdn-b"]},
            BASE + "hi/video.m3u8",
            id="all-blacklisted-falls-back",
        ),
    ],
)
def test_cdn_preferences(selection: dict[str, object], url: str) -> None:
    ranked = rank(steering(), StreamSelection.model_validate(selection))
    assert ranked[0].url == url


def test_quality_outranks_cdn_which_outranks_bitrate() -> None:
    candidates = [
        Candidate("https://a.cdn/1.m3u8", bitrate_bps=9, qualities=frozenset({"720p"})),
        Candidate("https://b.cdn/2.m3u8", bitrate_bps=5, qualities=frozenset({"720p"})),
        Candidate("https://b.cdn/3.m3u8", bitrate_bps=1, qualities=frozenset({"480p"})),
        Candidate("https://a.cdn/4.m3u8", bitrate_bps=7, qualities=frozenset({"480p"})),
    ]
    selection = StreamSelection(qualities=["480p", "720p"], cdns=["b.cdn"])
    assert [c.url[-6:] for c in rank(candidates, selection)] == [
        "3.m3u8",
        "4.m3u8",
        "2.m3u8",
        "1.m3u8",
    ]


def test_preferred_format_among_platform_candidates() -> None:
    candidates = [
        Candidate("https://x/a.m3u8", kind=StreamKind.HLS, bitrate_bps=2),
        Candidate("https://x/a.flv", kind=StreamKind.FLV, bitrate_bps=1),
    ]
    flv_first = StreamSelection(formats=[StreamKind.FLV])
    assert rank(candidates, flv_first)[0].kind is StreamKind.FLV
    assert rank(candidates, StreamSelection())[0].kind is StreamKind.HLS
    assert rank([], StreamSelection()) == []

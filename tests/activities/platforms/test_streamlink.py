"""The streamlink fallback: URL table, outcomes, metadata, and a recording end to end.

A tiny plugin registered in the test (`srec.test/<channel>`) serves a live HLS
stream from ffmpeg on loopback; the extractor resolves it through streamlink's
Python API and srec's native HLS engine records it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from streamlink.exceptions import NoStreamsError, PluginError
from streamlink.plugin import Plugin, pluginmatcher
from streamlink.stream.hls.hls import HLSStream
from streamlink.stream.http import HTTPStream
from streamlink.stream.stream import Stream

from activities.contracts import (
    EngineKind,
    ExtractorChoice,
    LiveOutcome,
    RecordingPolicy,
    StreamKind,
    StreamSelection,
)
from activities.engines.base import RecordingStats, plan_for
from activities.engines.remux.streamlink import streamlink_args
from activities.engines.table import build_engines
from activities.errors import UnsupportedUrlError
from activities.naming import NameFields
from activities.platforms import PlatformRegistry
from activities.platforms.generic import Generic
from activities.platforms.streamlink import Streamlink
from activities.platforms.twitch import Twitch
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.live_hls import LiveHls, assert_playable
from tests.fakes.sink import RecordingSink

if TYPE_CHECKING:
    from collections.abc import Iterator


class TestUrls(UrlTable):
    extractor = Streamlink
    should_match_groups = (
        pytest.param(
            "https://kick.com/somebody",
            "live",
            {"plugin": "kick", "channel": "somebody"},
            id="kick",
        ),
        pytest.param(
            "hls://https://cdn.example.com/live/master.m3u8",
            "live",
            {"plugin": "hls", "url": "https://cdn.example.com/live/master.m3u8"},
            id="hls-scheme",
        ),
    )
    should_match = (
        pytest.param("https://www.youtube.com/@channel/live", id="youtube"),
        pytest.param("https://chzzk.naver.com/live/abc123", id="chzzk"),
        pytest.param("https://www.twitch.tv/videos/2210785211", id="twitch-vod"),
        pytest.param("dash://https://cdn.example.com/a.mpd", id="dash-scheme"),
    )
    should_not_match = (
        pytest.param("https://example.org/a/page", id="no-plugin"),
        pytest.param("kick.com/somebody", id="no-scheme"),
    )


class OnlyStreamlink(Stream):
    """A stream type srec's engines cannot read (as DASH or a muxed stream)."""

    __shortname__ = "only-streamlink"


def tiny_plugin(stream_url: str) -> type[Plugin]:
    @pluginmatcher(re.compile(r"https?://srec\.test/(?P<channel>\w+)"))
    class SrecTest(Plugin):
        def _get_streams(self) -> Any:
            channel = self.match["channel"]
            self.title, self.author, self.category = "a title", channel, "Art"
            if channel == "offline":
                return {}
            if channel == "gone":
                raise NoStreamsError
            if channel == "broken":
                raise PluginError("the site answered 500")
            http = HTTPStream(self.session, stream_url.replace("live.m3u8", "a.flv"))
            return {
                "360p": OnlyStreamlink(self.session),
                "480p": http,
                "720p": HLSStream(
                    self.session, stream_url, headers={"Referer": "https://srec.test/"}
                ),
            }

    return SrecTest


@pytest.fixture
def live(tmp_path: Path, ffmpeg: Path) -> Iterator[LiveHls]:
    with LiveHls(tmp_path / "hls", ffmpeg=ffmpeg, duration=5, list_size=10) as stream:
        stream.wait_for_segments(1)
        yield stream


@pytest.fixture
def extractor_class(live: LiveHls) -> type[Streamlink]:
    return Streamlink.with_plugins({"srectest": tiny_plugin(live.url)})


async def test_metadata_and_streams(extractor_class) -> None:
    async with httpx.AsyncClient() as http:
        status = await extractor_class(http).check_live("https://srec.test/alice")
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author, status.category) == ("a title", "alice", "Art")
    kinds = {s.quality: s.kind for s in status.streams}
    assert kinds == {
        "720p": StreamKind.HLS,
        "480p": StreamKind.FLV,
        "360p": StreamKind.STREAMLINK,
    }
    by_quality = {s.quality: s for s in status.streams}
    assert by_quality["720p"].headers["Referer"] == "https://srec.test/"
    assert "Cookie" not in by_quality["720p"].headers
    # a stream only streamlink reads keeps the page URL for the streamlink engine
    assert by_quality["360p"].url == "https://srec.test/alice"
    # streamlink's order is worst first; the best is picked
    assert status.source is not None
    assert status.source.quality == "720p"


@pytest.mark.parametrize(
    ("channel", "outcome"),
    [
        pytest.param("offline", LiveOutcome.OFFLINE, id="no-streams"),
        pytest.param("gone", LiveOutcome.OFFLINE, id="no-streams-error"),
        pytest.param("broken", LiveOutcome.UNAVAILABLE, id="plugin-error"),
    ],
)
async def test_outcomes(channel: str, outcome: LiveOutcome) -> None:
    # no stream is fetched: a URL nothing serves will do
    extractor_class = Streamlink.with_plugins(
        {"srectest": tiny_plugin("http://127.0.0.1:9/live.m3u8")}
    )
    async with httpx.AsyncClient() as http:
        status = await extractor_class(http).check_live(f"https://srec.test/{channel}")
    assert status.result is outcome
    assert status.source is None


async def test_recorded_end_to_end_by_the_native_engine(
    extractor_class, live: LiveHls, tmp_path: Path
) -> None:
    registry = PlatformRegistry([Twitch, Generic, extractor_class])
    policy = RecordingPolicy(max_segment_duration_secs=2)
    async with httpx.AsyncClient() as http:
        extractor = registry.extractor_for("https://srec.test/bob", http)
        status = await extractor.check_live("https://srec.test/bob", policy.selection)
        assert status.source is not None
        assert status.source.kind is StreamKind.HLS
        engine = build_engines(http)[EngineKind.NATIVE][status.source.kind]
        plan = plan_for(
            tmp_path / "out", policy, NameFields(streamer="bob", title=status.title)
        )
        sink = RecordingSink()
        reason = await engine.record(status.source, plan, sink, RecordingStats())
    assert reason == "ended"
    closed = sink.closed_with_bytes()
    assert closed, "no segment was written"
    for event in closed:
        path = Path(event.path)
        assert path.name.startswith("bob-")
        assert "a title" in path.name
        assert_playable(path)


async def test_hls_scheme_needs_no_plugin_of_ours(live: LiveHls) -> None:
    async with httpx.AsyncClient() as http:
        status = await Streamlink(http).check_live(f"hls://{live.url}")
    assert status.is_live
    assert status.source is not None
    assert (status.source.kind, status.source.url) == (StreamKind.HLS, live.url)


async def test_forcing_streamlink_for_a_native_platform() -> None:
    registry = PlatformRegistry([Twitch, Generic, Streamlink])
    forced = ExtractorChoice.STREAMLINK
    native = ExtractorChoice.NATIVE
    twitch = "https://www.twitch.tv/abby_"
    async with httpx.AsyncClient() as http:
        extractor = registry.extractor_for(twitch, http, choice=forced)
        assert isinstance(extractor, Streamlink)
        assert isinstance(registry.extractor_for(twitch, http), Twitch)
        assert isinstance(registry.extractor_for(twitch, http, choice=native), Twitch)
        with pytest.raises(UnsupportedUrlError):
            registry.extractor_for("https://srec.test/x", http, choice=forced)
        # a URL only streamlink handles: auto takes it, native refuses it
        kick = "https://kick.com/someone"
        assert isinstance(registry.extractor_for(kick, http), Streamlink)
        with pytest.raises(UnsupportedUrlError, match="native"):
            registry.extractor_for(kick, http, choice=native)


def test_streamlink_engine_reads_a_page_url_in_the_picked_quality(tmp_path) -> None:
    from activities.contracts import StreamSource

    source = StreamSource(
        url="https://srec.test/alice",
        kind=StreamKind.STREAMLINK,
        quality="360p",
        selection=StreamSelection(qualities=["1080p"]),
    )
    args = streamlink_args(
        tmp_path / "streamlink", source, stream_timeout_secs=20, hls_live_edge=3
    )
    assert args[-2:] == ["https://srec.test/alice", "360p,1080p,best"]


async def test_every_engine_kind_hands_streamlink_streams_to_streamlink() -> None:
    async with httpx.AsyncClient() as http:
        table = build_engines(http)
    assert EngineKind.STREAMLINK in table, "the streamlink program is installed"
    piped = table[EngineKind.STREAMLINK][StreamKind.STREAMLINK]
    for kind in table:
        assert table[kind][StreamKind.STREAMLINK] is piped


async def test_a_streamlink_only_stream_is_recorded_by_the_streamlink_engine(
    live: LiveHls, tmp_path: Path
) -> None:
    """The page URL goes to the streamlink program, whose plugin resolves it."""
    async with httpx.AsyncClient() as http:
        status = await Streamlink(http).check_live(f"hls://{live.url}")
        assert status.source is not None
        source = status.source.model_copy(
            update={"kind": StreamKind.STREAMLINK, "url": f"hls://{live.url}"}
        )
        engine = build_engines(http)[EngineKind.NATIVE][StreamKind.STREAMLINK]
        plan = plan_for(tmp_path / "out", RecordingPolicy(), NameFields(streamer="sl"))
        sink = RecordingSink()
        reason = await engine.record(source, plan, sink, RecordingStats())
    assert reason in {"ended", "stalled"}
    (closed,) = sink.closed_with_bytes()
    assert Path(closed.path).suffix == ".ts"
    assert_playable(Path(closed.path))

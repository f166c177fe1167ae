"""Twitch: URL table, the captured GQL answer, outcomes, usher, batch status.

The API tests run through the real HTTP client and the host-mapping transport
against the fake Twitch (`tests/fakes/platform/twitch.py`), whose GQL answers start
from the captured batch answer in `tests/resources/platforms/twitch/`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from activities.contracts import LiveOutcome, StreamKind, StreamSelection
from activities.danmu.registry import codec_for
from activities.errors import ExtractorError
from activities.platforms._twitch_api import CheckReply
from activities.platforms.base import Outcome
from activities.platforms.twitch import Twitch, TwitchOptions
from activities.platforms.web import parse
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from tests.fakes.platform.twitch import TwitchApi

CAPTURED = Path(__file__).parents[2] / "resources" / "platforms" / "twitch"
CHANNEL = "https://www.twitch.tv/abby_"
STREAM = "http://127.0.0.1:9/live.m3u8"


class TestUrls(UrlTable):
    extractor = Twitch
    should_match_groups = (
        pytest.param(CHANNEL, "live", {"channel": "abby_"}, id="www"),
        pytest.param(
            "https://twitch.tv/Abby_/about", "live", {"channel": "Abby_"}, id="about"
        ),
        pytest.param(
            "https://m.twitch.tv/abby_?desktop-redirect=true",
            "mobile",
            {"channel": "abby_"},
            id="mobile",
        ),
        pytest.param(
            "https://player.twitch.tv/?parent=example.com&channel=abby_&muted=true",
            "player",
            {"channel": "abby_"},
            id="player",
        ),
    )
    should_match = (
        pytest.param("http://www.twitch.tv/abby_/", id="slash"),
        pytest.param("https://go.twitch.tv/abby_", id="go"),
        pytest.param("https://www.twitch.tv/abby_/schedule", id="schedule"),
        pytest.param("https://www.twitch.tv/abby_?referrer=raid", id="query"),
    )
    should_not_match = (
        pytest.param("https://www.twitch.tv/", id="root"),
        pytest.param("https://www.twitch.tv/videos/2210785211", id="vod"),
        pytest.param("https://www.twitch.tv/abby_/clip/SlugOfAClip", id="clip"),
        pytest.param("https://clips.twitch.tv/SlugOfAClip", id="clips-host"),
        pytest.param("https://www.twitch.tv/directory/category/art", id="directory"),
        pytest.param("https://www.twitch.tv/settings", id="settings"),
        pytest.param("https://www.twitch.tv/abby_/videos", id="channel-videos"),
        pytest.param("https://player.twitch.tv/?video=v2210785211", id="player-vod"),
        pytest.param("https://www.twitch.tv.example.com/abby_", id="lookalike"),
    )


def test_captured_gql_answer_parses() -> None:
    """The real ChannelShell + StreamMetadata answer for a live channel."""
    body = (CAPTURED / "twitch_live.json").read_bytes()
    shell, meta = parse(CheckReply, body, "twitch gql").root
    assert shell.data is not None
    assert shell.data.userOrError is not None
    user = shell.data.userOrError
    assert (user.typename, user.login, user.displayName) == ("User", "abby_", "abby_")
    assert meta.data is not None
    assert meta.data.user is not None
    stream = meta.data.user.stream
    assert stream is not None
    assert (stream.type, stream.viewersCount) == ("live", 3963)
    assert stream.createdAt == datetime(2025, 7, 6, 14, 24, 56, tzinfo=UTC)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[TwitchApi]:
    api = fake.twitch
    yield api
    api.rooms.clear()
    api.requests.clear()
    api.malformed = False
    api.throttle(0)


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live(api: TwitchApi) -> None:
    api.room("abby_", title="LA DES-VELADA", author="abby_", category="Art").go_live(
        STREAM
    )


async def test_live_channel(api, http) -> None:
    live(api)
    status = await Twitch(http).check_live(CHANNEL)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author, status.category) == (
        "LA DES-VELADA",
        "abby_",
        "Art",
    )
    assert status.viewers == 3963
    assert status.started_at == datetime(2025, 7, 6, 14, 24, 56, tzinfo=UTC)
    assert status.avatar_url.startswith("https://static-cdn.jtvnw.net/")
    # usher's six variants, the source first, the audio-only one last
    assert len(status.streams) == 6
    assert status.source is not None
    assert status.source.quality == "1080p60"
    assert status.source.kind is StreamKind.HLS
    assert status.source.url == STREAM
    assert status.source.expires_at is not None
    usher = next(r for r in api.requests if r.host == "usher.ttvnw.net")
    assert usher.arg("sig")
    assert usher.arg("token")
    assert usher.arg("supported_codecs") == "h264"


async def test_selection_and_codecs(api, http) -> None:
    live(api)
    options = TwitchOptions(supported_codecs=["av1", "h264"])
    selection = StreamSelection(qualities=["480p"])
    status = await Twitch(http, options).check_live(CHANNEL, selection)
    assert status.source is not None
    assert status.source.quality == "480p"
    usher = next(r for r in api.requests if r.host == "usher.ttvnw.net")
    assert usher.arg("supported_codecs") == "av1,h264"


async def test_oauth_token_goes_to_gql_only(api, http) -> None:
    live(api)
    options = TwitchOptions(oauth_token="s3cret")
    status = await Twitch(http, options).check_live(CHANNEL)
    gql = [r for r in api.requests if r.host == "gql.twitch.tv"]
    assert all(r.headers.get("Authorization") == "OAuth s3cret" for r in gql)
    usher = next(r for r in api.requests if r.host == "usher.ttvnw.net")
    assert "Authorization" not in usher.headers
    assert status.source is not None
    assert "Authorization" not in status.source.headers


async def test_offline_channel(api, http) -> None:
    api.room("abby_")
    status = await Twitch(http).check_live(CHANNEL)
    assert status.result is LiveOutcome.OFFLINE
    assert status.title == "a fake broadcast"  # the last broadcast's
    assert not any(r.host == "usher.ttvnw.net" for r in api.requests)


async def test_missing_user_is_not_found(api, http) -> None:
    status = await Twitch(http).check_live("https://www.twitch.tv/nobody_here")
    assert status.result is LiveOutcome.NOT_FOUND


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        pytest.param("banned", LiveOutcome.BANNED, id="banned"),
        pytest.param("private", LiveOutcome.PRIVATE, id="subscribers-only"),
        pytest.param("region_locked", LiveOutcome.REGION_LOCKED, id="geoblocked"),
    ],
)
async def test_fatal_outcomes(api, http, state: str, outcome: LiveOutcome) -> None:
    live(api)
    api.rooms["abby_"].set_state(state)
    status = await Twitch(http).check_live(CHANNEL)
    assert status.result is outcome
    assert status.result.fatal
    assert status.source is None


async def test_rate_limited_with_retry_after(api, http) -> None:
    live(api)
    api.throttle(1)
    status = await Twitch(http).check_live(CHANNEL)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert status.retry_after_secs == 7.0


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"missing field .*__typename"):
        await Twitch(http).check_live(CHANNEL)


async def test_gql_error_is_unavailable(http) -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        errors = {"errors": [{"message": "service timeout"}]}
        return httpx.Response(200, json=[errors, errors])

    async with httpx.AsyncClient(transport=httpx.MockTransport(failing)) as client:
        status = await Twitch(client).check_live(CHANNEL)
    assert status.result is LiveOutcome.UNAVAILABLE
    assert "service timeout" in status.detail


async def test_server_error_and_refusal_are_unavailable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        if request.url.host == "gql.twitch.tv":
            raise httpx.ConnectError("refused", request=request)
        raise AssertionError(request.url)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as client:
        status = await Twitch(client).check_live(CHANNEL)
    assert status.result is LiveOutcome.UNAVAILABLE


async def test_ended_between_check_and_usher(api, http) -> None:
    live(api)
    extractor = Twitch(http)
    channel = Twitch.channel(CHANNEL)
    checked = await extractor.check(channel)
    api.rooms["abby_"].go_offline()
    with pytest.raises(Outcome) as caught:
        await extractor.resolve(channel, checked)
    assert caught.value.outcome is LiveOutcome.OFFLINE
    assert (await extractor.check_live(CHANNEL)).result is LiveOutcome.OFFLINE


async def test_batch_status(api, http) -> None:
    live(api)
    api.room("other_one", title="later")
    channels = [
        Twitch.channel(f"https://www.twitch.tv/{login}")
        for login in ("abby_", "other_one", "ghost")
    ]
    found = await Twitch(http).check_batch(channels)
    assert [found[k].result for k in ("abby_", "other_one", "ghost")] == [
        LiveOutcome.LIVE,
        LiveOutcome.OFFLINE,
        LiveOutcome.NOT_FOUND,
    ]
    assert found["abby_"].viewers == 3963
    assert len([r for r in api.requests if r.host == "gql.twitch.tv"]) == 1


async def test_danmu_info_is_the_irc_websocket_and_the_login(http) -> None:
    channel = Twitch.channel("https://www.twitch.tv/Abby_")
    info = await Twitch(http).danmu_info(channel)
    assert info is not None
    assert (info.platform, info.room_id) == ("twitch", "abby_")
    assert info.ws_urls == ["wss://irc-ws.chat.twitch.tv:443"]
    codec = codec_for(info.platform)(info)
    assert codec.handshake()[-1] == "JOIN #abby_"
    # the OAuth token stays with GQL: an anonymous read needs nothing
    options = TwitchOptions(oauth_token="secret-token")
    assert (await Twitch(http, options).danmu_info(channel)).token == ""

"""TikTok: URL table, the LIVE check and room info against the fake, outcomes.

Nothing was captured: the fake TikTok (`tests/fakes/platform/tiktok.py`) answers in
the shapes the public extractors read today (each shape's source is in its
docstring), through the real HTTP client and the host-mapping transport.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from activities.contracts import LiveOutcome, StreamKind, StreamSelection
from activities.errors import ExtractorError
from activities.platforms import PlatformOptions
from activities.platforms.tiktok import TikTok
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

    from tests.fakes.platform.tiktok import TikTokApi

CHANNEL = "https://www.tiktok.com/@weathernewslive/live"
FLV = "http://127.0.0.1:9/stage/tiktok-1.flv"
HLS = "http://127.0.0.1:9/stage/tiktok-1/index.m3u8"


class TestUrls(UrlTable):
    extractor = TikTok
    should_match_groups = (
        pytest.param(CHANNEL, "live", {"channel": "weathernewslive"}, id="live"),
        pytest.param(
            "https://www.tiktok.com/@pilar.magenta_1?lang=en",
            "live",
            {"channel": "pilar.magenta_1"},
            id="profile",
        ),
        pytest.param(
            "https://m.tiktok.com/@iris04201/live",
            "live",
            {"channel": "iris04201"},
            id="mobile",
        ),
        pytest.param(
            "https://m.tiktok.com/share/live/7209423610325322522/?language=en",
            "share",
            {"room": "7209423610325322522"},
            id="share",
        ),
        pytest.param(
            "https://vm.tiktok.com/ZMhvqJ8xY/", "short", {"code": "ZMhvqJ8xY"}, id="vm"
        ),
        pytest.param(
            "https://www.tiktok.com/t/ZTRabc123/",
            "short",
            {"code": "ZTRabc123"},
            id="t",
        ),
    )
    should_match = (
        pytest.param("https://tiktok.com/@weathernewslive/live/", id="bare-slash"),
        pytest.param("https://vt.tiktok.com/ZSabcdef/", id="vt"),
    )
    should_not_match = (
        pytest.param("https://www.tiktok.com/", id="root"),
        pytest.param(
            "https://www.tiktok.com/@weathernewslive/video/7206155470149635384",
            id="video",
        ),
        pytest.param("https://www.tiktok.com/live", id="live-feed"),
        pytest.param("https://www.tiktok.com/tag/live", id="tag"),
        pytest.param("https://vm.tiktok.com/", id="short-root"),
        pytest.param("https://www.tiktok.com.evil.example/@a/live", id="lookalike"),
    )


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[TikTokApi]:
    api = fake.tiktok
    yield api
    api.rooms.clear()
    api.shares.clear()
    api.requests.clear()
    api.malformed = False
    api.throttle(0)


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live_room(api: TikTokApi, stream: str = FLV) -> None:
    room = api.room("weathernewslive", title="LIVE天気", author="ウェザーニュースLiVE")
    room.extra.update(room_id="7210809319192726273", start=1678400000)
    room.go_live(stream)


async def test_live_channel(api, http) -> None:
    live_room(api)
    status = await TikTok(http).check_live(CHANNEL)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author, status.viewers) == (
        "LIVE天気",
        "ウェザーニュースLiVE",
        321,
    )
    assert status.started_at == datetime.fromtimestamp(1678400000, UTC)
    assert status.avatar_url.endswith("weathernewslive.jpeg")
    assert status.source is not None
    assert status.source.url.startswith(FLV + "?expire=")
    assert status.source.quality == "Origin 1080p (source)"
    assert status.source.headers["Referer"] == "https://www.tiktok.com/"
    assert status.source.expires_at is not None
    # the room id of this broadcast came with the check
    info = next(r for r in api.requests if r.path == "/webcast/room/info/")
    assert info.arg("room_id") == "7210809319192726273"


async def test_hls_room(api, http) -> None:
    live_room(api, HLS)
    status = await TikTok(http).check_live(CHANNEL, StreamSelection(qualities=["720p"]))
    assert status.source is not None
    assert status.source.kind is StreamKind.HLS
    assert status.source.quality == "HD 720p"


async def test_cookies_reach_the_api_only(api, http) -> None:
    live_room(api)
    options = PlatformOptions(cookies="sessionid=abc")
    status = await TikTok(http, options).check_live(CHANNEL)
    assert all(r.headers.get("Cookie") == "sessionid=abc" for r in api.requests)
    assert status.source is not None
    assert "Cookie" not in status.source.headers


async def test_offline_channel(api, http) -> None:
    api.room("weathernewslive", author="ウェザーニュースLiVE")
    status = await TikTok(http).check_live(CHANNEL)
    assert status.result is LiveOutcome.OFFLINE
    assert status.author == "ウェザーニュースLiVE"
    assert api.calls("/webcast/room/info/") == 0


async def test_missing_user_is_not_found(api, http) -> None:
    status = await TikTok(http).check_live("https://www.tiktok.com/@nobody404/live")
    assert status.result is LiveOutcome.NOT_FOUND
    assert status.result.fatal


async def test_restricted_live_is_age_restricted(api, http) -> None:
    live_room(api)
    api.rooms["weathernewslive"].set_state("age_restricted")
    status = await TikTok(http).check_live(CHANNEL)
    assert status.result is LiveOutcome.AGE_RESTRICTED
    assert "age-restricted" in status.detail


async def test_discontinued_country_is_region_locked(api, http) -> None:
    live_room(api)
    api.rooms["weathernewslive"].set_state("region_locked")
    status = await TikTok(http).check_live(CHANNEL)
    assert status.result is LiveOutcome.REGION_LOCKED


async def test_bot_protection_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await TikTok(http).check_live(CHANNEL)
    assert status.result is LiveOutcome.RATE_LIMITED


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"missing field data\.liveRoom\.status"):
        await TikTok(http).check_live(CHANNEL)


async def test_ended_between_check_and_resolve(api, http) -> None:
    live_room(api)
    extractor = TikTok(http)
    channel = TikTok.channel(CHANNEL)
    assert (await extractor.check(channel)).is_live
    api.rooms["weathernewslive"].go_offline()
    assert (await extractor.check_live(CHANNEL)).result is LiveOutcome.OFFLINE


async def test_short_link_is_followed(api, http) -> None:
    live_room(api)
    api.share("ZMhvqJ8xY", "weathernewslive")
    status = await TikTok(http).check_live("https://vm.tiktok.com/ZMhvqJ8xY/")
    assert status.is_live
    assert status.source is not None


async def test_shared_room_names_its_streamer(api, http) -> None:
    live_room(api)
    url = "https://m.tiktok.com/share/live/7210809319192726273/?language=en"
    status = await TikTok(http).check_live(url)
    assert status.is_live
    user = next(r for r in api.requests if r.path == "/api-live/user/room/")
    assert user.arg("uniqueId") == "weathernewslive"


async def test_unknown_short_link_is_not_found(api, http) -> None:
    status = await TikTok(http).check_live("https://vm.tiktok.com/Nope99999/")
    assert status.result is LiveOutcome.NOT_FOUND


async def test_no_chat_protocol(api, http) -> None:
    assert await TikTok(http).danmu_info(TikTok.channel(CHANNEL)) is None

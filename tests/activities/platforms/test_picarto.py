"""Picarto: URL table, the public API, the edge playlist, outcomes, batch status.

Nothing of Picarto was captured: the API tests run through the real HTTP client
and the host-mapping transport against the fake Picarto
(`tests/fakes/platform/picarto.py`), which answers in the shapes the public clients
read today.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from activities.contracts import LiveOutcome, StreamSelection
from activities.errors import ExtractorError
from activities.platforms._picarto_api import Detail, Details
from activities.platforms.base import PlatformOptions
from activities.platforms.picarto import Picarto
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.picarto import EDGE, PicartoApi

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

NAME = "Example"
ROOM = f"https://picarto.tv/{NAME}"
HLS = "http://127.0.0.1:9/picarto/live.m3u8"


class TestUrls(UrlTable):
    extractor = Picarto
    should_match_groups = (
        pytest.param(ROOM, "live", {"channel": NAME}, id="channel"),
        pytest.param(
            "https://www.picarto.tv/RaptorARTStudios/",
            "live",
            {"channel": "RaptorARTStudios"},
            id="www-slash",
        ),
        pytest.param(
            f"https://picarto.tv/streampopout/{NAME}/public",
            "popout",
            {"channel": NAME},
            id="popout",
        ),
    )
    should_match = (
        pytest.param(f"{ROOM}?tab=about", id="query"),
        pytest.param("http://picarto.tv/some_artist-2#chat", id="fragment"),
    )
    should_not_match = (
        pytest.param("https://picarto.tv/", id="root"),
        pytest.param(f"{ROOM}/videos/771008", id="vod"),
        pytest.param("https://picarto.tv/videopopout/771008", id="vod-popout"),
        pytest.param("https://picarto.tv/explore", id="explore"),
        pytest.param("https://picarto.tv/streampopout/Example", id="popout-no-public"),
        pytest.param("https://picarto.tv.example.com/Example", id="lookalike"),
    )


# --- the documented shapes ----------------------------------------------------------


def test_category_is_a_list_or_one_name() -> None:
    details = Details.model_validate(
        {"user_id": 1, "name": "a", "online": True, "category": "Creative"}
    )
    assert details.category == ["Creative"]


def test_the_channels_own_stream_and_an_https_edge() -> None:
    detail = Detail.model_validate(
        {
            "channel": {"id": 7, "title": "t", "private": False},
            "getMultiStreams": {
                "streams": [
                    {"channelId": 8, "stream_name": "golive+guest"},
                    {"channelId": 7, "stream_name": "golive+host"},
                ]
            },
            "getLoadBalancerUrl": {"url": "http://1-edge5-eu-west.picarto.tv"},
        }
    )
    assert detail.stream_name() == "golive+host"
    assert detail.edge() == "https://1-edge5-eu-west.picarto.tv"


# --- through the real client, against the fake ---------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[PicartoApi]:
    api = fake.apis["picarto"]
    assert isinstance(api, PicartoApi)
    yield api
    api.rooms.clear()
    api.requests.clear()
    api.malformed = False
    api.throttle(0)


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live_room(api: PicartoApi, name: str = NAME, **extra: object) -> None:
    room = api.room(
        name,
        title=" Drawing dragons ",
        category="Creative",
        extra={"viewers": 42, **extra},
    )
    room.go_live(HLS)


async def test_live_channel(api, http) -> None:
    live_room(api, transcodes=True)
    status = await Picarto(http).check_live(ROOM)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author, status.category) == (
        "Drawing dragons",
        NAME,
        "Creative",
    )
    assert status.viewers == 42
    assert status.avatar_url.endswith("/avatar.jpg")
    assert status.cover_url.endswith("_web.jpg")
    assert [(s.quality, s.bitrate_bps) for s in status.streams] == [
        ("1080p", 6_000_000),
        ("720p", 2_500_000),
    ]
    assert status.source is not None
    assert status.source.url == HLS
    assert status.source.codec == "avc1"
    assert [(r.host, r.path) for r in api.requests] == [
        ("api.picarto.tv", f"/api/v1/channel/name/{NAME}"),
        ("ptvintern.picarto.tv", f"/api/channel/detail/{NAME}"),
        (EDGE, f"/stream/hls/golive+{NAME}/index.m3u8"),
    ]


async def test_selection_picks_a_variant(api, http) -> None:
    live_room(api, transcodes=True)
    status = await Picarto(http).check_live(ROOM, StreamSelection(qualities=["720p"]))
    assert status.source is not None
    assert status.source.url == f"{HLS}?variant=720p"


async def test_popout_url(api, http) -> None:
    live_room(api)
    status = await Picarto(http).check_live(
        f"https://picarto.tv/streampopout/{NAME}/public"
    )
    assert status.is_live


async def test_cookies_reach_the_api_not_the_streams(api, http) -> None:
    live_room(api)
    options = PlatformOptions(cookies="ptv_session=1")
    status = await Picarto(http, options).check_live(ROOM)
    assert api.requests[0].headers.get("Cookie") == "ptv_session=1"
    assert status.source is not None
    assert "Cookie" not in status.source.headers


async def test_offline_channel(api, http) -> None:
    api.room(NAME, title="Offline for now")
    status = await Picarto(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert status.title == "Offline for now"
    assert len(api.requests) == 1


async def test_private_stream(api, http) -> None:
    live_room(api)
    api.rooms[NAME].set_state("private")
    status = await Picarto(http).check_live(ROOM)
    assert status.result is LiveOutcome.PRIVATE
    assert status.detail == "Invite only"


async def test_missing_channel_is_not_found(api, http) -> None:
    status = await Picarto(http).check_live("https://picarto.tv/nobody")
    assert status.result is LiveOutcome.NOT_FOUND


async def test_live_without_a_stream_on_the_edge(api, http) -> None:
    live_room(api)
    api.rooms[NAME].stream_url = None  # on air, the edge has nothing yet
    status = await Picarto(http).check_live(ROOM)
    assert status.result is LiveOutcome.UNAVAILABLE
    assert "no stream" in status.detail


async def test_throttled_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await Picarto(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert status.retry_after_secs == 7


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match="missing field online"):
        await Picarto(http).check_live(ROOM)


async def test_batch_status_in_one_request(api, http) -> None:
    live_room(api, "Alice")
    live_room(api, "Bob")
    api.room("Carol")
    channels = [
        Picarto.channel(f"https://picarto.tv/{name}") for name in ("alice", "Carol")
    ]
    found = await Picarto(http).check_batch(channels)
    assert set(found) == {"alice", "Carol"}
    assert found["alice"].result is LiveOutcome.LIVE
    assert (found["alice"].author, found["alice"].category) == ("Alice", "Creative")
    assert found["Carol"].result is LiveOutcome.OFFLINE
    assert [r.path for r in api.requests] == ["/api/v1/online"]
    assert api.requests[0].query == {"adult": ["true"], "gaming": ["true"]}


async def test_batch_status_throttled(api, http) -> None:
    from activities.platforms.base import Outcome

    api.throttle(1)
    with pytest.raises(Outcome) as found:
        await Picarto(http).check_batch([Picarto.channel(ROOM)])
    assert found.value.outcome is LiveOutcome.RATE_LIMITED

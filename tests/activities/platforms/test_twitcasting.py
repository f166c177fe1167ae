"""TwitCasting: URL table, stream list, outcomes, the password, chat.

Nothing of TwitCasting was captured: the API tests run through the real HTTP client
and the host-mapping transport against the fake TwitCasting
(`tests/fakes/platform/twitcasting.py`), which answers in the shapes the public
clients read today.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from activities.contracts import LiveOutcome, StreamKind, StreamSelection
from activities.danmu import codec_for
from activities.errors import ExtractorError
from activities.platforms._twitcasting_api import StreamServer, streams_of
from activities.platforms.base import Outcome
from activities.platforms.twitcasting import TwitCasting, TwitcastingOptions
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.twitcasting import STARTED_AT, TwitcastingApi

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

USER = "c:example"
ROOM = f"https://twitcasting.tv/{USER}"
MOVIE = 812345678
HLS = "http://127.0.0.1:9/tc/live.m3u8"


class TestUrls(UrlTable):
    extractor = TwitCasting
    should_match_groups = (
        pytest.param(ROOM, "live", {"channel": USER}, id="custom-id"),
        pytest.param(
            "https://twitcasting.tv/ivetesangalo",
            "live",
            {"channel": "ivetesangalo"},
            id="twitter-id",
        ),
        pytest.param(
            "https://twitcasting.tv/g:109876543210/",
            "live",
            {"channel": "g:109876543210"},
            id="google-id",
        ),
        pytest.param(
            f"https://twitcasting.tv/example_user/movie/{MOVIE}",
            "movie",
            {"channel": "example_user", "movie": str(MOVIE)},
            id="movie",
        ),
        pytest.param(
            "https://twitcasting.tv/mttbernardini/twplayer/3689740",
            "movie",
            {"channel": "mttbernardini", "movie": "3689740"},
            id="twplayer",
        ),
    )
    should_match = (
        pytest.param("http://www.twitcasting.tv/example?ch=1", id="www-query"),
        pytest.param("https://twitcasting.tv/ig:someone#comments", id="fragment"),
    )
    should_not_match = (
        pytest.param("https://twitcasting.tv/", id="root"),
        pytest.param("https://twitcasting.tv/indexcaslist.php", id="php-page"),
        pytest.param("https://twitcasting.tv/example/show/", id="history"),
        pytest.param("https://twitcasting.tv/example/archive", id="archive"),
        pytest.param("https://twitcasting.tv.example.com/example", id="lookalike"),
        pytest.param("https://twitch.tv/example", id="other-site"),
    )


# --- the stream list, from an answer in the documented shape -------------------------


SERVER = StreamServer.model_validate(
    {
        "movie": {"id": MOVIE, "live": True},
        "tc-hls": {"streams": {"low": "https://h/l.m3u8", "high": "https://h/h.m3u8"}},
        "llfmp4": {"streams": {"base": "wss://w/b", "main": "wss://w/m"}},
    }
)


def test_streams_hls_first_then_websocket_through_streamlink() -> None:
    streams = streams_of(SERVER, {"Referer": "r"}, ROOM, password=None)
    assert [(s.kind, s.quality) for s in streams] == [
        (StreamKind.HLS, "high"),
        (StreamKind.HLS, "low"),
        (StreamKind.STREAMLINK, "ws_main"),
        (StreamKind.STREAMLINK, "ws_base"),
    ]
    assert streams[0].url == "https://h/h.m3u8"
    assert streams[0].headers == {"Referer": "r"}
    assert streams[2].url == ROOM  # streamlink reads the page again


def test_a_password_goes_into_hls_urls_and_keeps_streamlink_out() -> None:
    word = hashlib.md5(b"s3cret").hexdigest()
    streams = streams_of(SERVER, {}, ROOM, password="s3cret")
    assert [s.url for s in streams] == [
        f"https://h/h.m3u8?word={word}",
        f"https://h/l.m3u8?word={word}",
    ]


# --- through the real client, against the fake ---------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[TwitcastingApi]:
    api = fake.apis["twitcasting"]
    assert isinstance(api, TwitcastingApi)
    yield api
    api.rooms.clear()
    api.requests.clear()
    api.tokens.clear()
    api.malformed = False
    api.throttle(0)


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live_room(api: TwitcastingApi, **extra: object) -> None:
    room = api.room(
        USER,
        title="雑談",
        category="雑談",
        extra={"movie_id": MOVIE, "telop": "まったり", "viewers": 321, **extra},
    )
    room.go_live(HLS)


async def test_live_user(api, http) -> None:
    live_room(api)
    status = await TwitCasting(http).check_live(ROOM)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.category) == ("雑談 - まったり", "雑談")
    assert status.viewers == 321
    assert status.started_at == datetime.fromtimestamp(STARTED_AT, UTC)
    assert [s.quality for s in status.streams] == [
        "high", "medium", "low", "ws_main", "ws_mobilesource", "ws_base",
    ]  # fmt: skip
    assert status.source is not None
    assert status.source.kind is StreamKind.HLS
    assert status.source.url == f"{HLS}?mode=high"
    assert status.source.headers["Origin"] == "https://twitcasting.tv"
    served = [(r.method, r.host, r.path) for r in api.requests]
    assert served == [
        ("GET", "twitcasting.tv", "/streamserver.php"),
        ("POST", "twitcasting.tv", "/happytoken.php"),
        ("GET", "frontendapi.twitcasting.tv", f"/movies/{MOVIE}/status/viewer"),
        ("GET", "frontendapi.twitcasting.tv", f"/movies/{MOVIE}/info"),
    ]
    assert api.requests[0].query == {
        "target": [USER], "mode": ["client"], "player": ["pc_web"],
    }  # fmt: skip


async def test_a_movie_url_records_its_users_broadcast(api, http) -> None:
    live_room(api)
    status = await TwitCasting(http).check_live(f"{ROOM}/movie/{MOVIE}")
    assert status.is_live
    assert api.requests[0].arg("target") == USER


async def test_selection_picks_the_websocket_stream(api, http) -> None:
    live_room(api)
    selection = StreamSelection(formats=[StreamKind.STREAMLINK])
    status = await TwitCasting(http).check_live(ROOM, selection)
    assert status.source is not None
    assert (status.source.kind, status.source.quality) == (
        StreamKind.STREAMLINK,
        "ws_main",
    )
    assert status.source.url == ROOM


async def test_offline_user(api, http) -> None:
    api.room(USER, extra={"movie_id": MOVIE})
    status = await TwitCasting(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert status.author == USER
    assert [r.path for r in api.requests] == ["/streamserver.php"]


async def test_a_user_who_never_broadcast_is_offline(api, http) -> None:
    api.room(USER, extra={"never_live": True})
    status = await TwitCasting(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert "not broadcast" in status.detail


async def test_missing_user_is_not_found(api, http) -> None:
    status = await TwitCasting(http).check_live("https://twitcasting.tv/nobody")
    assert status.result is LiveOutcome.NOT_FOUND
    assert [r.path for r in api.requests] == ["/streamserver.php", "/nobody"]


async def test_protected_movie_without_password_is_private(api, http) -> None:
    live_room(api)
    api.rooms[USER].set_state("private")
    status = await TwitCasting(http).check_live(ROOM)
    assert status.result is LiveOutcome.PRIVATE
    assert status.result.fatal
    assert "password" in status.detail


async def test_protected_movie_with_password(api, http) -> None:
    live_room(api)
    api.rooms[USER].set_state("private")
    options = TwitcastingOptions(password="s3cret", cookies="tc_ss=1")
    status = await TwitCasting(http, options).check_live(ROOM)
    assert status.result is LiveOutcome.LIVE
    assert status.title == ""  # the front-end API needs the page's unlock
    word = hashlib.md5(b"s3cret").hexdigest()
    assert [s.url for s in status.streams] == [
        f"{HLS}?mode={name}&word={word}" for name in ("high", "medium", "low")
    ]
    assert all(r.headers.get("Cookie") == "tc_ss=1" for r in api.requests)
    assert status.source is not None
    assert "Cookie" not in status.source.headers


async def test_members_only_movie_is_private(api, http) -> None:
    live_room(api, members_only=True)
    status = await TwitCasting(http).check_live(ROOM)
    assert status.result is LiveOutcome.PRIVATE
    assert "members only" in status.detail
    assert status.title == "雑談 - まったり"


async def test_throttled_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await TwitCasting(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert status.retry_after_secs == 7


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"missing field movie\.live"):
        await TwitCasting(http).check_live(ROOM)


async def test_danmu_info_for_the_twitcasting_codec(api, http) -> None:
    live_room(api)
    options = TwitcastingOptions(password="s3cret")
    info = await TwitCasting(http, options).danmu_info(TwitCasting.channel(ROOM))
    assert (info.platform, info.room_id) == ("twitcasting", str(MOVIE))
    assert info.ws_urls == [f"wss://event.twitcasting.tv/event.pubsub/{MOVIE}?key=fake"]
    [asked] = [r for r in api.requests if r.path == "/eventpubsuburl.php"]
    assert asked.body.decode() == f"movie_id={MOVIE}&password=s3cret"
    codec = codec_for(info.platform)(info)
    assert codec.urls() == info.ws_urls
    assert codec.handshake() == []


async def test_danmu_info_needs_a_live_movie(api, http) -> None:
    api.room(USER, extra={"movie_id": MOVIE})
    with pytest.raises(Outcome) as found:
        await TwitCasting(http).danmu_info(TwitCasting.channel(ROOM))
    assert found.value.outcome is LiveOutcome.OFFLINE

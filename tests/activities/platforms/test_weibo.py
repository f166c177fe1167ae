"""Weibo: URL table, the guest session, posts and broadcast answers, outcomes.

Nothing was captured: the fake Weibo (`tests/fakes/platform/weibo.py`) answers in
the shapes the public extractors read today, through the real HTTP client and the
host-mapping transport; it redirects requests without a session to its passport,
as weibo.com does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from activities.contracts import LiveOutcome, StreamKind
from activities.errors import ExtractorError
from activities.platforms._weibo_api import source_of
from activities.platforms.weibo import Weibo, WeiboOptions
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.weibo import SUB, SUBP

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

    from tests.fakes.platform.weibo import WeiboApi

USER = "https://weibo.com/u/6034381748"
LIVE = "https://weibo.com/l/wblive/p/show/1022:2321325026370190442592"
FLV = "http://127.0.0.1:9/alive/2321325026370190442592.flv"
HLS = "http://127.0.0.1:9/alive/2321325026370190442592.m3u8"


class TestUrls(UrlTable):
    extractor = Weibo
    should_match_groups = (
        pytest.param(USER, "user", {"channel": "6034381748"}, id="user"),
        pytest.param(
            "https://weibo.com/6034381748?refer_flag=1001030103_",
            "user",
            {"channel": "6034381748"},
            id="profile-no-u",
        ),
        pytest.param(
            LIVE, "live", {"channel": "1022:2321325026370190442592"}, id="broadcast"
        ),
        pytest.param(
            "https://m.weibo.cn/u/6034381748",
            "mobile",
            {"channel": "6034381748"},
            id="mobile",
        ),
        pytest.param(
            "https://m.weibo.cn/profile/6034381748",
            "mobile",
            {"channel": "6034381748"},
            id="mobile-profile",
        ),
    )
    should_match = (
        pytest.param("https://www.weibo.com/u/6034381748/", id="www-slash"),
        pytest.param(LIVE + "?from=timeline", id="broadcast-query"),
    )
    should_not_match = (
        pytest.param("https://weibo.com/", id="root"),
        pytest.param("https://weibo.com/7827771738/N4xlMvjhI", id="post"),
        pytest.param("https://weibo.com/hot/search", id="page"),
        pytest.param("https://m.weibo.cn/status/4910815147462302", id="mobile-post"),
        pytest.param("https://weibo.com.evil.example/u/6034381748", id="lookalike"),
    )


def test_source_drops_the_transcode_suffix_and_query() -> None:
    url = "https://live.video.weibocdn.com/abc_wb720.flv?auth_key=1-0-0-x"
    assert source_of(url) == "https://live.video.weibocdn.com/abc.flv"
    assert source_of("https://h/abc.m3u8") == "https://h/abc.m3u8"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[WeiboApi]:
    Weibo.forget()
    api = fake.weibo
    yield api
    api.rooms.clear()
    api.requests.clear()
    api.malformed = False
    api.throttle(0)
    Weibo.forget()


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live_room(api: WeiboApi, stream: str = FLV) -> None:
    room = api.room("6034381748", title="周末直播", author="微博主播")
    room.extra["live_id"] = "1022:2321325026370190442592"
    room.go_live(stream)


async def test_live_streamer_through_a_guest_session(api, http) -> None:
    live_room(api)
    status = await Weibo(http).check_live(USER)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author) == ("周末直播", "微博主播")
    assert status.cover_url.endswith("cover.jpg")
    # the source first, then Weibo's transcode
    assert [(s.quality, s.kind) for s in status.streams] == [
        ("source", StreamKind.FLV),
        ("transcoded", StreamKind.FLV),
    ]
    assert status.source is not None
    assert status.source.url == FLV
    assert status.source.headers["Referer"] == "https://weibo.com/"
    # redirected to the passport, became a guest, asked again with the session
    assert [r.path for r in api.requests] == [
        "/ajax/statuses/mymblog",
        "/visitor/genvisitor",
        "/visitor/visitor",
        "/ajax/statuses/mymblog",
        "/l/pc/anchor/live",
    ]
    assert api.requests[-1].headers["Cookie"] == f"SUB={SUB}; SUBP={SUBP}"


async def test_the_guest_session_is_kept(api, http) -> None:
    live_room(api)
    await Weibo(http).check_live(USER)
    api.requests.clear()
    await Weibo(http).check_live(USER)
    assert api.calls("/visitor/") == 0


async def test_broadcast_url_in_hls_and_without_the_source(api, http) -> None:
    live_room(api, HLS)
    options = WeiboOptions(origin_quality=False, cookies="SUB=mine; SUBP=too")
    status = await Weibo(http, options).check_live(LIVE)
    assert [(s.quality, s.kind) for s in status.streams] == [
        ("transcoded", StreamKind.HLS)
    ]
    # the user's cookies: no guest handshake, no posts lookup
    assert [r.path for r in api.requests] == ["/l/pc/anchor/live"]
    assert api.requests[0].headers["Cookie"] == "SUB=mine; SUBP=too"
    assert status.source is not None
    assert "Cookie" not in status.source.headers


async def test_streamer_without_a_live_post_is_offline(api, http) -> None:
    api.room("6034381748", author="微博主播")
    status = await Weibo(http).check_live(USER)
    assert status.result is LiveOutcome.OFFLINE
    assert api.calls("/l/pc/anchor/live") == 0


async def test_ended_broadcast_is_offline(api, http) -> None:
    api.room(
        "6034381748", title="昨天的直播", author="微博主播", extra={"live_post": 1}
    )
    status = await Weibo(http).check_live(USER)
    assert status.result is LiveOutcome.OFFLINE
    assert (status.title, status.author) == ("昨天的直播", "微博主播")


async def test_missing_broadcast_is_not_found(api, http) -> None:
    status = await Weibo(http).check_live(LIVE)
    assert status.result is LiveOutcome.NOT_FOUND
    assert "does not exists" in status.detail


async def test_unknown_user_is_not_found(api, http) -> None:
    status = await Weibo(http).check_live("https://weibo.com/u/1234567")
    assert status.result is LiveOutcome.NOT_FOUND


async def test_418_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await Weibo(http).check_live(USER)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert "418" in status.detail


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"missing field data\.item\.status"):
        await Weibo(http).check_live(USER)


async def test_refused_user_cookies_say_so(api, http) -> None:
    live_room(api)
    options = WeiboOptions(cookies="SESSION=expired")
    status = await Weibo(http, options).check_live(USER)
    assert status.result is LiveOutcome.UNAVAILABLE
    assert "renew" in status.detail
    # the user's cookies are not silently swapped for a guest session
    assert api.calls("/visitor/") == 0

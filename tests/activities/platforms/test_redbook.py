"""Redbook (Xiaohongshu): URL table, the room page's state against the fake, outcomes.

Nothing was captured: the fake (`tests/fakes/platform/redbook.py`) serves room
pages in the shape the public extractors read today, through the real HTTP client
and the host-mapping transport.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from activities.contracts import LiveOutcome, StreamKind
from activities.errors import ExtractorError
from activities.platforms.redbook import _UNDEFINED, Redbook, RedbookOptions
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

    from tests.fakes.platform.redbook import RedbookApi

ROOM = "https://www.xiaohongshu.com/livestream/569443549099268368"
FLV = "http://127.0.0.1:9/live/569443549099268368.flv"
HLS = "http://127.0.0.1:9/live/569443549099268368.m3u8"


class TestUrls(UrlTable):
    extractor = Redbook
    should_match_groups = (
        pytest.param(ROOM, "live", {"channel": "569443549099268368"}, id="room"),
        pytest.param(
            "https://www.xiaohongshu.com/hina/livestream/569443549099268368"
            "?timestamp=1729227035942&share_source=&host_id=6509435d0000000017023f36",
            "live",
            {"channel": "569443549099268368"},
            id="share-target",
        ),
        pytest.param(
            "https://www.redelight.cn/hina/livestream/569077534207413574/1707413727088"
            "?share_source=&source=share_out_of_app",
            "live",
            {"channel": "569077534207413574"},
            id="redelight-with-timestamp",
        ),
        pytest.param(
            "https://xhslink.com/m/844vKmW30jz",
            "share",
            {"code": "844vKmW30jz"},
            id="m",
        ),
        pytest.param(
            "http://xhslink.com/DEnpCgb", "share", {"code": "DEnpCgb"}, id="old"
        ),
    )
    should_match = (
        pytest.param(
            "https://xiaohongshu.com/livestream/569443549099268368/", id="bare"
        ),
    )
    should_not_match = (
        pytest.param("https://www.xiaohongshu.com/", id="root"),
        pytest.param(
            "https://www.xiaohongshu.com/explore/66f2a3b1000000001e0223d4", id="note"
        ),
        pytest.param(
            "https://www.xiaohongshu.com/user/profile/6509435d0000000017023f36",
            id="profile",
        ),
        pytest.param("https://xhslink.com/", id="share-root"),
        pytest.param(
            "https://www.xiaohongshu.com.evil.example/livestream/1234567",
            id="lookalike",
        ),
    )


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[RedbookApi]:
    api = fake.redbook
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


def live_room(api: RedbookApi, stream: str = FLV) -> None:
    room = api.room("569443549099268368", title="周末穿搭", author="小红薯")
    room.go_live(stream)


async def test_live_room(api, http) -> None:
    live_room(api)
    status = await Redbook(http).check_live(ROOM)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author) == ("周末穿搭", "小红薯")
    assert status.avatar_url.startswith("https://sns-avatar-qc.xhscdn.com/")
    assert status.cover_url.endswith("cover.jpg")
    # H.264 and H.265, each the room's one stream
    assert [(s.codec, s.kind, s.quality) for s in status.streams] == [
        ("avc", StreamKind.FLV, "原画"),
        ("hevc", StreamKind.FLV, "原画"),
    ]
    assert status.source is not None
    assert status.source.url == FLV
    assert status.source.headers["Referer"] == "https://app.xhs.cn/"


async def test_hls_room_without_hevc(api, http) -> None:
    live_room(api, HLS)
    options = RedbookOptions(hevc=False, cookies="web_session=abc")
    status = await Redbook(http, options).check_live(ROOM)
    assert [(s.codec, s.kind) for s in status.streams] == [("avc", StreamKind.HLS)]
    assert api.requests[-1].headers["Cookie"] == "web_session=abc"
    assert status.source is not None
    assert "Cookie" not in status.source.headers


async def test_room_without_pull_config_plays_the_deeplink_flv(api, http) -> None:
    live_room(api)
    api.rooms["569443549099268368"].extra["no_pull_config"] = True
    status = await Redbook(http).check_live(ROOM)
    assert status.source is not None
    assert (status.source.url, status.source.kind) == (FLV, StreamKind.FLV)


async def test_ended_room_is_offline(api, http) -> None:
    api.room("569443549099268368", title="周末穿搭", author="小红薯")
    status = await Redbook(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert status.author == "小红薯"


async def test_replay_is_offline(api, http) -> None:
    live_room(api)
    api.rooms["569443549099268368"].title = "直播回放"
    status = await Redbook(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert "replay" in status.detail


async def test_missing_room_is_not_found(api, http) -> None:
    status = await Redbook(http).check_live(ROOM)
    assert status.result is LiveOutcome.NOT_FOUND
    assert status.detail == "直播间不存在"


async def test_captcha_page_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await Redbook(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert "captcha" in status.detail


async def test_malformed_state_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"missing field liveStream\.liveStatus"):
        await Redbook(http).check_live(ROOM)


async def test_share_link_is_followed(api, http) -> None:
    live_room(api)
    api.share("844vKmW30jz", "569443549099268368")
    status = await Redbook(http).check_live("https://xhslink.com/m/844vKmW30jz")
    assert status.is_live


async def test_unknown_share_link_is_not_found(api, http) -> None:
    status = await Redbook(http).check_live("https://xhslink.com/m/Nope999")
    assert status.result is LiveOutcome.NOT_FOUND


def test_only_bare_undefined_values_become_null() -> None:
    """rust-srec's redbook test: JavaScript `undefined`, not words containing it."""
    page = '{"a":undefined,"name":"xundefinedy","list":[undefined,1],"b": undefined}'
    assert json.loads(_UNDEFINED.sub(r"\1null", page)) == {
        "a": None,
        "name": "xundefinedy",
        "list": [None, 1],
        "b": None,
    }

"""AcFun: URL table, the captured play answer, outcomes, options.

The API tests run through the real HTTP client and the host-mapping transport
against the fake AcFun (`tests/fakes/platform/acfun.py`), which answers with the
captured responses in `tests/resources/platforms/acfun/`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from activities.contracts import LiveOutcome, StreamKind, StreamSelection
from activities.errors import ExtractorError
from activities.platforms.acfun import (
    Acfun,
    _StartPlay,
    _VideoPlayRes,
    _Visitor,
    streams_of,
)
from activities.platforms.base import PlatformOptions
from activities.platforms.web import parse
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.acfun import AcfunApi

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

RESOURCES = Path(__file__).parents[2] / "resources" / "platforms" / "acfun"
ROOM = "https://live.acfun.cn/live/179922"
FLV = "http://127.0.0.1:9/livecloud/kszt_YnEX1FjAS18.flv"


class TestUrls(UrlTable):
    extractor = Acfun
    should_match_groups = (
        pytest.param(ROOM, "live", {"channel": "179922"}, id="room"),
        pytest.param(
            "https://m.acfun.cn/live/detail/179922",
            "mobile",
            {"channel": "179922"},
            id="mobile",
        ),
    )
    should_match = (
        pytest.param("http://live.acfun.cn/live/179922/", id="slash"),
        pytest.param("https://live.acfun.cn/live/179922?shareUid=3", id="share"),
        pytest.param("https://m.acfun.cn/live/179922", id="mobile-short"),
    )
    should_not_match = (
        pytest.param("https://live.acfun.cn/", id="root"),
        pytest.param("https://live.acfun.cn/live/", id="no-uid"),
        pytest.param("https://www.acfun.cn/v/ac12345", id="video"),
        pytest.param("https://www.acfun.cn/u/179922", id="space"),
        pytest.param("https://live.acfun.cn/live/abc", id="not-a-number"),
        pytest.param("https://live.acfun.cn.example.com/live/1", id="lookalike"),
    )


# --- the captured answers, parsed directly ------------------------------------------


def test_captured_start_play() -> None:
    play = parse(_StartPlay, (RESOURCES / "startPlay.live.json").read_bytes(), "x")
    assert play.result == 1
    assert play.data is not None
    assert play.data.caption == "【高级弹幕】挂机播放中......"
    res = parse(_VideoPlayRes, play.data.video_play_res, "videoPlayRes")
    streams = streams_of(res)
    assert [(s.quality, s.bitrate_bps) for s in streams] == [
        ("高清", 1_000_000),
        ("超清", 3_000_000),
    ]
    assert streams[1].url.startswith(
        "https://ali-acfun-adaptive.pull.etoote.com/livecloud/kszt_YnEX1FjAS18.flv"
        "?auth_key=1757015296-0-0-"
    )
    assert streams[1].kind is StreamKind.FLV
    assert streams[1].cdn == "ali-acfun-adaptive"
    # the auth_key starts with the URL's deadline
    assert streams[1].expires_at == datetime.fromtimestamp(1757015296, UTC)


def test_captured_visitor_login() -> None:
    visitor = parse(_Visitor, (RESOURCES / "visitor_login.json").read_bytes(), "x")
    assert (visitor.result, visitor.user_id) == (0, 1000000243185670)
    assert visitor.visitor_st


def test_a_manifest_without_representations_names_the_field() -> None:
    body = json.dumps({"liveAdaptiveManifest": [{"adaptationSet": {}}]})
    with pytest.raises(ExtractorError, match="representation"):
        parse(_VideoPlayRes, body, "acfun videoPlayRes")


# --- through the real client, against the fake ---------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[AcfunApi]:
    api = fake.apis["acfun"]
    assert isinstance(api, AcfunApi)
    yield api
    api.rooms.clear()
    api.requests.clear()
    api.visitors.clear()
    api.malformed = False
    api.throttle(0)


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live_room(api: AcfunApi) -> None:
    api.room("179922", title="挂机播放中", author="AC娘").go_live(FLV)


async def test_live_room(api, http) -> None:
    live_room(api)
    status = await Acfun(http).check_live(ROOM)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author) == ("挂机播放中", "AC娘")
    assert status.avatar_url.endswith("/179922.jpg")
    assert status.started_at == datetime.fromtimestamp(1754396590.405, UTC)
    assert status.source is not None
    # the best of the two qualities
    assert status.source.quality == "超清"
    assert status.source.url.startswith(FLV + "?auth_key=")
    assert status.source.kind is StreamKind.FLV
    assert status.source.expires_at is not None
    assert status.source.headers["Referer"] == "https://live.acfun.cn/"
    assert [r.path for r in api.requests] == [
        "/rest/pc-direct/user/userInfo",
        "/rest/app/visitor/login",
        "/rest/zt/live/web/startPlay",
    ]
    play = api.requests[-1]
    assert (play.arg("kpn"), play.arg("kpf"), play.arg("subBiz")) == (
        "ACFUN_APP",
        "PC_WEB",
        "mainApp",
    )
    assert play.arg("did").startswith("web_")
    assert b"pullStreamType=FLV" in play.body


async def test_selection_picks_a_quality(api, http) -> None:
    live_room(api)
    status = await Acfun(http).check_live(ROOM, StreamSelection(qualities=["高清"]))
    assert status.source is not None
    assert status.source.quality == "高清"


async def test_cookies_reach_the_api_not_the_streams(api, http) -> None:
    live_room(api)
    status = await Acfun(http, PlatformOptions(cookies="auth_key=1")).check_live(ROOM)
    assert api.requests[0].headers.get("Cookie") == "auth_key=1"
    assert status.source is not None
    assert "Cookie" not in status.source.headers


async def test_offline_room(api, http) -> None:
    api.room("179922", author="AC娘")
    status = await Acfun(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert status.author == "AC娘"
    assert api.calls("startPlay") == 0


async def test_ended_between_profile_and_play(api, http) -> None:
    live_room(api)
    api.rooms["179922"].stream_url = None
    status = await Acfun(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert "startPlay" in status.detail


async def test_missing_user_is_not_found(api, http) -> None:
    status = await Acfun(http).check_live("https://live.acfun.cn/live/404404")
    assert status.result is LiveOutcome.NOT_FOUND
    assert status.result.fatal


async def test_throttled_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await Acfun(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert status.retry_after_secs == 7


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match="missing field result"):
        await Acfun(http).check_live(ROOM)

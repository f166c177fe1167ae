"""Bilibili: URL table, WBI against the documented pair, captured answers, outcomes.

The API tests run through the real HTTP client and the host-mapping transport
against the fake Bilibili (`tests/fakes/platform/bilibili.py`), which answers with
the captured responses in `tests/resources/platforms/bilibili/`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from activities.contracts import LiveOutcome, StreamKind, StreamSelection
from activities.danmu.bilibili import unpack
from activities.danmu.registry import codec_for
from activities.errors import ExtractorError
from activities.platforms._bilibili_api import (
    ByUidReply,
    InitReply,
    PlayReply,
    mixin_key,
    streams_of,
    wbi_sign,
)
from activities.platforms.base import Outcome
from activities.platforms.bilibili import Bilibili, BilibiliOptions
from activities.platforms.web import parse
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

    from tests.fakes.platform.bilibili import BilibiliApi

RESOURCES = Path(__file__).parents[2] / "resources" / "platforms" / "bilibili"
ROOM = "https://live.bilibili.com/23058"
FLV = "http://127.0.0.1:9/live-bvc/live_23058.flv"
HLS = "http://127.0.0.1:9/live-bvc/live_23058/index.m3u8"


class TestUrls(UrlTable):
    extractor = Bilibili
    should_match_groups = (
        pytest.param(ROOM, "live", {"channel": "23058"}, id="room"),
        pytest.param(
            "https://live.bilibili.com/3?spm_id_from=333.1007.0.0",
            "live",
            {"channel": "3"},
            id="short-id-query",
        ),
        pytest.param(
            "https://live.bilibili.com/blanc/23058",
            "live",
            {"channel": "23058"},
            id="blanc",
        ),
        pytest.param(
            "https://live.bilibili.com/h5/23058",
            "mobile",
            {"channel": "23058"},
            id="h5",
        ),
        pytest.param("https://b23.tv/AbCd123", "share", {"code": "AbCd123"}, id="b23"),
        pytest.param(
            "https://bili2233.cn/xYz9876?share_medium=android",
            "share",
            {"code": "xYz9876"},
            id="bili2233",
        ),
    )
    should_match = (
        pytest.param("http://live.bilibili.com/23058/", id="http-slash"),
        pytest.param("https://www.live.bilibili.com/23058", id="www"),
        pytest.param("https://live.bilibili.com/23058#anchor", id="fragment"),
    )
    should_not_match = (
        pytest.param("https://live.bilibili.com/", id="root"),
        pytest.param("https://live.bilibili.com/p/eden/area-tags", id="page"),
        pytest.param("https://www.bilibili.com/video/BV1xx411c7mD", id="video"),
        pytest.param("https://space.bilibili.com/11153765", id="space"),
        pytest.param("https://live.bilibili.com/abc", id="not-a-number"),
        pytest.param("https://b23.tv/", id="b23-root"),
        pytest.param("https://live.bilibili.com.evil.example/1", id="lookalike"),
    )


# --- WBI --------------------------------------------------------------------------


def test_wbi_matches_the_documented_pair() -> None:
    """bilibili-API-collect's worked example (docs/misc/sign/wbi.md)."""
    mixin = mixin_key(
        "7cd084941338484aae1ad9425b84077c", "4932caff0ff746eab6f01bf08b70ac45"
    )
    assert mixin == "ea1db124af3c7062474693fa704f4ff8"
    signed = wbi_sign({"foo": "114", "bar": "514", "zab": 1919810}, mixin, 1702204169)
    assert signed["wts"] == "1702204169"
    assert signed["w_rid"] == "8f6f2b5b3d485fe1886cec6a0be8c5d4"


def test_wbi_drops_the_characters_the_web_drops() -> None:
    mixin = "ea1db124af3c7062474693fa704f4ff8"
    assert wbi_sign({"q": "a!b'c(d)e*"}, mixin, 1) == wbi_sign({"q": "abcde"}, mixin, 1)


# --- the captured answers, parsed directly ------------------------------------------


def captured(name: str) -> bytes:
    return (RESOURCES / name).read_bytes()


def test_captured_room_init() -> None:
    reply = parse(InitReply, captured("room_init.live.json"), "room_init")
    assert reply.data is not None
    assert (reply.data.room_id, reply.data.short_id, reply.data.uid) == (
        14073662,
        76,
        50333369,
    )
    assert reply.data.live_status == 1


def test_captured_status_by_uids_is_a_rotation() -> None:
    reply = parse(ByUidReply, captured("get_status_info_by_uids.rotation.json"), "x")
    assert isinstance(reply.data, dict)
    room = reply.data["672328094"]
    assert (room.room_id, room.live_status, room.uname) == (
        22637261,
        2,
        "嘉然今天吃什么",
    )


def test_captured_play_info_lists_every_stream() -> None:
    reply = parse(PlayReply, captured("getRoomPlayInfo.live.json"), "play info")
    assert reply.data is not None
    assert reply.data.playurl_info is not None
    streams = streams_of(reply.data.playurl_info.playurl)
    # FLV on one host, HLS-TS on one, HLS-fMP4 on two
    assert [(s.kind, s.container) for s in streams] == [
        (StreamKind.FLV, "flv"),
        (StreamKind.HLS, "ts"),
        (StreamKind.HLS, "fmp4"),
        (StreamKind.HLS, "fmp4"),
    ]
    flv = streams[0]
    assert flv.url.startswith(
        "https://cn-hbcd-cu-02-20.bilivideo.com/live-bvc/462997/live_11153765_9369560"
        ".flv?expires=1674103815&"
    )
    assert (flv.quality, flv.codec, flv.cdn) == ("原画", "avc", "cn-gotcha01")
    assert flv.expires_at == datetime.fromtimestamp(1674103815, UTC)
    assert flv.headers["Referer"] == "https://live.bilibili.com/"
    assert [s.cdn for s in streams[2:]] == ["cn-gotcha01", "cn-gotcha208"]


# --- through the real client, against the fake ---------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[BilibiliApi]:
    api = fake.bilibili
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


def live_room(api: BilibiliApi, stream: str = FLV) -> None:
    room = api.room(
        "23058", title="哔哩哔哩音悦台", author="3号直播间", category="唱见电台"
    )
    room.extra.update(uid=11153765, short_id=3)
    room.go_live(stream)


async def test_live_room_by_short_id(api, http) -> None:
    live_room(api)
    status = await Bilibili(http).check_live("https://live.bilibili.com/3")
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author, status.category) == (
        "哔哩哔哩音悦台",
        "3号直播间",
        "唱见电台",
    )
    assert status.viewers == 1234
    assert status.started_at == datetime.fromtimestamp(1602151186, UTC)
    assert status.source is not None
    assert status.source.url.startswith(FLV + "?expires=")
    assert status.source.kind is StreamKind.FLV
    assert (status.source.quality, status.source.cdn) == ("原画", "fake01")
    assert status.source.channel_url == "https://live.bilibili.com/3"
    assert status.source.expires_at is not None
    # the fake refuses a getRoomPlayInfo without a valid WBI signature
    assert api.calls("getRoomPlayInfo") == 1
    assert api.calls("/x/web-interface/nav") == 1


async def test_hls_room_and_the_options_reach_the_api(api, http) -> None:
    live_room(api, HLS)
    options = BilibiliOptions(quality=400, hevc=False, cookies="SESSDATA=abc")
    status = await Bilibili(http, options).check_live(ROOM)
    assert status.source is not None
    assert status.source.kind is StreamKind.HLS
    play = next(r for r in api.requests if "getRoomPlayInfo" in r.path)
    assert (play.arg("qn"), play.arg("codec"), play.arg("room_id")) == (
        "400",
        "0",
        "23058",
    )
    assert play.headers.get("Cookie") == "SESSDATA=abc"
    # credentials go to the API, never into the stream's headers
    assert "Cookie" not in status.source.headers


async def test_offline_room(api, http) -> None:
    api.room("23058", extra={"uid": 11153765})
    status = await Bilibili(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert status.source is None
    assert api.calls("getRoomPlayInfo") == 0


async def test_missing_room_is_not_found(api, http) -> None:
    status = await Bilibili(http).check_live("https://live.bilibili.com/404404")
    assert status.result is LiveOutcome.NOT_FOUND
    assert status.result.fatal


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        pytest.param("banned", LiveOutcome.BANNED, id="locked"),
        pytest.param("hidden", LiveOutcome.PRIVATE, id="hidden"),
        pytest.param("private", LiveOutcome.PRIVATE, id="password"),
    ],
)
async def test_room_flags(api, http, state: str, outcome: LiveOutcome) -> None:
    api.room("23058").set_state(state)
    status = await Bilibili(http).check_live(ROOM)
    assert status.result is outcome
    assert status.result.fatal


async def test_throttled_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await Bilibili(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert "412" in status.detail


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"missing field data\.live_status"):
        await Bilibili(http).check_live(ROOM)


async def test_went_offline_between_check_and_resolve(api, http) -> None:
    live_room(api)
    extractor = Bilibili(http)
    channel = Bilibili.channel(ROOM)
    status = await extractor.check(channel)
    api.rooms["23058"].go_offline()
    assert status.is_live
    found = await extractor.check_live(ROOM)
    assert found.result is LiveOutcome.OFFLINE


async def test_share_link_is_followed(api, http) -> None:
    live_room(api)
    api.share("AbCd123", "23058")
    status = await Bilibili(http).check_live("https://b23.tv/AbCd123")
    assert status.is_live
    assert status.source is not None


async def test_unknown_share_link_is_not_found(api, http) -> None:
    status = await Bilibili(http).check_live("https://b23.tv/Nope999")
    assert status.result is LiveOutcome.NOT_FOUND


async def test_selection_picks_among_the_offer(api, http) -> None:
    live_room(api)
    selection = StreamSelection(formats=[StreamKind.HLS])
    status = await Bilibili(http).check_live(ROOM, selection)
    # the fake offers the room's one stream; the picker still ranks by transport
    assert status.source is not None
    assert [s.kind for s in status.streams] == [StreamKind.FLV]


async def test_batch_status_in_one_request(api, http) -> None:
    live_room(api)
    api.room("5440", title="rotation", extra={"uid": 9617619})
    channels = [Bilibili.channel(u) for u in (ROOM, "https://live.bilibili.com/5440")]
    extractor = Bilibili(http)
    found = await extractor.check_batch(channels)
    assert found["23058"].result is LiveOutcome.LIVE
    assert found["23058"].title == "哔哩哔哩音悦台"
    assert found["5440"].result is LiveOutcome.OFFLINE
    # uids are learned once; the next batch is a single request
    api.requests.clear()
    await extractor.check_batch(channels)
    assert [r.path for r in api.requests] == ["/room/v1/Room/get_status_info_by_uids"]


async def test_batch_reports_missing_rooms(api, http) -> None:
    live_room(api)
    channels = [Bilibili.channel(u) for u in (ROOM, "https://live.bilibili.com/77")]
    found = await Bilibili(http).check_batch(channels)
    assert found["77"].result is LiveOutcome.NOT_FOUND
    assert found["23058"].is_live


def test_empty_batch_answer_is_a_list() -> None:
    body = json.dumps({"code": 0, "message": "success", "data": []})
    assert parse(ByUidReply, body, "x").data == []


async def test_risk_control_drops_the_cached_wbi_keys(api, http) -> None:
    live_room(api)
    assert (await Bilibili(http).check_live(ROOM)).is_live
    assert Bilibili._wbi is not None
    real = Bilibili._wbi
    Bilibili._wbi = ("0" * 32, real[1])  # keys rotated since
    status = await Bilibili(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert "风控" in status.detail
    # the next check fetches the keys again and signs right
    assert (await Bilibili(http).check_live(ROOM)).is_live
    assert api.calls("/x/web-interface/nav") == 2


async def test_danmu_info_names_the_real_room_and_its_hosts(api, http) -> None:
    live_room(api)
    options = BilibiliOptions(cookies="SESSDATA=abc; DedeUserID=42; buvid3=b3")
    info = await Bilibili(http, options).danmu_info(
        Bilibili.channel("https://live.bilibili.com/3")
    )
    assert info is not None
    # the short id 3 is joined as the real room id, as the chat protocol wants
    assert (info.platform, info.room_id) == ("bilibili", "23058")
    assert info.token == "fake-danmu-token-23058"
    assert info.ws_urls == [
        "wss://tx-sh-live-comet-01.chat.bilibili.com:443/sub",
        "wss://broadcastlv.chat.bilibili.com:443/sub",
    ]
    # the cookie rides along for the codec (uid, buvid3) and never shows in repr
    assert info.cookie == "SESSDATA=abc; DedeUserID=42; buvid3=b3"
    assert "SESSDATA" not in repr(info)
    # WBI-signed: the fake refuses an unsigned getDanmuInfo
    assert api.calls("getDanmuInfo") == 1


async def test_danmu_info_feeds_the_bilibili_codec(api, http) -> None:
    live_room(api)
    info = await Bilibili(http).danmu_info(Bilibili.channel(ROOM))
    assert info is not None
    codec = codec_for(info.platform)(info)
    handshake = codec.handshake()[0]
    assert isinstance(handshake, bytes)
    auth = json.loads(unpack(handshake)[0][1])
    assert (auth["roomid"], auth["key"], auth["uid"]) == (
        23058,
        "fake-danmu-token-23058",
        0,
    )
    assert codec.urls() == info.ws_urls


async def test_danmu_info_of_a_missing_room_is_an_outcome(api, http) -> None:
    extractor = Bilibili(http)
    with pytest.raises(Outcome) as found:
        await extractor.danmu_info(Bilibili.channel("https://live.bilibili.com/404"))
    assert found.value.outcome is LiveOutcome.NOT_FOUND


async def test_a_kept_extractor_sees_the_room_go_live_after_a_batch(api, http) -> None:
    # the poller keeps one extractor per streamer: the batch learns the uid
    # through room_init while the room is offline; the live check after the
    # batch's LIVE answer must not reuse that offline room_init
    room = api.room("23058", title="哔哩哔哩音悦台", author="3号直播间")
    room.extra.update(uid=11153765, short_id=3)
    channel = Bilibili.channel(ROOM)
    extractor = Bilibili(http)
    assert (await extractor.check_batch([channel]))["23058"].result is (
        LiveOutcome.OFFLINE
    )
    room.go_live(FLV)
    assert (await extractor.check_batch([channel]))["23058"].is_live
    status = await extractor.check_live(ROOM)
    assert status.is_live
    assert [s.kind for s in status.streams] == [StreamKind.FLV]

"""Huya: URL table, the anti-code, the captured answers, outcomes, options, chat.

The API tests run through the real HTTP client and the host-mapping transport
against the fake Huya (`tests/fakes/platform/huya.py`), which answers with the
captured responses in `tests/resources/platforms/huya/`.
"""

from __future__ import annotations

import hashlib
import json
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from activities.contracts import LiveOutcome, StreamKind, StreamSelection
from activities.danmu import codec_for
from activities.errors import ExtractorError
from activities.platforms._huya_api import (
    Reply,
    Room,
    RoomData,
    anti_code,
    convert_uid,
    streams_of,
)
from activities.platforms.huya import Huya, HuyaOptions
from activities.platforms.web import parse
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.huya import HuyaApi

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

RESOURCES = Path(__file__).parents[2] / "resources" / "platforms" / "huya"
ROOM = "https://www.huya.com/660000"
FLV = "http://127.0.0.1:9/src/1346609715-1346609715-5783.flv"
# the captured answer's anti-code: `fm` is base64 of "DWq8BcJ3h6DJt6TY_$0_$1_$2_$3"
CAPTURED_CODE = (
    "wsSecret=ea1ab14153786e06041401c7e078270c&wsTime=68679650"
    "&fm=RFdxOEJjSjNoNkRKdDZUWV8kMF8kMV8kMl8kMw%3D%3D&ctype=tars_mp&fs=bgct&t=102"
)
STREAM_NAME = "78941969-2559461593-10992803837303062528-2693342886-10057-A-0-1"


class TestUrls(UrlTable):
    extractor = Huya
    should_match_groups = (
        pytest.param(ROOM, "live", {"channel": "660000"}, id="number"),
        pytest.param(
            "https://www.huya.com/lpl", "live", {"channel": "lpl"}, id="alias"
        ),
        pytest.param(
            "https://m.huya.com/660000?shareid=123&shareUid=4",
            "mobile",
            {"channel": "660000"},
            id="mobile-share",
        ),
    )
    should_match = (
        pytest.param("http://huya.com/660000/", id="bare-slash"),
        pytest.param("https://www.huya.com/xiaoyugame#chat", id="fragment"),
        pytest.param("https://m.huya.com/lpl", id="mobile-alias"),
    )
    should_not_match = (
        pytest.param("https://www.huya.com/", id="root"),
        pytest.param("https://www.huya.com/g/lol", id="category"),
        pytest.param("https://www.huya.com/g", id="category-root"),
        pytest.param("https://www.huya.com/video/play/1002412640.html", id="video"),
        pytest.param("https://www.huya.com/660000/extra", id="deeper"),
        pytest.param("https://www.huya.com.example.com/660000", id="lookalike"),
        pytest.param("https://v.huya.com/play/1.html", id="vod-host"),
    )


# --- the anti-code ------------------------------------------------------------------


def test_convert_uid_rotates_the_low_32_bits() -> None:
    assert convert_uid(0x12345678) == 0x34567812
    # a uid beyond 32 bits keeps its high part (rust-srec's rotl64, yt-dlp's u)
    assert convert_uid(0x1_12345678) == 0x1_34567812


def test_anti_code_against_the_documented_computation() -> None:
    """The published recipe, expanded by hand with the captured `fm` template."""
    uid, now = 1346609715, 1751532750.25
    query = dict(parse_qsl(anti_code(STREAM_NAME, CAPTURED_CODE, uid, now)))
    seqid = uid + 1751532750250
    u = convert_uid(uid)
    digest = hashlib.md5(f"{seqid}|tars_mp|102".encode()).hexdigest()
    expected = hashlib.md5(
        f"DWq8BcJ3h6DJt6TY_{u}_{STREAM_NAME}_{digest}_68679650".encode()
    ).hexdigest()
    assert query == {
        "wsSecret": expected,
        "wsTime": "68679650",  # the server's deadline is kept
        "seqid": str(seqid),
        "ctype": "tars_mp",
        "ver": "1",
        "fs": "bgct",
        "fm": "RFdxOEJjSjNoNkRKdDZUWV8kMF8kMV8kMl8kMw==",
        "t": "102",
        "u": str(u),
    }


def test_anti_code_matches_streamlinks_implementation(monkeypatch) -> None:
    """streamlink's Huya plugin signs independently of us: same inputs, same secret."""
    from streamlink.plugins import huya as streamlink_huya

    uid, now = 12345678, 1751532750.5
    monkeypatch.setattr(
        streamlink_huya, "random", types.SimpleNamespace(randint=lambda *_: uid)
    )
    monkeypatch.setattr(
        streamlink_huya, "time", types.SimpleNamespace(time=lambda: now)
    )
    web_code = "wsTime=686639ce&fm=RFdxOEJjSjNoNkRKdDZUWV8kMF8kMV8kMl8kMw%3D%3D&fs=bgct"
    # an instance method that reads only class constants: called on the class
    sign: Any = streamlink_huya.Huya._get_stream_params
    theirs = sign(
        streamlink_huya.Huya,
        "RFdxOEJjSjNoNkRKdDZUWV8kMF8kMV8kMl8kMw%3D%3D",
        "bgct",
        "huya_live",
        "686639ce",
        STREAM_NAME,
        0,
    )
    ours = dict(
        parse_qsl(anti_code(STREAM_NAME, web_code + "&ctype=huya_live", uid, now))
    )
    assert ours["wsSecret"] == theirs["wsSecret"]
    assert (ours["seqid"], ours["u"]) == (str(theirs["seqid"]), str(theirs["u"]))


def test_anti_code_without_a_template_is_kept() -> None:
    assert anti_code("x", "wsSecret=a&wsTime=b", 1, 1.0) == "wsSecret=a&wsTime=b"


def test_anti_code_with_a_broken_template_says_so() -> None:
    with pytest.raises(ExtractorError, match="fm is not base64"):
        anti_code("x", "fm=%%%&ctype=tars_mp", 1, 1.0)


# --- the captured answers, parsed directly ------------------------------------------


def captured_room() -> Room:
    reply = parse(Reply, (RESOURCES / "huya_live.json").read_bytes(), "profileRoom")
    assert isinstance(reply.data, Room)
    return reply.data


def test_captured_profile_room() -> None:
    room = captured_room()
    assert room.is_live
    assert not room.is_replay
    assert (room.profile.uid, room.profile.nick) == (1346609715, "虎牙英雄联盟赛事")
    assert room.live is not None
    assert room.live.user_count == 2200502
    assert [r.name for r in room.live.bit_rate_info] == [
        "蓝光10M",
        "蓝光4M",
        "超清",
        "流畅",
    ]


def test_captured_streams_every_cdn_quality_and_transport() -> None:
    streams = streams_of(captured_room(), {"Referer": "https://www.huya.com/"})
    # 6 CDNs x 4 qualities x FLV/HLS, the platform's preferred CDN (HS, 42) first
    assert len(streams) == 48
    first = streams[0]
    assert (first.cdn, first.kind, first.quality) == ("HS", StreamKind.FLV, "蓝光10M")
    assert first.bitrate_bps == 10_000_000  # the source: liveData.bitRate
    assert first.url == (
        f"http://hs.flv.huya.com/src/{STREAM_NAME}-imgplus.flv?{CAPTURED_CODE}"
    )
    assert first.expires_at == datetime.fromtimestamp(0x68679650, UTC)
    four_m = streams[1]
    assert (four_m.quality, four_m.bitrate_bps) == ("蓝光4M", 4_000_000)
    assert four_m.url.endswith("&ratio=4000")
    assert [s.cdn for s in streams[::8]] == ["HS", "TX", "TX15", "AL", "AL13", "HYZJ"]


def test_captured_streams_for_the_source_are_signed_again() -> None:
    streams = streams_of(captured_room(), {}, origin=True, uid=12345678, now=1.75e9)
    url = urlsplit(streams[0].url)
    assert url.path == f"/src/{STREAM_NAME}.flv"
    query = dict(parse_qsl(url.query))
    assert query["wsSecret"] != "ea1ab14153786e06041401c7e078270c"
    assert query["u"] == str(convert_uid(12345678))


def test_captured_room_page_data() -> None:
    data = json.loads((RESOURCES / "huya_room_data_live.json").read_text())
    page = RoomData.model_validate(data)
    assert (page.state, page.profile_room) == ("ON", 660000)


# --- through the real client, against the fake ---------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[HuyaApi]:
    api = fake.apis["huya"]
    assert isinstance(api, HuyaApi)
    yield api
    api.rooms.clear()
    api.requests.clear()
    api.malformed = False
    api.throttle(0)


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live_room(api: HuyaApi, **extra: object) -> None:
    room = api.room(
        "660000",
        title="MSI淘汰赛",
        author="虎牙英雄联盟赛事",
        category="英雄联盟",
        extra={"alias": "lpl", "uid": 1346609715, **extra},
    )
    room.go_live(FLV)


async def test_live_room(api, http) -> None:
    live_room(api)
    status = await Huya(http).check_live(ROOM)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author, status.category) == (
        "MSI淘汰赛",
        "虎牙英雄联盟赛事",
        "英雄联盟",
    )
    assert status.viewers == 2200502
    assert status.started_at == datetime.fromtimestamp(1736665662, UTC)
    assert len(status.streams) == 48
    assert status.source is not None
    assert (status.source.kind, status.source.quality) == (StreamKind.FLV, "蓝光10M")
    assert status.source.url.startswith(FLV + "?wsSecret=")
    assert status.source.expires_at is not None
    assert status.source.headers["Referer"] == "https://www.huya.com/"
    # one answer holds status and streams
    assert [r.path for r in api.requests] == ["/cache.php"]
    assert api.requests[0].arg("roomid") == "660000"


async def test_alias_is_resolved_through_the_room_page(api, http) -> None:
    live_room(api)
    status = await Huya(http).check_live("https://m.huya.com/lpl")
    assert status.is_live
    assert [(r.host, r.path) for r in api.requests] == [
        ("www.huya.com", "/lpl"),
        ("mp.huya.com", "/cache.php"),
    ]


async def test_selection_picks_cdn_quality_and_transport(api, http) -> None:
    live_room(api)
    selection = StreamSelection(
        qualities=["超清"], formats=[StreamKind.HLS], cdns=["TX"]
    )
    status = await Huya(http).check_live(ROOM, selection)
    assert status.source is not None
    assert (status.source.cdn, status.source.quality) == ("TX", "超清")
    assert status.source.kind is StreamKind.HLS
    assert status.source.url.endswith("&ratio=2000")


async def test_force_origin_drops_imgplus_and_signs_again(api, http) -> None:
    live_room(api, imgplus=True)
    plain = await Huya(http).check_live(ROOM)
    assert plain.source is not None
    assert "-imgplus.flv?" in plain.source.url
    origin = await Huya(http, HuyaOptions(force_origin=True)).check_live(ROOM)
    assert origin.source is not None
    url = urlsplit(origin.source.url)
    assert url.path.endswith("5783.flv")
    query = dict(parse_qsl(url.query))
    assert {"seqid", "u", "ctype", "t"} <= query.keys()
    assert (
        query["wsSecret"]
        != dict(parse_qsl(urlsplit(plain.source.url).query))["wsSecret"]
    )


async def test_cookies_reach_the_api_not_the_streams(api, http) -> None:
    live_room(api)
    status = await Huya(http, HuyaOptions(cookies="udb_uid=1")).check_live(ROOM)
    assert api.requests[0].headers.get("Cookie") == "udb_uid=1"
    assert status.source is not None
    assert "Cookie" not in status.source.headers


async def test_offline_room(api, http) -> None:
    api.room("660000", title="下播了", extra={"uid": 1346609715})
    status = await Huya(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert status.title == "下播了"
    assert status.source is None


async def test_replay_is_offline(api, http) -> None:
    api.room("660000", title="【回放】决赛", extra={"uid": 1}).go_live(FLV)
    status = await Huya(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert "replay" in status.detail


async def test_missing_room_is_not_found(api, http) -> None:
    status = await Huya(http).check_live("https://www.huya.com/404404")
    assert status.result is LiveOutcome.NOT_FOUND
    assert "该主播不存在" in status.detail


async def test_missing_alias_is_not_found(api, http) -> None:
    status = await Huya(http).check_live("https://www.huya.com/nobody")
    assert status.result is LiveOutcome.NOT_FOUND


async def test_banned_room_page(api, http) -> None:
    live_room(api)
    api.rooms["660000"].set_state("banned")
    status = await Huya(http).check_live("https://www.huya.com/lpl")
    assert status.result is LiveOutcome.BANNED
    assert status.result.fatal


async def test_throttled_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await Huya(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert status.retry_after_secs == 7


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"missing field data\.liveStatus"):
        await Huya(http).check_live(ROOM)


async def test_danmu_info_for_the_huya_codec(api, http) -> None:
    live_room(api)
    info = await Huya(http, HuyaOptions(cookies="udb_uid=1")).danmu_info(
        Huya.channel("https://www.huya.com/lpl")
    )
    assert (info.platform, info.room_id) == ("huya", "1346609715")
    assert info.params == {"top_sid": "1346609715", "sub_sid": "1346609715"}
    assert info.cookie == "udb_uid=1"
    codec = codec_for(info.platform)(info)
    assert len(codec.handshake()) == 1
    assert codec.heartbeat()


async def test_danmu_info_of_a_missing_room_is_an_outcome(api, http) -> None:
    from activities.platforms.base import Outcome

    with pytest.raises(Outcome) as found:
        await Huya(http).danmu_info(Huya.channel("https://www.huya.com/404404"))
    assert found.value.outcome is LiveOutcome.NOT_FOUND

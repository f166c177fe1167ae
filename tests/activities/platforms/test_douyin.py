"""Douyin: URL table, signatures against documented pairs, captured answers, outcomes.

The API tests run through the real HTTP client and the host-mapping transport
against the fake Douyin (`tests/fakes/platform/douyin.py`), which answers with the
captured responses in `tests/resources/platforms/douyin/` and refuses requests
whose a_bogus does not sign their query or that carry no ttwid.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest

from activities.contracts import LiveOutcome, StreamKind, StreamSelection
from activities.danmu.registry import codec_for
from activities.errors import ExtractorError
from activities.platforms import _douyin_sign as sign
from activities.platforms._douyin_api import HEADERS, EnterReply
from activities.platforms.base import Outcome
from activities.platforms.douyin import Douyin, DouyinOptions, _status
from activities.platforms.web import parse
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.douyin import TTWID

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

    from tests.fakes.platform.douyin import DouyinApi

RESOURCES = Path(__file__).parents[2] / "resources" / "platforms" / "douyin"
ROOM = "https://live.douyin.com/745964462470"
FLV = "http://127.0.0.1:9/stage/stream-1.flv"
HLS = "http://127.0.0.1:9/stage/stream-1.m3u8"


class TestUrls(UrlTable):
    extractor = Douyin
    should_match_groups = (
        pytest.param(ROOM, "live", {"channel": "745964462470"}, id="room"),
        pytest.param(
            "https://live.douyin.com/PenguinVal?enter_from_merge=web_search",
            "live",
            {"channel": "PenguinVal"},
            id="named-room-query",
        ),
        pytest.param(
            "https://www.douyin.com/root/live/745964462470",
            "web",
            {"channel": "745964462470"},
            id="web-root",
        ),
        pytest.param(
            "https://www.douyin.com/follow/live/745964462470",
            "web",
            {"channel": "745964462470"},
            id="web-follow",
        ),
        pytest.param(
            "https://v.douyin.com/iRNBho6/", "share", {"code": "iRNBho6"}, id="share"
        ),
        pytest.param(
            "https://webcast.amemv.com/douyin/webcast/reflow/7521591388094384905"
            "?u_code=0&sec_user_id=MS4wLjABAAAA",
            "reflow",
            {"room": "7521591388094384905"},
            id="reflow",
        ),
    )
    should_match = (
        pytest.param("http://live.douyin.com/745964462470/", id="http-slash"),
        pytest.param("https://v.douyin.com/iRNBho6", id="share-no-slash"),
        pytest.param("https://live.douyin.com/745964462470#x", id="fragment"),
    )
    should_not_match = (
        pytest.param("https://live.douyin.com/", id="root"),
        pytest.param("https://live.douyin.com/category/1_2", id="category"),
        pytest.param("https://live.douyin.com/search/abc", id="search"),
        pytest.param("https://www.douyin.com/video/7206155470149635384", id="video"),
        pytest.param("https://www.douyin.com/user/MS4wLjABAAAA", id="user"),
        pytest.param("https://v.douyin.com/", id="share-root"),
        pytest.param("https://live.douyin.com.evil.example/1", id="lookalike"),
    )


# --- the signatures ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "digest"),
    [
        pytest.param(
            b"abc",
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
            id="gbt32905-a1",
        ),
        pytest.param(
            b"abcd" * 16,
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
            id="gbt32905-a2",
        ),
    ],
)
def test_sm3_matches_the_standard_examples(data: bytes, digest: str) -> None:
    """GB/T 32905-2016, appendix A."""
    assert sign.sm3(data).hex() == digest


def test_sm3_matches_openssl_where_it_has_one() -> None:
    if "sm3" not in hashlib.algorithms_available:
        pytest.skip("this OpenSSL has no SM3")
    for size in (0, 1, 55, 56, 63, 64, 65, 119, 300):
        data = bytes(range(256)) * 2
        assert sign.sm3(data[:size]) == hashlib.new("sm3", data[:size]).digest()


def test_rc4_matches_the_published_vectors() -> None:
    assert sign.rc4(b"Key", b"Plaintext").hex() == "bbf316e8d940af0ad3"
    assert sign.rc4(b"Wiki", b"pedia").hex() == "1021bf0420"


def test_rc4_key_y_is_the_table_rust_srec_publishes() -> None:
    """rust-srec's abogus.rs ships RC4's state after the key "y" as `big_array`."""
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + 121) % 256
        state[i], state[j] = state[j], state[i]
    assert state[:12] == [121, 243, 55, 234, 103, 36, 47, 228, 30, 231, 106, 6]


QUERY = (
    "aid=6383&app_name=douyin_web&live_id=1&device_platform=web&language=zh-CN"
    "&browser_language=zh-CN&browser_platform=Win32&browser_name=Chrome"
    "&browser_version=116.0.0.0&web_rid=745964462470&msToken="
)
UA = (
    "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/116.0.5845.97 Safari/537.36 Core/1.116.567.400 QQBrowser/19.7.6764.400"
)


def test_a_bogus_matches_an_independent_implementation() -> None:
    """The pair DouyinLiveRecorder's `src/ab_sign.py` (MIT, commit add187f) gives
    for this query and User-Agent (its own live-room request) with the clock pinned
    at 1751545222.059 s and its fixed randoms (0.123456789, 0.987654321,
    0.555555555, times 10000). No public capture pairs a real request with its a_bogus;
    an independent implementation agreeing byte for byte is the next best check."""
    value = sign.a_bogus(QUERY, UA, now_ms=1751545222059, randoms=(1234, 9876, 5555))
    assert value == (
        "E7mhBmg6mEVNgf6X5XVLfY3q63M3YIhm0HViMD2f-xvwG639HMOP9exov9kvQYjjxG/ZIeYjy4hbO"
        "3xprQAjM36UHWwEUdQ2mgWkKl5Q5I0j53iruyRDntmF4vj3SFlm5XNAEOk0y75rKb70Woqe-vIlO"
        "62-zo0/91L="
    )


def test_a_bogus_carries_the_documented_fields() -> None:
    """Read one back: prefix, then RC4("y") over the 44 bytes, window, checksum."""
    now = 1751545222059
    raw = sign.unb64(sign.a_bogus(QUERY, UA, now_ms=now), sign.ALPHABET)
    body = sign.rc4(b"y", raw[12:])
    fields = dict(zip(sign._ORDER, body[:44], strict=True))
    query = sign.sm3(sign.sm3((QUERY + "cus").encode()))
    assert (fields[38], fields[39]) == (query[21], query[22])
    assert bytes(fields[k] for k in (20, 21, 22, 23)) == (now & 0xFFFFFFFF).to_bytes(4)
    end = now + 100
    assert bytes(fields[k] for k in (44, 45, 46, 47)) == (end & 0xFFFFFFFF).to_bytes(4)
    assert [fields[k] for k in (57, 58)] == [6383 & 0xFF, 6383 >> 8]
    assert body[44:-1] == sign.WINDOW.encode()
    checksum = 0
    for key in sign._CHECKED:
        checksum ^= fields[key]
    assert body[-1] == checksum
    # a different query changes the signed bytes
    other = sign.rc4(
        b"y", sign.unb64(sign.a_bogus("a=1", UA, now_ms=now), sign.ALPHABET)[12:]
    )
    assert other[7] != body[7] or other[18] != body[18]


def test_x_bogus_parts() -> None:
    """rust-srec's signature.rs tests: the last two bytes of MD5(MD5 bytes)."""
    assert sign._last2("56a634b4228ef02b53388ada4e6f76c7") == (0x26, 0x54)
    assert sign._last2(hashlib.md5(b"").hexdigest()) == (0x45, 0x3F)
    value = sign.x_bogus("56a634b4228ef02b53388ada4e6f76c7", draws=(3, 200))
    raw = sign.unb64(value, sign.XBOGUS_ALPHABET)
    assert len(value) == 16
    assert raw[0] == 0x40 | 3
    payload = sign.rc4(bytes([raw[1]]), raw[2:])
    assert list(payload[:8]) == [1, 0, 1, 0x0E, 0x45, 0x3F, 0x26, 0x54]
    assert payload[8] == raw[1]
    checksum = 0
    for byte in payload[:9]:
        checksum ^= byte
    assert payload[9] == checksum


# --- the captured answers, parsed directly ------------------------------------------


def captured(name: str) -> bytes:
    return (RESOURCES / name).read_bytes()


def test_captured_live_answer() -> None:
    reply = parse(EnterReply, captured("douyin_live.json"), "enter")
    assert reply.data is not None
    status = _status(reply.data, origin_quality=False)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author, status.viewers) == (
        "男的 别问了",
        "aasyy",
        106,
    )
    assert status.avatar_url.startswith("https://p11.douyinpic.com/")
    assert status.cover_url.startswith("https://p3-webcast-sign.douyinpic.com/")
    # origin, hd, sd, ld, md: FLV then HLS each, best level first; audio last
    names = [(s.quality, s.kind) for s in status.streams]
    assert names[:2] == [
        ("蓝光 1088p (source)", StreamKind.FLV),
        ("蓝光 1088p (source)", StreamKind.HLS),
    ]
    assert names[2][0] == "超清 720p"
    assert names[-1] == ("audio_only", StreamKind.FLV)
    assert len(status.streams) == 11
    origin = status.streams[0]
    assert "_or4.flv?" in origin.url
    assert (origin.codec, origin.container, origin.bitrate_bps) == ("avc", "flv", 0)
    assert origin.expires_at == datetime.fromtimestamp(1752150022, UTC)
    assert origin.headers == HEADERS


def test_captured_live_answer_with_the_untranscoded_source() -> None:
    reply = parse(EnterReply, captured("douyin_live.json"), "enter")
    assert reply.data is not None
    streams = _status(reply.data, origin_quality=True).streams
    source = streams[0]
    assert source.quality == "蓝光 1088p (source) untranscoded"
    assert "stream-405774431831196265.flv?" in source.url
    assert "only_audio" not in source.url


def test_captured_ended_answer() -> None:
    reply = parse(EnterReply, captured("douyin_offline.json"), "enter")
    assert reply.data is not None
    status = _status(reply.data, origin_quality=False)
    assert status.result is LiveOutcome.OFFLINE
    assert (status.title, status.author) == ("人生不设限·美好现场开放麦", "抖音演出")


# --- through the real client, against the fake ---------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[DouyinApi]:
    Douyin.forget()
    api = fake.douyin
    yield api
    api.rooms.clear()
    api.shares.clear()
    api.requests.clear()
    api.malformed = False
    api.risk_control = True
    api.throttle(0)
    Douyin.forget()


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live_room(api: DouyinApi, stream: str = FLV) -> None:
    room = api.room("745964462470", title="深夜电台", author="主播小王")
    room.extra.update(room_id="7522819524010625833", sec_uid="MS4wLjABAAAAtest")
    room.go_live(stream)


async def test_live_room(api, http) -> None:
    live_room(api)
    status = await Douyin(http).check_live(ROOM)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author, status.viewers) == (
        "深夜电台",
        "主播小王",
        106,
    )
    assert status.source is not None
    assert status.source.url.startswith(FLV + "?expire=")
    assert status.source.kind is StreamKind.FLV
    assert status.source.quality == "蓝光 1088p (source)"
    assert status.source.expires_at is not None
    assert status.source.headers["Referer"] == "https://live.douyin.com/"
    # one visitor ttwid, then one signed enter call
    assert [r.path for r in api.requests] == [
        "/ttwid/union/register/",
        "/webcast/room/web/enter/",
    ]
    enter = api.requests[-1]
    assert f"ttwid={TTWID}" in enter.headers["Cookie"]
    assert enter.arg("web_rid") == "745964462470"


async def test_hls_room_and_the_selection(api, http) -> None:
    live_room(api, HLS)
    selection = StreamSelection(formats=[StreamKind.HLS])
    status = await Douyin(http).check_live(ROOM, selection)
    assert status.source is not None
    assert status.source.kind is StreamKind.HLS
    assert {s.kind for s in status.streams} == {StreamKind.HLS}


async def test_the_ttwid_is_fetched_once_per_process(api, http) -> None:
    live_room(api)
    await Douyin(http).check_live(ROOM)
    await Douyin(http).check_live(ROOM)
    assert api.calls("/ttwid/") == 1


async def test_the_users_cookies_reach_the_api_only(api, http) -> None:
    live_room(api)
    options = DouyinOptions(cookies="sessionid=abc; ttwid=mine")
    status = await Douyin(http, options).check_live(ROOM)
    assert status.is_live
    # their own ttwid wins: no visitor one is fetched
    assert api.calls("/ttwid/") == 0
    assert api.requests[-1].headers["Cookie"] == "sessionid=abc; ttwid=mine"
    assert status.source is not None
    assert "Cookie" not in status.source.headers


async def test_offline_room(api, http) -> None:
    api.room("745964462470", title="t", author="主播小王")
    status = await Douyin(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert status.author == "主播小王"
    assert status.source is None


async def test_missing_room_is_not_found(api, http) -> None:
    status = await Douyin(http).check_live("https://live.douyin.com/404404")
    assert status.result is LiveOutcome.NOT_FOUND
    assert status.result.fatal


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        pytest.param("private", LiveOutcome.PRIVATE, id="hidden-from-viewer"),
        pytest.param("banned", LiveOutcome.NOT_FOUND, id="closed-account"),
    ],
)
async def test_room_states(api, http, state: str, outcome: LiveOutcome) -> None:
    live_room(api)
    api.rooms["745964462470"].set_state(state)
    status = await Douyin(http).check_live(ROOM)
    assert status.result is outcome


async def test_risk_control_is_rate_limited(api, http) -> None:
    live_room(api)
    await Douyin(http).check_live(ROOM)  # the ttwid is fetched unthrottled
    api.throttle(1)
    status = await Douyin(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert "risk control" in status.detail


async def test_http_429_is_rate_limited_with_its_retry_after(api, http) -> None:
    live_room(api)
    await Douyin(http).check_live(ROOM)
    api.risk_control = False  # throttle with HTTP 429 instead
    api.throttle(1)
    status = await Douyin(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert status.retry_after_secs == 7


async def test_the_fake_refuses_a_request_whose_signature_does_not_match(
    api, http
) -> None:
    """The fake checks a_bogus against the query: tampering is risk control."""
    live_room(api)
    await Douyin(http).check_live(ROOM)
    enter = api.requests[-1]
    query = {k: v[0] for k, v in enter.query.items()}
    query["web_rid"] = "1"  # signed for 745964462470
    response = await http.get(
        "https://live.douyin.com/webcast/room/web/enter/",
        params=query,
        headers={"Cookie": enter.headers["Cookie"]},
    )
    assert (response.status_code, response.content) == (200, b"")


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"missing field data\.data\.0\.status"):
        await Douyin(http).check_live(ROOM)


async def test_share_link_is_followed_through_the_share_page(api, http) -> None:
    live_room(api)
    api.share("iRNBho6", "745964462470")
    status = await Douyin(http).check_live("https://v.douyin.com/iRNBho6/")
    assert status.is_live
    reflow = next(r for r in api.requests if "reflow/info" in r.path)
    assert (reflow.arg("room_id"), reflow.arg("sec_user_id")) == (
        "7522819524010625833",
        "MS4wLjABAAAAtest",
    )


async def test_unknown_share_link_is_not_found(api, http) -> None:
    status = await Douyin(http).check_live("https://v.douyin.com/Nope999/")
    assert status.result is LiveOutcome.NOT_FOUND


async def test_danmu_info_is_the_signed_push_websocket(api, http) -> None:
    live_room(api)
    options = DouyinOptions(cookies="sessionid=abc")
    info = await Douyin(http, options).danmu_info(Douyin.channel(ROOM))
    assert info is not None
    assert (info.platform, info.room_id) == ("douyin", "7522819524010625833")
    assert len(info.ws_urls) == 3
    url = urlsplit(info.ws_urls[0])
    assert (url.scheme, url.path) == ("wss", "/webcast/im/push/v2/")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["room_id"] == "7522819524010625833"
    assert (query["identity"], query["aid"], query["compress"]) == (
        "audience",
        "6383",
        "gzip",
    )
    # the signature is X-Bogus of MD5 of the parameter string the page signs
    signed = (
        "live_id=1,aid=6383,version_code=180800,webcast_sdk_version=1.0.15,"
        f"room_id=7522819524010625833,sub_room_id=,sub_channel_id=,did_rule=3,"
        f"user_unique_id={query['user_unique_id']},device_platform=web,"
        "device_type=,ac=,identity=audience"
    )
    raw = sign.unb64(query["signature"], sign.XBOGUS_ALPHABET)
    payload = sign.rc4(bytes([raw[1]]), raw[2:])
    assert tuple(payload[6:8]) == sign._last2(hashlib.md5(signed.encode()).hexdigest())
    assert info.cookie == f"ttwid={TTWID}; sessionid=abc"
    codec = codec_for(info.platform)(info)
    assert codec.urls() == info.ws_urls
    assert codec.headers()["Cookie"] == info.cookie


async def test_danmu_info_of_a_missing_room(api, http) -> None:
    with pytest.raises(Outcome) as found:
        await Douyin(http).danmu_info(Douyin.channel("https://live.douyin.com/404404"))
    assert found.value.outcome is LiveOutcome.NOT_FOUND


async def test_share_page_url_names_the_room(api, http) -> None:
    live_room(api)
    url = (
        "https://webcast.amemv.com/douyin/webcast/reflow/7522819524010625833"
        "?u_code=0&sec_user_id=MS4wLjABAAAAtest"
    )
    status = await Douyin(http).check_live(url)
    assert status.is_live
    assert api.calls("/webcast/room/reflow/info/") == 1

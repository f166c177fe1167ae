"""Douyu: URL table, the play signature, the captured answers, outcomes, options, chat.

The API tests run through the real HTTP client and the host-mapping transport
against the fake Douyu (`tests/fakes/platform/douyu.py`), which answers with the
captured responses in `tests/resources/platforms/douyu/` and checks every play
request's signature.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from activities.contracts import LiveOutcome, StreamKind
from activities.danmu import codec_for
from activities.errors import ExtractorError
from activities.platforms._douyu_api import Betard, EncKey, PlayReply, auth, streams_of
from activities.platforms.douyu import Douyu, DouyuOptions, _server_time
from activities.platforms.web import parse
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.douyu import DouyuApi

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

RESOURCES = Path(__file__).parents[2] / "resources" / "platforms" / "douyu"
ROOM = "https://www.douyu.com/4767111"
FLV = "http://127.0.0.1:9/live/4767111rCAbCdEf.flv?wsAuth=abc&token=web-h5-0"


class TestUrls(UrlTable):
    extractor = Douyu
    should_match_groups = (
        pytest.param(ROOM, "live", {"channel": "4767111"}, id="room"),
        pytest.param(
            "https://www.douyu.com/topic/wzDBLS6?rid=4921614&dyshid=",
            "topic",
            {"channel": "4921614"},
            id="topic",
        ),
        pytest.param(
            "https://www.douyu.com/room/share/4767111",
            "share",
            {"channel": "4767111"},
            id="share",
        ),
        pytest.param(
            "https://m.douyu.com/3125893?rid=3125893&dyshid=0-9600",
            "mobile",
            {"channel": "3125893"},
            id="mobile",
        ),
        pytest.param(
            "https://www.douyu.com/pigff", "alias", {"channel": "pigff"}, id="alias"
        ),
    )
    should_match = (
        pytest.param("http://www.douyutv.com/85982", id="douyutv"),
        pytest.param("https://www.douyu.com/3637778?dyshid=", id="dyshid"),
        pytest.param("https://www.douyu.com/topic/12345", id="topic-number"),
        pytest.param("https://www.douyu.com/beta/4767111", id="beta"),
        pytest.param("https://m.douyu.com/xiaocang", id="mobile-alias"),
    )
    should_not_match = (
        pytest.param("https://www.douyu.com/", id="root"),
        pytest.param("https://www.douyu.com/member/cp", id="member"),
        pytest.param("https://www.douyu.com/directory/all", id="directory"),
        pytest.param("https://www.douyu.com/g_LOL", id="category"),
        pytest.param("https://www.douyu.com/topic/wzDBLS6", id="topic-without-rid"),
        pytest.param("https://v.douyu.com/show/a4Jj7llr3BE7", id="vod"),
        pytest.param("https://www.douyu.com.example.com/4767111", id="lookalike"),
    )


# --- the signature ------------------------------------------------------------------


KEY = EncKey(
    key="k3y", rand_str="r4nd", enc_time=2, enc_data="enc", is_special=0, expire_at=0
)


def test_auth_against_the_documented_computation() -> None:
    """The recipe expanded by hand (IINA+, rust-srec and streamlink agree on it)."""
    first = hashlib.md5(b"r4ndk3y").hexdigest()
    second = hashlib.md5(f"{first}k3y".encode()).hexdigest()
    expected = hashlib.md5(f"{second}k3y4767111{1767000000}".encode()).hexdigest()
    assert auth("4767111", 1767000000, KEY) == expected


@pytest.mark.parametrize("special", [0, 1])
def test_auth_matches_streamlinks_implementation(special: int) -> None:
    from streamlink.plugins.douyu import Douyu as StreamlinkDouyu

    key = KEY.model_copy(update={"is_special": special, "enc_time": 5})
    theirs = StreamlinkDouyu._compute_auth(
        rid="288016", ts=1767000123, key=key.key, rand_str=key.rand_str,
        enc_time=key.enc_time, is_special=special,
    )  # fmt: skip
    assert auth("288016", 1767000123, key) == theirs


def test_server_time_reads_the_date_header() -> None:
    assert _server_time("Mon, 29 Dec 2025 09:20:00 GMT", 0.0) == 1767000000.0
    assert _server_time(None, 5.0) == 5.0
    assert _server_time("yesterday", 5.0) == 5.0


# --- the captured answers, parsed directly ------------------------------------------


def test_captured_betard() -> None:
    room = parse(Betard, (RESOURCES / "betard_live.json").read_bytes(), "betard").room
    assert (room.room_id, room.show_status, room.video_loop) == (4767111, 1, 0)
    assert room.room_name == "神棍老师：偶尔迟到的直播间"  # noqa: RUF001 - as captured
    assert (room.owner_name, room.second_lvl_name) == ("神棍老师麦迪文", "炉石传说")
    assert room.avatar_url.endswith("_big.jpg")
    assert room.show_time == 1766488096


def test_captured_play_answer() -> None:
    reply = parse(PlayReply, (RESOURCES / "getH5Play.live.json").read_bytes(), "x")
    assert reply.error == 0
    assert not isinstance(reply.data, str)
    assert reply.data is not None
    (stream,) = streams_of(reply.data, {})
    assert stream.url.startswith(
        "https://ws3.douyucdn.cn/live/9715241rdkExgDdB.flv?wsAuth=e9e65b899af9f12f"
    )
    assert (stream.kind, stream.cdn, stream.quality) == (
        StreamKind.FLV,
        "ws-h5",
        "原画1080P60",
    )
    assert stream.bitrate_bps == 8_487_000
    assert [c.cdn for c in reply.data.cdns] == ["hw-h5"]


def test_play_error_answers_carry_an_empty_string() -> None:
    reply = parse(PlayReply, b'{"error":-5,"msg":"closeRoom","data":""}', "x")
    assert (reply.error, reply.data) == (-5, "")


# --- through the real client, against the fake ---------------------------------------


@pytest.fixture(autouse=True)
def _fresh_keys() -> Iterator[None]:
    Douyu.forget()
    yield
    Douyu.forget()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[DouyuApi]:
    api = fake.apis["douyu"]
    assert isinstance(api, DouyuApi)
    yield api
    api.rooms.clear()
    api.requests.clear()
    api.plays.clear()
    api.rotate_keys()
    api.disputes = 0
    api.malformed = False
    api.throttle(0)


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live_room(api: DouyuApi, **extra: object) -> None:
    room = api.room(
        "4767111",
        title="偶尔迟到的直播间",
        author="神棍老师麦迪文",
        category="炉石传说",
        extra={"alias": "pigff", **extra},
    )
    room.go_live(FLV)


async def test_live_room(api, http) -> None:
    live_room(api)
    status = await Douyu(http).check_live(ROOM)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author, status.category) == (
        "偶尔迟到的直播间",
        "神棍老师麦迪文",
        "炉石传说",
    )
    assert status.started_at == datetime.fromtimestamp(1766488096, UTC)
    assert status.avatar_url.startswith("https://apic.douyucdn.cn/")
    assert status.source is not None
    assert status.source.url == FLV
    assert (status.source.kind, status.source.cdn) == (StreamKind.FLV, "hw-h5")
    assert status.source.quality == "原画1080P60"
    assert status.source.headers["Referer"] == "https://www.douyu.com/"
    # the fake accepted the signature
    (play,) = api.plays
    assert (play["did"], play["rid"], play["rate"]) == (
        "10000000000000000000000000001501",
        "4767111",
        "0",
    )


async def test_keys_are_kept_between_checks(api, http) -> None:
    live_room(api)
    await Douyu(http).check_live(ROOM)
    await Douyu(http).check_live(ROOM)
    assert api.calls("getEncryption") == 1
    assert len(api.plays) == 2


async def test_a_refused_signature_is_signed_again(api, http) -> None:
    live_room(api)
    await Douyu(http).check_live(ROOM)
    api.rotate_keys()  # the server forgot the key we hold
    status = await Douyu(http).check_live(ROOM)
    assert status.is_live
    assert api.calls("getEncryption") == 2


async def test_a_disputed_clock_is_asked_again(api, http) -> None:
    live_room(api)
    api.disputes = 1
    assert (await Douyu(http).check_live(ROOM)).is_live
    api.disputes = 2
    status = await Douyu(http).check_live(ROOM)
    assert status.result is LiveOutcome.UNAVAILABLE
    assert "signature refused" in status.detail


async def test_options_reach_the_play_request(api, http) -> None:
    live_room(api, hevc_url="http://127.0.0.1:9/live/4767111_hevc.flv")
    options = DouyuOptions(
        cdn="tct-h5", rate=4, hevc=True, did="0123456789abcdef0123456789abcdef",
        cookies="acf_uid=1",
    )  # fmt: skip
    status = await Douyu(http, options).check_live(ROOM)
    (play,) = api.plays
    assert (play["cdn"], play["rate"], play["hevc"], play["did"]) == (
        "tct-h5",
        "4",
        "1",
        "0123456789abcdef0123456789abcdef",
    )
    assert api.requests[0].headers.get("Cookie") == "acf_uid=1"
    assert [(s.codec, s.cdn, s.quality) for s in status.streams] == [
        ("avc", "tct-h5", "蓝光4M"),
        ("hevc", "tct-h5", "蓝光4M"),
    ]
    assert status.source is not None
    assert "Cookie" not in status.source.headers


def test_a_did_must_be_32_hex_digits() -> None:
    with pytest.raises(ValueError, match="did"):
        DouyuOptions(did="not-a-device")


async def test_alias_is_resolved_through_the_mobile_page(api, http) -> None:
    live_room(api)
    status = await Douyu(http).check_live("https://www.douyu.com/pigff")
    assert status.is_live
    assert api.requests[0].host == "m.douyu.com"
    assert api.plays[0]["rid"] == "4767111"


async def test_unknown_alias_is_not_found(api, http) -> None:
    status = await Douyu(http).check_live("https://www.douyu.com/nobodyhere")
    assert status.result is LiveOutcome.NOT_FOUND


async def test_offline_room(api, http) -> None:
    api.room("4767111", title="每天晚上7点直播")
    status = await Douyu(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert status.title == "每天晚上7点直播"
    assert api.calls("getH5PlayV1") == 0


async def test_a_loop_of_replays_is_offline(api, http) -> None:
    live_room(api, loop=1)
    status = await Douyu(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert "replays" in status.detail


async def test_went_offline_between_check_and_play(api, http) -> None:
    live_room(api)
    extractor = Douyu(http)
    status = await extractor.check(Douyu.channel(ROOM))
    assert status.is_live
    api.rooms["4767111"].go_offline()
    api.rooms["4767111"].state = "live"  # betard still says live, play says closed
    found = await extractor.check_live(ROOM)
    assert found.result is LiveOutcome.OFFLINE
    assert "closeRoom" in found.detail


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        pytest.param("not_found", LiveOutcome.NOT_FOUND, id="missing"),
        pytest.param("banned", LiveOutcome.BANNED, id="closed"),
        pytest.param("private", LiveOutcome.PRIVATE, id="password"),
    ],
)
async def test_room_outcomes(api, http, state: str, outcome: LiveOutcome) -> None:
    api.room("4767111").set_state(state)
    status = await Douyu(http).check_live(ROOM)
    assert status.result is outcome
    assert status.result.fatal


async def test_region_locked_play(api, http) -> None:
    live_room(api, region_locked=True)
    status = await Douyu(http).check_live(ROOM)
    assert status.result is LiveOutcome.REGION_LOCKED


async def test_throttled_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await Douyu(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert status.retry_after_secs == 7


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"missing field room\.show_status"):
        await Douyu(http).check_live(ROOM)


async def test_danmu_info_for_the_douyu_codec(api, http) -> None:
    live_room(api)
    info = await Douyu(http, DouyuOptions(cookies="acf_uid=1")).danmu_info(
        Douyu.channel("https://www.douyu.com/pigff")
    )
    assert (info.platform, info.room_id, info.cookie) == (
        "douyu",
        "4767111",
        "acf_uid=1",
    )
    codec = codec_for(info.platform)(info)
    login, join = codec.handshake()
    assert isinstance(login, bytes)
    assert b"roomid@=4767111/" in login
    assert b"rid@=4767111/" in join

"""SOOP: URL table, presets and chat host, outcomes, AID tokens, options, chat.

Nothing of SOOP was captured: the API tests run through the real HTTP client and
the host-mapping transport against the fake SOOP (`tests/fakes/platform/soop.py`),
which answers in the shapes the public clients read today.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import pytest

from activities.contracts import LiveOutcome, StreamKind, StreamSelection
from activities.danmu import codec_for
from activities.errors import ExtractorError
from activities.platforms._soop_api import (
    KST,
    Channel,
    PlayerReply,
    Preset,
    chat_host,
    quality_of,
    ranked,
    web_cdn,
)
from activities.platforms.base import Outcome
from activities.platforms.soop import Soop, SoopOptions
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.soop import BROAD_START, SoopApi

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

BJID = "example"
BNO = "281234567"
ROOM = f"https://play.sooplive.co.kr/{BJID}"
HLS = "http://127.0.0.1:9/live-stm-16/auth_playlist.m3u8"


class TestUrls(UrlTable):
    extractor = Soop
    should_match_groups = (
        pytest.param(ROOM, "live", {"channel": BJID}, id="play-kr"),
        pytest.param(
            f"https://play.sooplive.com/{BJID}/{BNO}",
            "live",
            {"channel": BJID, "bno": BNO},
            id="play-broadcast",
        ),
        pytest.param(
            "http://play.afreecatv.com/pyh3646/",
            "live",
            {"channel": "pyh3646"},
            id="afreecatv",
        ),
        pytest.param(
            f"https://m.sooplive.co.kr/#/player/{BJID}",
            "mobile",
            {"channel": BJID},
            id="mobile-player",
        ),
        pytest.param(
            f"https://m.sooplive.co.kr/{BJID}/{BNO}",
            "mobile",
            {"channel": BJID, "bno": BNO},
            id="mobile-path",
        ),
        pytest.param(
            f"https://www.sooplive.com/station/{BJID}",
            "station",
            {"channel": BJID},
            id="station",
        ),
        pytest.param(
            f"https://ch.sooplive.co.kr/{BJID}", "station", {"channel": BJID}, id="ch"
        ),
        pytest.param(
            f"https://bj.afreecatv.com/{BJID}",
            "station",
            {"channel": BJID},
            id="bj-afreecatv",
        ),
    )
    should_match = (
        pytest.param(f"{ROOM}?pwd=1234", id="room-password-query"),
        pytest.param(f"https://sooplive.com/station/{BJID}/", id="station-bare"),
    )
    should_not_match = (
        pytest.param("https://play.sooplive.co.kr/", id="play-root"),
        pytest.param("https://www.sooplive.com/example", id="www-not-station"),
        pytest.param(f"https://www.sooplive.com/station/{BJID}/vod", id="vod-list"),
        pytest.param("https://vod.sooplive.com/player/192805325", id="vod"),
        pytest.param("https://play.sooplive.co.kr.example.com/x", id="lookalike"),
        pytest.param(f"{ROOM}/{BNO}/extra", id="deeper"),
    )


# --- readers of the documented shapes ------------------------------------------------


def test_result_as_text_and_empty_chat_port() -> None:
    reply = PlayerReply.model_validate_json(
        '{"CHANNEL": {"RESULT": "-6", "CHPT": "", "BNO": 281234567}}'
    )
    assert (reply.channel.result, reply.channel.chat_port) == (-6, None)
    assert reply.channel.bno == "281234567"


def test_presets_best_first_without_auto() -> None:
    presets = [Preset.model_validate(p) for p in _presets()]
    assert [p.name for p in ranked(presets)] == [
        "original", "hd4000", "hd4k", "hd", "sd",
    ]  # fmt: skip
    names = [quality_of(p) for p in ranked(presets)]
    assert names == ["1080p (source)", "1440p", "720p", "540p", "360p"]
    assert quality_of(Preset(label="원본", name="original")) == "source"


def test_cdn_and_chat_host() -> None:
    assert web_cdn("gs_cdn") == "gs_cdn_pc_web"
    assert web_cdn("lg_cdn_bar") == "lg_cdn_pc_web"
    assert web_cdn("gcp_cdn") == "gcp_cdn"
    by_ip = Channel.model_validate({"RESULT": 1, "CHIP": "170.187.204.221"})
    assert chat_host(by_ip) == "chat-aabbccdd.sooplive.com"
    by_name = Channel.model_validate({"RESULT": 1, "CHDOMAIN": "Chat-1.sooplive.com"})
    assert chat_host(by_name) == "chat-1.sooplive.com"


def _presets() -> list[dict[str, str]]:
    from tests.fakes.platform.soop import PRESETS

    return PRESETS


# --- through the real client, against the fake ---------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[SoopApi]:
    api = fake.apis["soop"]
    assert isinstance(api, SoopApi)
    yield api
    api.rooms.clear()
    api.requests.clear()
    api.aids.clear()
    api.assigned.clear()
    api.malformed = False
    api.throttle(0)


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live_room(api: SoopApi, **extra: object) -> None:
    room = api.room(
        BJID,
        title="오늘의 방송",
        author="스트리머",
        category="토크/캠방",
        extra={"bno": BNO, **extra},
    )
    room.go_live(HLS)


def form_of(api: SoopApi, index: int) -> dict[str, str]:
    body = api.requests[index].body.decode()
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


async def test_live_channel(api, http) -> None:
    live_room(api)
    status = await Soop(http).check_live(ROOM)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author, status.category) == (
        "오늘의 방송",
        "스트리머",
        "토크/캠방",
    )
    assert status.viewers == 1234
    assert status.started_at == datetime.fromisoformat(BROAD_START).replace(tzinfo=KST)
    assert status.cover_url == f"https://liveimg.sooplive.co.kr/m/{BNO}"
    assert status.avatar_url.endswith("/LOGO/ex/example/example.jpg")
    # five presets (auto left out), each with its own AID token
    assert [s.quality for s in status.streams] == [
        "1080p (source)", "1440p", "720p", "540p", "360p",
    ]  # fmt: skip
    # no bitrate is claimed (a name like hd4000 is not a measure): order decides
    assert {s.bitrate_bps for s in status.streams} == {0}
    assert status.source is not None
    assert status.source.kind is StreamKind.HLS
    aid = status.source.url.removeprefix(f"{HLS}?aid=")
    assert api.aids[aid] == "original"
    assert status.source.headers["Referer"] == "https://play.sooplive.com/"
    assert api.assigned[0] == ("gs_cdn_pc_web", f"{BNO}-common-original-hls")
    live = form_of(api, 0)
    assert (live["bid"], live["type"], live["pwd"]) == (BJID, "live", "")
    assert api.requests[0].arg("bjid") == BJID


async def test_selection_picks_a_quality(api, http) -> None:
    live_room(api)
    status = await Soop(http).check_live(ROOM, StreamSelection(qualities=["720p"]))
    assert status.source is not None
    assert status.source.quality == "720p"
    assert api.aids[status.source.url.split("aid=")[1]] == "hd4k"


async def test_cdn_option(api, http) -> None:
    live_room(api)
    status = await Soop(http, SoopOptions(cdn="lg_cdn_pc_web")).check_live(ROOM)
    assert status.source is not None
    assert status.source.cdn == "lg_cdn_pc_web"
    assert {cdn for cdn, _ in api.assigned} == {"lg_cdn_pc_web"}


def test_cdn_option_is_validated() -> None:
    with pytest.raises(ValueError, match="cdn"):
        SoopOptions(cdn="gs cdn; drop")


async def test_offline_channel(api, http) -> None:
    api.room(BJID, author="스트리머", extra={"station_title": "방송국"})
    status = await Soop(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert (status.title, status.author) == ("방송국", "스트리머")
    assert [r.host for r in api.requests] == ["live.sooplive.com", "st.sooplive.com"]


async def test_missing_channel_is_not_found(api, http) -> None:
    status = await Soop(http).check_live("https://play.sooplive.co.kr/nobody")
    assert status.result is LiveOutcome.NOT_FOUND


async def test_geo_stub_is_region_locked(api, http) -> None:
    live_room(api)
    api.rooms[BJID].set_state("region_locked")
    status = await Soop(http).check_live(ROOM)
    assert status.result is LiveOutcome.REGION_LOCKED


async def test_sign_in_needed_is_age_restricted(api, http) -> None:
    live_room(api)
    api.rooms[BJID].set_state("age_restricted")
    status = await Soop(http).check_live(ROOM)
    assert status.result is LiveOutcome.AGE_RESTRICTED
    assert "a guest" in status.detail
    signed = await Soop(http, SoopOptions(cookies="AuthTicket=x")).check_live(ROOM)
    assert signed.result is LiveOutcome.AGE_RESTRICTED
    assert "these cookies" in signed.detail
    assert api.requests[-1].headers["Cookie"] == "AuthTicket=x"


async def test_a_refused_token_is_age_restricted(api, http) -> None:
    live_room(api, aid_sign_in=True)
    status = await Soop(http).check_live(ROOM)
    assert status.result is LiveOutcome.AGE_RESTRICTED


@pytest.mark.parametrize(
    ("password", "outcome"),
    [
        pytest.param(None, LiveOutcome.PRIVATE, id="none"),
        pytest.param("0000", LiveOutcome.PRIVATE, id="wrong"),
        pytest.param("1234", LiveOutcome.LIVE, id="right"),
    ],
)
async def test_password_room(api, http, password, outcome) -> None:
    live_room(api, password="1234")
    status = await Soop(http, SoopOptions(password=password)).check_live(ROOM)
    assert status.result is outcome
    if outcome is LiveOutcome.LIVE:
        aid_forms = [f for i in range(len(api.requests)) if (f := form_of(api, i))]
        assert {f["pwd"] for f in aid_forms if f.get("type") == "aid"} == {"1234"}
        assert {f["pwd"] for f in aid_forms if f.get("type") == "live"} == {""}


async def test_broadcast_number_from_the_url(api, http) -> None:
    live_room(api)
    await Soop(http).check_live(f"https://play.sooplive.com/{BJID}/{BNO}")
    assert form_of(api, 0)["bno"] == BNO


async def test_throttled_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await Soop(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert status.retry_after_secs == 7


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"missing field CHANNEL\.RESULT"):
        await Soop(http).check_live(ROOM)


async def test_danmu_info_for_the_soop_codec(api, http) -> None:
    live_room(api, password="1234")
    options = SoopOptions(password="1234", cookies="AuthTicket=x")
    info = await Soop(http, options).danmu_info(Soop.channel(ROOM))
    assert (info.platform, info.room_id) == ("soop", BJID)
    assert info.ws_urls == [f"wss://chat-aabbccdd.sooplive.com:8041/Websocket/{BJID}"]
    assert info.token == f"ftk-{BNO}"
    assert info.params == {"chatno": "7604", "password": "1234"}
    assert info.cookie == "AuthTicket=x"
    codec = codec_for(info.platform)(info)
    assert codec.urls() == info.ws_urls
    assert len(codec.handshake()) == 1


async def test_danmu_info_needs_a_live_broadcast(api, http) -> None:
    api.room(BJID)
    with pytest.raises(Outcome) as found:
        await Soop(http).danmu_info(Soop.channel(ROOM))
    assert found.value.outcome is LiveOutcome.OFFLINE

"""PandaTV (pandalive.co.kr): URL table, the web API, outcomes, options.

Nothing of PandaTV was captured: the API tests run through the real HTTP client
and the host-mapping transport against the fake PandaTV
(`tests/fakes/platform/pandatv.py`), which answers in the shapes the public clients
read today.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import pytest

from activities.contracts import LiveOutcome, StreamKind, StreamSelection
from activities.errors import ExtractorError
from activities.platforms._pandatv_api import KST, Media
from activities.platforms.pandatv import PandaTv, PandaTvOptions
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.pandatv import START_TIME, PandaTvApi

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

USER = "example"
ROOM = f"https://www.pandalive.co.kr/live/play/{USER}"
HLS = "http://127.0.0.1:9/ivs/master.m3u8"


class TestUrls(UrlTable):
    extractor = PandaTv
    should_match_groups = (
        pytest.param(ROOM, "live", {"channel": USER}, id="live-play"),
        pytest.param(
            "https://www.pandalive.co.kr/play/bebenim",
            "live",
            {"channel": "bebenim"},
            id="play",
        ),
        pytest.param(
            "https://m.pandalive.co.kr/live/play/daisy00",
            "mobile",
            {"channel": "daisy00"},
            id="mobile",
        ),
        pytest.param(
            "https://www.pandalive.co.kr/channel/1506087545@ka",
            "channel",
            {"channel": "1506087545@ka"},
            id="channel-social-id",
        ),
    )
    should_match = (
        pytest.param("http://pandalive.co.kr/live/play/daisy00", id="bare-host"),
        pytest.param(f"{ROOM}?ref=share", id="share-query"),
        pytest.param(f"{ROOM}#chat", id="fragment"),
        pytest.param("https://m.pandalive.co.kr/play/daisy00", id="mobile-play"),
        pytest.param(
            "https://www.pandalive.co.kr/channel/daisy00/home", id="channel-home"
        ),
    )
    should_not_match = (
        pytest.param("https://www.pandalive.co.kr/live", id="live-list"),
        pytest.param("https://www.pandalive.co.kr/search/daisy00", id="search"),
        pytest.param(
            "https://www.pandalive.co.kr/channel/daisy00/notice", id="channel-notice"
        ),
        pytest.param(f"{ROOM}/evil", id="deeper"),
        pytest.param(
            "https://www.pandalive.co.kr.evil.test/live/play/daisy00", id="lookalike"
        ),
        pytest.param("https://www.panda.tv/10300", id="old-panda-tv"),
    )


def test_start_time_as_a_korean_date_or_epoch_seconds() -> None:
    korean = Media.model_validate({"isLive": True, "startTime": "2026-01-02 20:30:00"})
    assert korean.started_at == datetime(2026, 1, 2, 20, 30, tzinfo=KST)
    epoch = Media.model_validate({"isLive": True, "startTime": "1767000000"})
    assert epoch.started_at == datetime.fromtimestamp(1767000000, UTC)
    assert Media.model_validate({"isLive": True}).started_at is None


# --- through the real client, against the fake ---------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[PandaTvApi]:
    api = fake.apis["pandatv"]
    assert isinstance(api, PandaTvApi)
    yield api
    api.rooms.clear()
    api.requests.clear()
    api.malformed = False
    api.throttle(0)


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live_room(api: PandaTvApi, **extra: object) -> None:
    room = api.room(
        USER, title="앙앙 방송", author="릴리", category="토크", extra=dict(extra)
    )
    room.go_live(HLS)


def form(api: PandaTvApi, index: int) -> dict[str, str]:
    body = api.requests[index].body.decode()
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


async def test_live_room(api, http) -> None:
    live_room(api)
    status = await PandaTv(http).check_live(ROOM)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author, status.category) == (
        "앙앙 방송",
        "릴리",
        "토크",
    )
    assert status.viewers == 321
    assert status.started_at == datetime.fromisoformat(START_TIME).replace(tzinfo=KST)
    assert status.cover_url.endswith(f"/ivs/v1/{USER}/thumb.jpg")
    # hls, then hls2; hls3 repeats hls and is offered once
    assert [(s.cdn, s.url, s.quality) for s in status.streams] == [
        ("hls", HLS, "원본"),
        ("hls2", f"{HLS}?edge=2", "원본"),
    ]
    assert status.source is not None
    assert status.source.kind is StreamKind.HLS
    assert status.source.headers["Origin"] == "https://www.pandalive.co.kr"
    assert [r.path for r in api.requests] == ["/v1/member/bj", "/v1/live/play"]
    assert form(api, 0) == {"userId": USER, "info": "media fanGrade"}
    assert form(api, 1) == {
        "action": "watch", "userId": USER, "password": "", "shareLinkType": "",
    }  # fmt: skip


async def test_selection_picks_a_playlist(api, http) -> None:
    live_room(api)
    status = await PandaTv(http).check_live(ROOM, StreamSelection(cdns=["hls2"]))
    assert status.source is not None
    assert status.source.url == f"{HLS}?edge=2"


async def test_channel_url(api, http) -> None:
    live_room(api)
    status = await PandaTv(http).check_live(
        f"https://www.pandalive.co.kr/channel/{USER}/home"
    )
    assert status.is_live


async def test_offline_room(api, http) -> None:
    api.room(USER, author="릴리", extra={"channel_title": "릴리의 방"})
    status = await PandaTv(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert (status.title, status.author) == ("릴리의 방", "릴리")
    assert [r.path for r in api.requests] == ["/v1/member/bj"]


async def test_missing_user_is_not_found(api, http) -> None:
    status = await PandaTv(http).check_live(
        "https://www.pandalive.co.kr/live/play/nobody"
    )
    assert status.result is LiveOutcome.NOT_FOUND
    assert "유저 정보가 없습니다" in status.detail


@pytest.mark.parametrize(
    ("password", "outcome", "asked"),
    [
        pytest.param(None, LiveOutcome.PRIVATE, 1, id="none"),
        pytest.param("0000", LiveOutcome.PRIVATE, 2, id="wrong"),
        pytest.param("1234", LiveOutcome.LIVE, 2, id="right"),
    ],
)
async def test_password_room(api, http, password, outcome, asked) -> None:
    live_room(api, password="1234")
    status = await PandaTv(http, PandaTvOptions(password=password)).check_live(ROOM)
    assert status.result is outcome
    assert len(api.requests) == asked
    if asked == 2:
        assert form(api, 1)["password"] == password
    if password == "0000":
        assert "wrongPw" in status.detail


async def test_adult_room_needs_cookies(api, http) -> None:
    live_room(api, adult=True)
    guest = await PandaTv(http).check_live(ROOM)
    assert guest.result is LiveOutcome.AGE_RESTRICTED
    assert guest.result.fatal
    signed = await PandaTv(http, PandaTvOptions(cookies="sessKey=abc")).check_live(ROOM)
    assert signed.result is LiveOutcome.LIVE
    assert api.requests[-1].headers.get("Cookie") == "sessKey=abc"
    assert signed.source is not None
    assert "Cookie" not in signed.source.headers


async def test_cookies_of_an_unverified_account(api, http) -> None:
    live_room(api, adult=True)
    options = PandaTvOptions(cookies="other=1")
    status = await PandaTv(http, options).check_live(ROOM)
    assert status.result is LiveOutcome.AGE_RESTRICTED
    assert "needAdult" in status.detail


async def test_broadcast_ended_between_the_calls(api, http) -> None:
    live_room(api, cast_end=True)  # member/bj says live, live/play that it ended
    status = await PandaTv(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert "castEnd" in status.detail
    assert status.title == "앙앙 방송"


async def test_throttled_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await PandaTv(http).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert status.retry_after_secs == 7


async def test_malformed_answer_names_the_missing_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"missing field bjInfo\.id"):
        await PandaTv(http).check_live(ROOM)

"""Bigo: URL table, the web token, outcomes, options, protected streams, chat.

Nothing of Bigo was captured: the API tests run through the real HTTP client and
the host-mapping transport against the fake Bigo (`tests/fakes/platform/bigo.py`),
which answers in the shapes the public clients read and decrypts our token payload
with streamlink's own code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING

import pytest
from streamlink.utils.crypto import decrypt_openssl, evp_bytestokey

from activities.contracts import LiveOutcome, StreamKind
from activities.danmu import codec_for
from activities.errors import ExtractorError
from activities.platforms._bigo_api import (
    TOKEN_PASSPHRASE,
    encrypt_openssl,
    evp_bytes_to_key,
    jsonp,
    token_payload,
)
from activities.platforms.base import Outcome
from activities.platforms.bigo import Bigo, BigoOptions
from tests.activities.platforms.urltable import UrlTable
from tests.fakes.platform import FakePlatforms
from tests.fakes.platform.bigo import BigoApi

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

SITE = "221338632"
ROOM = f"https://www.bigo.tv/{SITE}"
HLS = "http://127.0.0.1:9/list_6576287577575737440_0.m3u8"


class TestUrls(UrlTable):
    extractor = Bigo
    should_match_groups = (
        pytest.param(ROOM, "live", {"channel": SITE}, id="site-id"),
        pytest.param(
            "https://www.bigo.tv/ja/221338632", "live", {"channel": SITE}, id="lang"
        ),
        pytest.param(
            "https://bigo.tv/th/Tarlerm1304",
            "live",
            {"channel": "Tarlerm1304"},
            id="name",
        ),
        pytest.param(
            "https://slink.bigovideo.tv/AbCd12", "share", {"code": "AbCd12"}, id="share"
        ),
    )
    should_match = (
        pytest.param("https://www.bigo.tv/ba.brendac", id="dotted-name"),
        pytest.param("https://www.bigo.tv/zh-cn/716418802/", id="region-lang"),
        pytest.param("https://www.bigo.tv/cn/716418802?lang=zh", id="query"),
    )
    should_not_match = (
        pytest.param("https://www.bigo.tv/", id="root"),
        pytest.param("https://www.bigo.tv/games", id="games"),
        pytest.param("https://www.bigo.tv/ja/", id="lang-root"),
        pytest.param("https://www.bigo.tv/user/221338632/posts", id="deeper"),
        pytest.param("https://www.bigo.tv.example.com/221338632", id="lookalike"),
        pytest.param("https://slink.bigovideo.tv/", id="share-root"),
    )


# --- the web token --------------------------------------------------------------------


def test_key_derivation_matches_openssls() -> None:
    """EVP_BytesToKey as streamlink implements it for the same purpose."""
    salt = bytes(range(8))
    assert evp_bytes_to_key(TOKEN_PASSPHRASE, salt) == evp_bytestokey(
        TOKEN_PASSPHRASE, salt, 32, 16
    )


def test_token_payload_decrypts_with_streamlink() -> None:
    payload = token_payload("1767000000", "0" * 32)
    encrypted = encrypt_openssl(payload, TOKEN_PASSPHRASE)
    assert encrypted.startswith(b"Salted__")
    assert decrypt_openssl(encrypted, TOKEN_PASSPHRASE) == payload
    assert json.loads(payload) == {
        "dr": "0" * 32,
        "business": "bigolive-video",
        "scene": "",
        "at_time": "1767000000",
        "ver": "2.0",
    }


def test_jsonp() -> None:
    assert jsonp('jsonpcallback_1_2({"token":"t"});', "x") == '{"token":"t"}'
    with pytest.raises(ExtractorError, match="not a JSONP answer"):
        jsonp("<html>", "bigo token")


# --- through the real client, against the fake ---------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        yield platforms


@pytest.fixture
def api(fake: FakePlatforms) -> Iterator[BigoApi]:
    api = fake.apis["bigo"]
    assert isinstance(api, BigoApi)
    yield api
    api.rooms.clear()
    api.requests.clear()
    api.tokens.clear()
    api.shares.clear()
    api.studio_forms.clear()
    api.malformed = False
    api.throttle(0)


@pytest.fixture
async def http(fake: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fake.client() as client:
        yield client


def live_room(api: BigoApi, **extra: object) -> None:
    room = api.room(
        SITE, title="REST room", author="✨Shin💫", category="Chat", extra=dict(extra)
    )
    room.go_live(HLS)


async def test_live_room(api, http) -> None:
    live_room(api)
    status = await Bigo(http).check_live(ROOM)
    assert status.result is LiveOutcome.LIVE
    assert (status.title, status.author) == ("REST room", "✨Shin💫")
    assert status.cover_url.endswith(f"{SITE}.jpg")
    assert status.source is not None
    assert (status.source.url, status.source.kind) == (HLS, StreamKind.HLS)
    assert status.source.headers["Referer"] == "https://www.bigo.tv/"
    # the token was minted, then spent on the studio request
    (form,) = api.studio_forms
    assert (form["siteId"], form["verify"], form["supportHevc"]) == (SITE, "", "0")
    assert form["token"]
    assert not api.tokens


async def test_hevc_is_asked_for(api, http) -> None:
    live_room(api)
    status = await Bigo(http, BigoOptions(hevc=True)).check_live(ROOM)
    assert api.studio_forms[0]["supportHevc"] == "1"
    assert status.source is not None
    assert status.source.codec == "hevc"


async def test_without_the_token_no_stream_is_offered(api, http) -> None:
    live_room(api)
    status = await Bigo(http, BigoOptions(mint_token=False)).check_live(ROOM)
    assert "token" not in api.studio_forms[0]
    assert status.result is LiveOutcome.UNAVAILABLE
    assert "no stream" in status.detail


async def test_a_failed_mint_asks_without_the_token(api, http) -> None:
    live_room(api)
    api.throttle(1)  # the token's time request
    status = await Bigo(http).check_live(ROOM)
    assert "token" not in api.studio_forms[0]
    assert status.result is LiveOutcome.UNAVAILABLE


async def test_scrambled_segments_go_to_streamlink(api, http) -> None:
    live_room(api, protected=True)
    status = await Bigo(http).check_live("https://www.bigo.tv/ja/221338632")
    assert status.source is not None
    assert status.source.kind is StreamKind.STREAMLINK
    # the URL streamlink's Bigo plugin claims
    assert status.source.url == ROOM


@pytest.mark.parametrize(
    ("password", "outcome"),
    [
        pytest.param(None, LiveOutcome.PRIVATE, id="none"),
        pytest.param("wrong", LiveOutcome.PRIVATE, id="wrong"),
        pytest.param("s3cret", LiveOutcome.LIVE, id="right"),
    ],
)
async def test_password_room(api, http, password, outcome) -> None:
    live_room(api, password="s3cret")
    status = await Bigo(http, BigoOptions(password=password)).check_live(ROOM)
    assert status.result is outcome
    if password:
        form = api.studio_forms[0]
        assert form["verify"] == hashlib.md5(password.encode()).hexdigest()
        assert form["isEncrypt"] == "1"


async def test_offline_room(api, http) -> None:
    api.room(SITE, author="✨Shin💫")
    status = await Bigo(http).check_live(ROOM)
    assert status.result is LiveOutcome.OFFLINE
    assert status.author == "✨Shin💫"


async def test_missing_channel_is_not_found(api, http) -> None:
    status = await Bigo(http).check_live("https://www.bigo.tv/nobody404")
    assert status.result is LiveOutcome.NOT_FOUND


async def test_share_link_is_followed(api, http) -> None:
    live_room(api)
    api.share("AbCd12", SITE)
    status = await Bigo(http).check_live("https://slink.bigovideo.tv/AbCd12")
    assert status.is_live
    assert api.studio_forms[0]["siteId"] == SITE


async def test_unknown_share_link_is_not_found(api, http) -> None:
    status = await Bigo(http).check_live("https://slink.bigovideo.tv/Nope99")
    assert status.result is LiveOutcome.NOT_FOUND


async def test_throttled_is_rate_limited(api, http) -> None:
    live_room(api)
    api.throttle(1)
    status = await Bigo(http, BigoOptions(mint_token=False)).check_live(ROOM)
    assert status.result is LiveOutcome.RATE_LIMITED
    assert status.retry_after_secs == 7


async def test_malformed_answer_names_the_field(api, http) -> None:
    live_room(api)
    api.malformed = True
    with pytest.raises(ExtractorError, match=r"data\.roomId"):
        await Bigo(http).check_live(ROOM)


async def test_danmu_info_for_the_bigo_codec(api, http) -> None:
    live_room(api, room_id="6576287577575737440")
    options = BigoOptions(password="s3cret", cookies="bigo=1")
    info = await Bigo(http, options).danmu_info(Bigo.channel(ROOM))
    assert (info.platform, info.room_id) == ("bigo", "6576287577575737440")
    assert info.token
    assert not info.token.endswith("###VER2")
    assert info.params["user_id"] == "4289453781"
    assert info.params["device_id"].startswith("web_")
    assert info.params["password"] == "s3cret"
    assert info.cookie == "bigo=1"
    codec = codec_for(info.platform)(info)
    assert codec.handshake() == []
    challenge = '256{"challenge":"0123456789abcdef"}'
    replies = codec.decode(challenge, 0.0).replies
    login = json.loads(str(replies[1]).removeprefix("512279"))
    assert (login["uid"], login["cookie"]) == ("4289453781", info.token)


async def test_danmu_info_needs_a_live_room(api, http) -> None:
    api.room(SITE)
    with pytest.raises(Outcome) as found:
        await Bigo(http).danmu_info(Bigo.channel(ROOM))
    assert found.value.outcome is LiveOutcome.OFFLINE


def test_b64_is_standard_base64() -> None:
    from activities.platforms._bigo_api import b64

    assert b64(b"\xfb\xff") == base64.b64encode(b"\xfb\xff").decode() == "+/8="

"""The registry: options from storage, masking, probing, and fresh URLs on expiry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from activities.contracts import LiveOutcome, StreamSelection
from activities.errors import ExtractorError, StreamUnavailableError
from activities.platforms import PlatformRegistry
from activities.platforms.bilibili import Bilibili, BilibiliOptions
from activities.platforms.generic import Generic
from activities.platforms.twitch import Twitch, TwitchOptions
from tests.fakes.platform import FakePlatforms

if TYPE_CHECKING:
    from collections.abc import Iterator

REGISTRY = PlatformRegistry([Twitch, Bilibili, Generic])
ROOM = "https://live.bilibili.com/23058"


def test_stored_options_are_validated_and_bad_fields_dropped(caplog) -> None:
    options = REGISTRY.options_for("bilibili", {"quality": 400, "qualty": 1})
    assert isinstance(options, BilibiliOptions)
    assert options.quality == 400
    assert "qualty" in caplog.text
    assert REGISTRY.options_for("twitch", None) == TwitchOptions()


def test_public_options_mask_secrets() -> None:
    shown = REGISTRY.public_options(
        "twitch", {"oauth_token": "s3cret", "cookies": "a=b"}
    )
    assert shown == {"oauth_token": "**********", "cookies": "**********"}


def test_unknown_platform() -> None:
    with pytest.raises(ExtractorError, match="no platform named 'nope'"):
        REGISTRY.named("nope")


@pytest.fixture
def fake() -> Iterator[FakePlatforms]:
    with FakePlatforms() as platforms:
        room = platforms.bilibili.room("23058", extra={"uid": 11153765})
        room.go_live("http://127.0.0.1:9/live-bvc/live_23058.flv")
        yield platforms


async def test_probe_names_the_channel_and_the_extractor(fake) -> None:
    async with fake.client() as http:
        found = await REGISTRY.probe(ROOM, http)
    assert (found.channel.platform, found.channel.reference) == ("bilibili", "23058")
    assert found.extractor == "bilibili"
    assert found.status.result is LiveOutcome.LIVE


async def test_refresh_resolves_the_same_stream_again(fake) -> None:
    selection = StreamSelection(qualities=["原画"], cdns=["fake01"])
    async with fake.client() as http:
        status = await REGISTRY.extractor_for(ROOM, http).check_live(ROOM, selection)
        old = status.source
        assert old is not None
        fresh = await REGISTRY.refresh(old, http)
    assert fresh.url != old.url
    assert (fresh.kind, fresh.quality, fresh.cdn) == (old.kind, old.quality, old.cdn)
    assert fresh.channel_url == ROOM
    # the streamer's own selection travels on, not the pinned one
    assert fresh.selection == selection


async def test_refresh_of_an_ended_stream_is_unavailable(fake) -> None:
    async with fake.client() as http:
        status = await REGISTRY.extractor_for(ROOM, http).check_live(ROOM)
        assert status.source is not None
        fake.bilibili.rooms["23058"].go_offline()
        with pytest.raises(StreamUnavailableError, match="is offline"):
            await REGISTRY.refresh(status.source, http)

"""The detection activity: platform lookup and error conversion at the boundary."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import Session
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment

from activities.contracts import (
    CheckLiveInput,
    LiveOutcome,
    LiveStatus,
    StreamInfo,
    StreamKind,
)
from activities.db import (
    ConfigTemplate,
    Streamer,
    crud,
    crud_config,
    make_engine,
    migrate,
)
from activities.detect import (
    DbOptionsProvider,
    DbProfiles,
    PlatformActivities,
    StoredOptions,
)
from activities.platforms import Channel, Extractor, PlatformOptions, PlatformRegistry
from activities.platforms.base import answer
from activities.platforms.generic import Generic

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

URL = "https://cdn.example.com/live/room.m3u8"


class ScriptedOptions(PlatformOptions):
    token: SecretStr | None = None


ENDED = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n#EXT-X-ENDLIST\n"


def origin(request: httpx.Request) -> httpx.Response:
    if str(request.url) == URL:
        return httpx.Response(200, text=ENDED)
    if str(request.url) == URL.replace("room", "broken"):
        return httpx.Response(503)
    raise AssertionError(f"unexpected request to {request.url}")


@pytest.fixture
async def acts() -> AsyncIterator[PlatformActivities]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin)) as http:
        yield PlatformActivities(http, PlatformRegistry([Generic]))


async def test_offline_is_a_value(acts: PlatformActivities) -> None:
    status = await ActivityEnvironment().run(acts.check_live, CheckLiveInput(url=URL))
    assert not status.is_live


async def test_unsupported_url_is_not_retried(acts: PlatformActivities) -> None:
    inp = CheckLiveInput(url="https://example.com/channel")
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(acts.check_live, inp)
    assert caught.value.type == "UnsupportedUrlError"
    assert caught.value.non_retryable
    assert isinstance(caught.value.__cause__, Exception)


async def test_transient_failure_is_benign_and_retried(
    acts: PlatformActivities,
) -> None:
    inp = CheckLiveInput(url=URL.replace("room", "broken"))
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(acts.check_live, inp)
    assert caught.value.type == "StreamUnavailableError"
    assert not caught.value.non_retryable
    assert caught.value.category is ApplicationErrorCategory.BENIGN


# --- options, outcomes and the stream list at the activity boundary ------------------


class Scripted(Extractor):
    """Answers what the test scripted; remembers the options it was built with."""

    platform = "scripted"
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(r"https://scripted\.tv/(?P<channel>\w+)\Z")
    }
    options_model = ScriptedOptions
    answers: ClassVar[dict[str, LiveStatus]] = {}
    seen: ClassVar[list[PlatformOptions]] = []

    async def check(self, channel: Channel) -> LiveStatus:
        type(self).seen.append(self.options)
        return self.answers[channel.groups["channel"]]


@dataclass
class FakeOptions:
    stored: dict[int, dict[str, Any]] = field(default_factory=dict)
    version: str | None = "v1"

    async def lookup(self, inp: CheckLiveInput) -> StoredOptions:
        if inp.streamer_id is None:
            return StoredOptions()
        return StoredOptions(self.stored.get(inp.streamer_id, {}), self.version)


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[PlatformActivities, FakeOptions]]:
    Scripted.answers = {}
    Scripted.seen = []
    options = FakeOptions({7: {"token": "s3cret", "bogus": 1}})
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin)) as http:
        yield PlatformActivities(http, PlatformRegistry([Scripted]), options), options


async def test_the_activity_reads_the_streamers_options_itself(scripted) -> None:
    acts, _ = scripted
    live = StreamInfo(url="http://cdn/a.flv", kind=StreamKind.FLV)
    Scripted.answers["alice"] = answer(LiveOutcome.LIVE, streams=[live])
    inp = CheckLiveInput(url="https://scripted.tv/alice", streamer_id=7)
    status = await ActivityEnvironment().run(acts.check_live, inp)
    (options,) = Scripted.seen
    assert isinstance(options, ScriptedOptions)
    # the stored token arrives; the field the model refuses is dropped
    assert options.token is not None
    assert options.token.get_secret_value() == "s3cret"
    # the picked source goes into history, not the whole offer
    assert status.source is not None
    assert status.source.url == "http://cdn/a.flv"
    assert status.streams == []


async def test_a_changed_configuration_is_reported_stale(scripted) -> None:
    acts, options = scripted
    Scripted.answers["alice"] = answer(LiveOutcome.OFFLINE)
    url = "https://scripted.tv/alice"
    env = ActivityEnvironment()
    same = CheckLiveInput(url=url, streamer_id=7, config_version="v1")
    assert not (await env.run(acts.check_live, same)).config_stale
    options.version = "v2"  # the configuration changed since the workflow loaded it
    assert (await env.run(acts.check_live, same)).config_stale
    # a workflow that does not say what it loaded is never told
    unknown = CheckLiveInput(url=url, streamer_id=7)
    assert not (await env.run(acts.check_live, unknown)).config_stale


async def test_fatal_outcomes_are_values(scripted) -> None:
    acts, _ = scripted
    Scripted.answers["gone"] = answer(LiveOutcome.BANNED, "locked")
    inp = CheckLiveInput(url="https://scripted.tv/gone")
    status = await ActivityEnvironment().run(acts.check_live, inp)
    assert (status.result, status.is_live, status.detail) == (
        LiveOutcome.BANNED,
        False,
        "locked",
    )
    assert Scripted.seen == [ScriptedOptions()]


async def test_rate_limit_is_retried_after_the_platforms_delay(scripted) -> None:
    acts, _ = scripted
    Scripted.answers["busy"] = answer(
        LiveOutcome.RATE_LIMITED, "HTTP 429", retry_after_secs=42
    )
    inp = CheckLiveInput(url="https://scripted.tv/busy")
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(acts.check_live, inp)
    assert caught.value.type == "RateLimitedError"
    assert not caught.value.non_retryable
    assert caught.value.category is ApplicationErrorCategory.BENIGN
    assert caught.value.next_retry_delay == timedelta(seconds=42)


async def test_db_options_provider(db_url) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with Session(engine) as db:
        row = crud.create_streamer(
            db,
            Streamer(
                name="a",
                url="https://scripted.tv/a",
                platform="scripted",
                platform_options={"token": "t"},
            ),
        )
    provider = DbOptionsProvider(engine)
    assert row.id is not None
    url = "https://scripted.tv/a"
    mine = provider.owner.instance_id
    asked = CheckLiveInput(url=url, streamer_id=row.id, instance_id=mine)
    assert await provider.stored_options(asked) == {"token": "t"}
    # the platform level and a template add to it; the streamer's own value wins
    with Session(engine) as db:
        crud_config.put_platform(db, "scripted", {}, {"token": "p", "extra": 1})
        template = crud_config.save_template(
            db,
            ConfigTemplate(name="t", platform_options={"scripted": {"more": 2}}),
        )
        crud.update_streamer(db, row, {"template_id": template.id})
    merged = await provider.lookup(asked)
    assert merged.options == {"token": "t", "extra": 1, "more": 2}
    assert merged.version is not None
    other = CheckLiveInput(url=url, streamer_id=row.id + 1, instance_id=mine)
    assert await provider.stored_options(other) == {}
    # another instance's streamer with the same id never gets our options
    foreign = CheckLiveInput(url=url, streamer_id=row.id, instance_id="not-ours")
    with pytest.raises(ApplicationError) as caught:
        await provider.stored_options(foreign)
    assert caught.value.type == "ForeignInstance"
    engine.dispose()


async def test_a_clean_check_keeps_the_streamers_title_and_avatar(db_url) -> None:
    engine = make_engine(db_url)
    with Session(engine) as db:
        row = crud.create_streamer(
            db, Streamer(name="a", url="https://scripted.tv/a", platform="scripted")
        )
    assert row.id is not None
    Scripted.answers = {}
    Scripted.seen = []
    face = "https://img.test/a.png"
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin)) as http:
        acts = PlatformActivities(
            http, PlatformRegistry([Scripted]), FakeOptions(), DbProfiles(engine)
        )
        inp = CheckLiveInput(url="https://scripted.tv/a", streamer_id=row.id)
        env = ActivityEnvironment()
        Scripted.answers["a"] = answer(
            LiveOutcome.OFFLINE, title="Back at 8", category="Art", avatar_url=face
        )
        await env.run(acts.check_live, inp)
        # a fatal answer's words are not the stream's title
        Scripted.answers["a"] = answer(LiveOutcome.BANNED, "locked", title="x")
        await env.run(acts.check_live, inp)
    with Session(engine) as db:
        found = crud.get_streamer(db, row.id)
        assert found is not None
        assert (found.title, found.category, found.avatar_url) == (
            "Back at 8",
            "Art",
            face,
        )
    engine.dispose()

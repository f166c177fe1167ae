"""The shard poller keeps each streamer's title, category and avatar, writing only
what changed (fake clock and platform, a real app DB)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from activities.contracts import LiveOutcome
from activities.db import Streamer, crud, make_engine
from activities.db.crud_profile import Profile, save_profiles
from activities.platforms.base import answer
from activities.poll.profile import ProfileWriter
from tests.activities.poll.harness import Harness, live, platform

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def world(engine) -> AsyncIterator[tuple[Harness, ProfileWriter, list[int]]]:
    writer = ProfileWriter(engine)
    harness = Harness(profiles=writer)
    harness.registry.extractors = [platform("tv", harness.script)]
    ids = []
    with Session(engine) as db:
        for name in ("a", "b"):
            row = crud.create_streamer(
                db, Streamer(name=name, url=f"https://tv.test/{name}", platform="tv")
            )
            assert row.id is not None
            ids.append(row.id)
    for sid, name in zip(ids, ("a", "b"), strict=True):
        harness.add(sid, f"https://tv.test/{name}", interval=10)
    yield harness, writer, ids
    await harness.close()


def stored(engine: sa.Engine, sid: int) -> tuple[str | None, ...]:
    with Session(engine) as db:
        row = crud.get_streamer(db, sid)
        assert row is not None
        return (row.title, row.category, row.avatar_url)


async def test_checks_write_a_profile_once_and_again_when_it_changes(
    engine, world
) -> None:
    harness, writer, (a, b) = world
    face = "https://img.test/a.png"
    harness.script.set(
        "a",
        answer(LiveOutcome.OFFLINE, title="Tonight 8pm", avatar_url=face),
        answer(LiveOutcome.OFFLINE, title="Tonight 8pm", avatar_url=face),
        answer(LiveOutcome.OFFLINE, title="Tonight 8pm", avatar_url=face),
        live("Speedrun").model_copy(update={"avatar_url": face}),
    )
    harness.script.set("b", answer(LiveOutcome.OFFLINE))  # says nothing: no write
    await harness.run(45)
    await writer.close()
    assert len(harness.script.checks_of("a")) >= 4
    assert stored(engine, a) == ("Speedrun", "games", face)
    assert stored(engine, b) == (None, None, None)
    assert writer.writes == 2  # the first profile, then the new title: no more


async def test_failed_and_fatal_checks_keep_the_stored_profile(engine, world) -> None:
    harness, writer, (a, _b) = world
    harness.script.set(
        "a",
        live("Speedrun"),
        answer(LiveOutcome.BANNED, title="banned room"),
        answer(LiveOutcome.OFFLINE, title="gone", error="HTTP 404"),
        RuntimeError("boom"),
    )
    await harness.run(35)
    await writer.close()
    assert stored(engine, a)[0] == "Speedrun"
    assert writer.writes == 1


async def test_a_roster_entry_that_holds_the_profile_already_costs_no_write(
    engine, world
) -> None:
    harness, writer, (a, _b) = world
    with Session(engine) as db:
        save_profiles(db, {a: Profile("Speedrun", "games")})
    harness.entries[a] = replace(
        harness.entries[a], profile=Profile("Speedrun", "games")
    )
    harness.marker += 1
    harness.script.set("a", live("Speedrun"))
    await harness.run(25)
    await writer.close()
    assert writer.writes == 0

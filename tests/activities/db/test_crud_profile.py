"""A streamer's profile: what live checks say of its title, category and avatar."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from activities.db import Streamer, crud, make_engine
from activities.db.crud_profile import Profile, save_profiles
from activities.db.tables import TITLE_MAX_LENGTH

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def add(engine: sa.Engine, name: str = "alice") -> int:
    with Session(engine) as db:
        row = crud.create_streamer(
            db, Streamer(name=name, url=f"https://a.test/{name}", platform="generic")
        )
        assert row.id is not None
        return row.id


def row(engine: sa.Engine, sid: int) -> Streamer:
    with Session(engine) as db:
        found = crud.get_streamer(db, sid)
        assert found is not None
        return found


def test_a_check_writes_what_changed_and_keeps_what_it_did_not_say(engine) -> None:
    sid = add(engine)
    before = row(engine, sid)
    found = Profile("Speedrun", "Games", "https://cdn.test/a.jpg")
    with Session(engine) as db:
        assert save_profiles(db, {sid: found}) == 1
    after = row(engine, sid)
    assert (after.title, after.category, after.avatar_url) == (
        "Speedrun",
        "Games",
        "https://cdn.test/a.jpg",
    )
    assert after.profile_at is not None
    # the pollers read `updated_at` as the workflow's news: a profile is not
    assert after.updated_at == before.updated_at
    with Session(engine) as db:
        assert save_profiles(db, {sid: found}) == 0  # the same again: no write
        # offline, many platforms say no title: the last one stays
        assert save_profiles(db, {sid: Profile(title="", category="Chat")}) == 1
    last = row(engine, sid)
    assert (last.title, last.category) == ("Speedrun", "Chat")


def test_empty_profiles_and_deleted_streamers_write_nothing(engine) -> None:
    sid = add(engine)
    with Session(engine) as db:
        assert save_profiles(db, {sid: Profile(), sid + 100: Profile("x")}) == 0
    assert row(engine, sid).profile_at is None


@pytest.mark.parametrize(
    ("avatar", "kept"),
    [
        pytest.param("https://i0.test/face.png", True, id="https"),
        pytest.param(" http://i0.test/face.png ", True, id="http-trimmed"),
        pytest.param("javascript:alert(1)", False, id="script"),
        pytest.param("data:image/png;base64,AAAA", False, id="data"),
        pytest.param("//i0.test/face.png", False, id="scheme-relative"),
        pytest.param("https://i0.test/" + "a" * 3000, False, id="too-long"),
    ],
)
def test_only_web_addresses_are_kept_as_avatars(avatar: str, kept: bool) -> None:
    found = Profile.clean("t" * (TITLE_MAX_LENGTH + 5), "", avatar)
    assert len(found.title) == TITLE_MAX_LENGTH
    assert (found.avatar_url == avatar.strip()) is kept
    assert bool(found.avatar_url) is kept

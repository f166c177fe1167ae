"""The shard roster: which streamers a shard polls, and its change marker."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from activities.contracts import RecordingPolicy, StreamerState
from activities.db import Streamer, crud, make_engine, migrate
from activities.poll.roster import Roster

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DEFAULTS = RecordingPolicy(poll_interval_secs=45)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(engine)
    yield engine
    engine.dispose()


def add(db: sa.Engine, n: int, **fields) -> int:
    with Session(db) as session:
        row = crud.create_streamer(
            session,
            Streamer(
                name=f"s{n}",
                url=f"https://cdn.test/s{n}.m3u8",
                platform="generic",
                **fields,
            ),
        )
        assert row.id is not None
        return row.id


def roster(db: sa.Engine, shard: int, shards: int = 2) -> Roster:
    return Roster(db, shard, shards, [StreamerState.NOT_LIVE], DEFAULTS)


def test_a_shard_holds_its_waiting_enabled_streamers(db) -> None:
    ids = [add(db, n) for n in range(6)]
    paused = add(db, 6, enabled=False)
    with Session(db) as session:
        crud.set_streamer_state(session, ids[2], state="LIVE", enabled=True)
    even, odd = roster(db, 0).read(), roster(db, 1).read()
    assert set(even) | set(odd) == set(ids) - {ids[2]}
    assert all(i % 2 == 0 for i in even)
    assert all(i % 2 == 1 for i in odd)
    assert paused not in set(even) | set(odd)
    assert ids[2] not in set(even) | set(odd)


def test_entries_carry_the_effective_interval_and_options(db) -> None:
    plain = add(db, 0)
    fast = add(
        db,
        1,
        settings={"poll_interval_secs": 10},
        platform_options={"cookies": "a=b"},
    )
    entries = Roster(db, 0, 1, [StreamerState.NOT_LIVE], DEFAULTS).read()
    assert entries[plain].interval == 45
    assert entries[fast].interval == 10
    assert entries[fast].options == {"cookies": "a=b"}
    assert entries[plain].url == "https://cdn.test/s0.m3u8"


def test_the_marker_moves_with_every_change_of_the_shard(db) -> None:
    shard = Roster(db, 0, 1, [StreamerState.NOT_LIVE], DEFAULTS)
    first = shard.marker()
    sid = add(db, 0)
    second = shard.marker()
    assert second != first
    assert shard.marker() == second  # nothing changed
    with Session(db) as session:
        crud.set_streamer_state(session, sid, state="LIVE", enabled=True)
    third = shard.marker()
    assert third != second
    with Session(db) as session:
        row = crud.get_streamer(session, sid)
        assert row is not None
        crud.delete_streamer(session, row)
    assert shard.marker() != third


def test_the_config_generation_is_part_of_the_marker_when_it_exists(db) -> None:
    shard = Roster(db, 0, 1, [StreamerState.NOT_LIVE], DEFAULTS)
    assert shard.marker()[2] is None
    with db.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE config_global (id INTEGER, generation BIGINT)")
        )
        conn.execute(sa.text("INSERT INTO config_global VALUES (1, 7)"))
    later = Roster(db, 0, 1, [StreamerState.NOT_LIVE], DEFAULTS)
    assert later.marker()[2] == 7
    with db.begin() as conn:
        conn.execute(sa.text("UPDATE config_global SET generation = 8"))
    assert later.marker()[2] == 8

"""The shard roster: which streamers a shard polls, and its change marker."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from activities.contracts import StreamerState
from activities.db import ConfigTemplate, Streamer, crud, crud_config, make_engine
from activities.poll.roster import Roster
from tests.fakes.clock import FakeClock

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    with Session(engine) as session:
        crud_config.set_global(session, {"poll_interval_secs": 45})
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
    return Roster(db, shard, shards, [StreamerState.NOT_LIVE])


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
    with Session(db) as session:
        template = crud_config.save_template(
            session,
            ConfigTemplate(name="slow", settings={"poll_interval_secs": 120}),
        )
        crud_config.put_platform(session, "generic", {}, {"cookies": "p=q"})
        template_id = template.id
    templated = add(db, 2, template_id=template_id)
    entries = Roster(db, 0, 1, [StreamerState.NOT_LIVE]).read()
    assert entries[plain].interval == 45  # global
    assert entries[fast].interval == 10  # the streamer's own
    assert entries[templated].interval == 120  # its template's
    assert entries[fast].options == {"cookies": "a=b"}
    assert entries[plain].options == {"cookies": "p=q"}  # the platform's
    assert entries[plain].url == "https://cdn.test/s0.m3u8"


def test_the_marker_moves_with_every_change_of_the_shard(db) -> None:
    shard = Roster(db, 0, 1, [StreamerState.NOT_LIVE])
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


def test_a_change_of_a_level_above_moves_the_marker_and_the_entries(db) -> None:
    sid = add(db, 0)
    shard = Roster(db, 0, 1, [StreamerState.NOT_LIVE])
    first = shard.marker()
    assert shard.read()[sid].interval == 45
    with Session(db) as session:
        crud_config.set_global(session, {"poll_interval_secs": 90})
    assert shard.marker() != first
    assert shard.read()[sid].interval == 90


def test_a_read_after_the_first_takes_only_the_rows_written_since(db) -> None:
    ids = [add(db, n) for n in range(4)]
    clock = FakeClock()
    shard = Roster(db, 0, 1, [StreamerState.NOT_LIVE], clock=clock)
    assert set(shard.read()) == set(ids)
    with Session(db) as session:
        crud.set_streamer_state(session, ids[1], state="LIVE", enabled=True)
    newcomer = add(db, 9)
    assert set(shard.read()) == {ids[0], ids[2], ids[3], newcomer}
    with Session(db) as session:
        crud.set_streamer_state(session, ids[1], state="NOT_LIVE", enabled=True)
        crud.set_streamer_state(session, ids[3], state="NOT_LIVE", enabled=False)
    again = shard.read()
    assert set(again) == {ids[0], ids[1], ids[2], newcomer}
    assert shard.whole_reads == 1  # the first only


def test_a_deletion_a_level_change_or_time_reads_the_shard_whole(db) -> None:
    ids = [add(db, n) for n in range(3)]
    clock = FakeClock()
    shard = Roster(db, 0, 1, [StreamerState.NOT_LIVE], clock=clock)
    shard.read()
    with Session(db) as session:
        row = crud.get_streamer(session, ids[0])
        assert row is not None
        crud.delete_streamer(session, row)
    assert set(shard.read()) == set(ids[1:])
    assert shard.whole_reads == 2
    with Session(db) as session:
        crud_config.set_global(session, {"poll_interval_secs": 20})
    assert {e.interval for e in shard.read().values()} == {20}
    assert shard.whole_reads == 3
    shard.read()
    assert shard.whole_reads == 3
    clock.now = 301.0
    shard.read()
    assert shard.whole_reads == 4


def test_the_dict_a_read_returns_is_the_callers(db) -> None:
    sid = add(db, 0)
    shard = Roster(db, 0, 1, [StreamerState.NOT_LIVE])
    first = shard.read()
    first.clear()
    assert set(shard.read()) == {sid}

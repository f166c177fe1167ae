"""Streamer filters in the app database: rows, specs, and their migration."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from activities.contracts import (
    CategoryFilter,
    CronFilter,
    FilterSpec,
    KeywordFilter,
    RegexFilter,
    TimeWindowFilter,
    Weekday,
)
from activities.db import (
    Streamer,
    StreamerFilter,
    crud,
    crud_filters,
    make_engine,
    migrate,
)
from tests.databases import alembic_to

if TYPE_CHECKING:
    from collections.abc import Iterator

WINDOW = TimeWindowFilter(
    days_of_week=[Weekday.FRIDAY],
    start_time="22:00",
    end_time="02:00",
    timezone="Europe/Berlin",
)


@pytest.fixture
def db(db_url: str) -> Iterator[Session]:
    engine = make_engine(db_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _streamer(db: Session, name: str = "alice") -> int:
    row = crud.create_streamer(
        db, Streamer(name=name, url=f"https://fake.tv/{name}", platform="faketv")
    )
    assert row.id is not None
    return row.id


def test_filters_round_trip_in_id_order(db: Session) -> None:
    sid = _streamer(db)
    specs: list[FilterSpec] = [
        WINDOW,
        CronFilter(expression="* 20-23 * * 1-5", timezone="UTC"),
        KeywordFilter(include=["原神"], exclude=["rerun"]),
        CategoryFilter(categories=["Art"]),
        RegexFilter(pattern=r"^\[EN\]", case_insensitive=True, exclude=True),
    ]
    rows = [crud_filters.create_filter(db, sid, s) for s in specs]
    assert rows[0].type == "time_window"
    assert "type" not in rows[0].config
    assert [crud_filters.spec(r) for r in crud_filters.list_filters(db, sid)] == specs
    assert crud_filters.filter_specs(db, sid) == specs
    assert crud_filters.count_filters(db, sid) == 5


def test_a_filter_belongs_to_its_streamer(db: Session) -> None:
    alice, bob = _streamer(db), _streamer(db, "bob")
    row = crud_filters.create_filter(db, alice, WINDOW)
    assert row.id is not None
    assert crud_filters.get_filter(db, alice, row.id) is not None
    assert crud_filters.get_filter(db, bob, row.id) is None
    assert crud_filters.list_filters(db, bob) == []


def test_update_may_change_the_type(db: Session) -> None:
    sid = _streamer(db)
    row = crud_filters.create_filter(db, sid, WINDOW)
    before = row.updated_at
    regex = RegexFilter(pattern="x")
    row = crud_filters.update_filter(db, row, regex)
    assert (row.type, crud_filters.spec(row)) == ("regex", regex)
    assert row.updated_at >= before
    crud_filters.delete_filter(db, row)
    assert crud_filters.list_filters(db, sid) == []


def test_deleting_a_streamer_deletes_its_filters(db: Session) -> None:
    alice, bob = _streamer(db), _streamer(db, "bob")
    crud_filters.create_filter(db, alice, WINDOW)
    crud_filters.create_filter(db, bob, WINDOW)
    streamer = crud.get_streamer(db, alice)
    assert streamer is not None
    crud.delete_streamer(db, streamer)
    assert crud_filters.count_filters(db, alice) == 0
    assert crud_filters.count_filters(db, bob) == 1


def test_a_row_edited_into_nonsense_is_left_out_and_logged(
    db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    sid = _streamer(db)
    crud_filters.create_filter(db, sid, WINDOW)
    db.add(StreamerFilter(streamer_id=sid, type="time_window", config={"start": 1}))
    db.add(StreamerFilter(streamer_id=sid, type="moon_phase", config={}))
    db.commit()
    assert crud_filters.filter_specs(db, sid) == [WINDOW]
    assert caplog.text.count("is not valid and is ignored") == 2


def test_the_filters_migration_goes_up_and_down(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    alembic_to(engine, "0011_config")
    migrate(engine)
    with Session(engine) as db:
        crud_filters.create_filter(db, _streamer(db), WINDOW)
    alembic_to(engine, "0011_config", "downgrade")
    with engine.connect() as conn:
        assert "streamer_filter" not in sa.inspect(conn).get_table_names()
        assert conn.execute(sa.text("SELECT name FROM streamer")).scalar() == "alice"
    engine.dispose()

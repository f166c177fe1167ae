"""Sessions, segments and streamers as the database keeps them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session

from activities.db import Streamer, crud, crud_sessions, make_engine, migrate

if TYPE_CHECKING:
    from collections.abc import Iterator

    import sqlalchemy as sa

START = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
URL = "https://fake.tv/alice"


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _streamer(name: str = "Alice", url: str = URL) -> Streamer:
    return Streamer(name=name, url=url, platform="faketv")


def _segment(db: Session, session_id: int, index: int, size: int, secs: float) -> None:
    crud_sessions.begin_segment(
        db, session_id=session_id, index=index, file_path=f"/r/{index}.ts"
    )
    crud_sessions.complete_segment(
        db, session_id=session_id, index=index, size_bytes=size, duration_secs=secs
    )


def test_open_session_with_a_known_key_returns_that_session(db: sa.Engine) -> None:
    with Session(db) as s:
        first = crud_sessions.open_session(
            s, streamer_id=1, title="t", start_time=START, open_key="streamer-1/r/1"
        )
        again = crud_sessions.open_session(
            s, streamer_id=1, title="t", start_time=START, open_key="streamer-1/r/1"
        )
        other = crud_sessions.open_session(
            s, streamer_id=1, title="t", start_time=START, open_key="streamer-1/r/2"
        )
        assert again.id == first.id
        assert other.id != first.id
        assert crud_sessions.list_sessions(s)[1] == 2


def test_sessions_without_a_key_are_all_distinct(db: sa.Engine) -> None:
    with Session(db) as s:
        for _ in range(2):
            crud_sessions.open_session(s, streamer_id=1, title="t", start_time=START)
        assert crud_sessions.list_sessions(s)[1] == 2


def test_totals_grow_as_segments_close(db: sa.Engine) -> None:
    with Session(db) as s:
        opened = crud_sessions.open_session(
            s, streamer_id=1, title="t", start_time=START
        )
        assert opened.id is not None
        sid = opened.id
        _segment(s, sid, 0, 100, 2.5)
        crud_sessions.begin_segment(s, session_id=sid, index=1, file_path="/r/1.ts")
        crud_sessions.record_segment_progress(
            s,
            session_id=sid,
            index=1,
            size_bytes=40,
            duration_secs=1.0,
            resume_marker=None,
        )
    with Session(db) as s:
        row = crud_sessions.get_session(s, sid)
        assert row is not None
        # the file being written is not counted until it closes
        assert (row.total_size_bytes, row.duration_secs) == (100, 2.5)
        crud_sessions.complete_segment(
            s, session_id=sid, index=1, size_bytes=50, duration_secs=1.5
        )
    with Session(db) as s:
        row = crud_sessions.get_session(s, sid)
        assert row is not None
        assert (row.total_size_bytes, row.duration_secs) == (150, 4.0)
        assert row.end_time is None
        crud_sessions.delete_segment(s, sid, 0)
        row = crud_sessions.get_session(s, sid)
        assert row is not None
        assert (row.total_size_bytes, row.duration_secs) == (50, 1.5)


def test_close_counts_every_segment_and_keeps_the_first_end(db: sa.Engine) -> None:
    end = START + timedelta(hours=1)
    with Session(db) as s:
        session = crud_sessions.open_session(
            s, streamer_id=1, title="t", start_time=START
        )
        assert session.id is not None
        _segment(s, session.id, 0, 100, 2.0)
        # a row a crashed attempt left: its size is bytes confirmed on disk
        crud_sessions.begin_segment(
            s, session_id=session.id, index=1, file_path="/r/1.ts"
        )
        crud_sessions.record_segment_progress(
            s,
            session_id=session.id,
            index=1,
            size_bytes=30,
            duration_secs=1.0,
            resume_marker=None,
        )
        closed = crud_sessions.close_session(s, session.id, end)
        assert closed is not None
        assert (closed.total_size_bytes, closed.duration_secs) == (130, 3.0)
        again = crud_sessions.close_session(s, session.id, end + timedelta(hours=1))
        assert again is not None
        assert again.end_time == end


def test_close_removes_a_session_that_recorded_nothing(db: sa.Engine) -> None:
    with Session(db) as s:
        empty = crud_sessions.open_session(
            s, streamer_id=1, title="t", start_time=START
        )
        assert empty.id is not None
        assert (
            crud_sessions.close_session(s, empty.id, START + timedelta(minutes=1))
            is None
        )
        assert crud_sessions.get_session(s, empty.id) is None
        assert crud_sessions.list_sessions(s)[1] == 0
        with pytest.raises(LookupError):
            crud_sessions.close_session(s, empty.id, START)


def test_count_completed_segments(db: sa.Engine) -> None:
    with Session(db) as s:
        session = crud_sessions.open_session(
            s, streamer_id=1, title="t", start_time=START
        )
        assert session.id is not None
        _segment(s, session.id, 0, 10, 1.0)
        crud_sessions.begin_segment(
            s, session_id=session.id, index=1, file_path="/r/1.ts"
        )
        assert crud_sessions.count_completed_segments(s, session.id) == 1


def test_a_url_is_unique_in_the_database(db: sa.Engine) -> None:
    with Session(db) as s:
        first = crud.create_streamer(s, _streamer())
    # a second writer that skipped (or raced past) the lookup
    with Session(db) as s:
        with pytest.raises(crud.StreamerTakenError) as caught:
            crud.create_streamer(s, _streamer(name="Bob"))
        assert caught.value.other.id == first.id
        bob = crud.create_streamer(s, _streamer(name="Bob", url=URL + "2"))
        with pytest.raises(crud.StreamerTakenError):
            crud.update_streamer(s, bob, {"url": URL})
        # the session is usable after the rollback
        assert [x.name for x in crud.list_streamers(s)[0]] == ["Alice", "Bob"]
        assert crud.get_streamer(s, bob.id or 0) is not None

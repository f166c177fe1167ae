"""The recorder fence: a newer attempt of a session stops the older one, which it
waits out before touching the files (SQLite and Postgres)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from activities.db import crud_sessions, make_engine
from activities.db.tables import StreamSession
from activities.fence import RecorderFence

if TYPE_CHECKING:
    from collections.abc import Iterator

    import sqlalchemy as sa


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_id(db: sa.Engine) -> int:
    with Session(db) as s:
        row = crud_sessions.open_session(
            s, streamer_id=1, title="t", start_time=datetime.now(UTC)
        )
        assert row.id is not None
        return row.id


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, secs: float) -> None:
        self.slept.append(secs)


async def renewed(fence: RecorderFence) -> None:
    fence.renew_if_due()
    assert fence._renewal is not None
    await fence._renewal


async def test_a_newer_attempt_stops_the_older_and_waits_it_out(
    db: sa.Engine, session_id: int
) -> None:
    clock = Clock()
    old = RecorderFence(db, session_id, lease_secs=15, clock=clock, sleep=clock.sleep)
    old.renew_if_due()
    assert old._renewal is None  # the heartbeat task runs before the claim
    await old.claim()
    assert clock.slept == []  # nobody recorded it before
    await renewed(old)
    assert not old.superseded.is_set()

    new = RecorderFence(db, session_id, lease_secs=15, clock=clock, sleep=clock.sleep)
    await new.claim()
    # the old one was seen just now: its whole lease is waited out
    (waited,) = clock.slept
    assert 14 < waited <= 15
    assert new.waited_secs == waited
    clock.now += 5
    await renewed(old)
    assert old.superseded.is_set()
    # the newer one keeps its claim
    clock.now += 5
    await renewed(new)
    assert not new.superseded.is_set()
    with Session(db) as s:
        row = s.get(StreamSession, session_id)
        assert row is not None
        assert row.recorder == new.token


async def test_a_recorder_silent_for_its_lease_is_not_waited_for(
    db: sa.Engine, session_id: int
) -> None:
    clock = Clock()
    with Session(db) as s:
        crud_sessions.claim_recorder(
            s, session_id, "dead", datetime.now(UTC) - timedelta(seconds=16)
        )
    new = RecorderFence(db, session_id, lease_secs=15, clock=clock, sleep=clock.sleep)
    await new.claim()
    assert clock.slept == []


async def test_an_unreachable_database_stops_the_recording_after_half_a_lease(
    db: sa.Engine, session_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    fence = RecorderFence(db, session_id, lease_secs=10, clock=clock, sleep=clock.sleep)
    await fence.claim()

    def down() -> bool:
        raise OperationalError("select", {}, Exception("connection refused"))

    monkeypatch.setattr(fence, "_renew_sync", down)
    clock.now += 4
    await renewed(fence)
    assert not fence.superseded.is_set()  # a hiccup
    clock.now += 4
    await renewed(fence)
    assert fence.superseded.is_set()


async def test_no_session_row_fences_nobody(db: sa.Engine) -> None:
    fence = RecorderFence(db, 424242)
    await fence.claim()
    fence.renew_if_due()
    assert fence._renewal is not None
    await asyncio.wait_for(fence._renewal, 10)
    assert not fence.superseded.is_set()


async def test_an_attempt_that_ended_is_not_waited_for(
    db: sa.Engine, session_id: int
) -> None:
    clock = Clock()
    first = RecorderFence(db, session_id, lease_secs=15, clock=clock, sleep=clock.sleep)
    await first.claim()
    await first.release()
    # the stream came back within the grace window: the next attempt starts at once
    second = RecorderFence(
        db, session_id, lease_secs=15, clock=clock, sleep=clock.sleep
    )
    await second.claim()
    assert clock.slept == []
    # a superseded attempt gives up nothing that is no longer its own
    await first.release()
    clock.now += 5
    await renewed(second)
    assert not second.superseded.is_set()

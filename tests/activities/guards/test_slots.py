"""Global recording slots: leases in one SQLite file shared by engines and processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session

from activities.contracts import Priority
from activities.db import crud_guards, make_engine, migrate
from activities.errors import NoRecordingSlotError
from activities.guards import RecordingSlots
from activities.guards.slots import BUSY_RETRY_SECS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import sqlalchemy as sa

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TTL = timedelta(seconds=60)


class WallClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, secs: float) -> None:
        self.now += timedelta(seconds=secs)


@pytest.fixture
def url(db_url: str) -> str:
    return db_url


@pytest.fixture
def db(url: str) -> Iterator[sa.Engine]:
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


async def until(check: Callable[[], Any], within: float = 10.0) -> None:
    """Wait (in real time) until `check()` (maybe a coroutine) is truthy."""
    async with asyncio.timeout(within):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.02)


def acquire(
    db: sa.Engine,
    holder: str,
    priority: str = "normal",
    *,
    now: datetime = T0,
    capacity: int = 2,
    extra: int = 1,
    token: str | None = None,
) -> crud_guards.SlotAnswer:
    with Session(db) as s:
        return crud_guards.acquire_recording_slot(
            s,
            holder=holder,
            token=token or f"t-{holder}",
            priority=priority,
            capacity=capacity,
            extra=extra,
            now=now,
            ttl=TTL,
        )


def held(db: sa.Engine) -> list[tuple[str, str, str]]:
    with Session(db) as s:
        return [
            (r.holder, r.state, r.kind) for r in crud_guards.list_recording_slots(s)
        ]


def release(db: sa.Engine, holder: str, token: str | None = None) -> None:
    with Session(db) as s:
        crud_guards.release_recording_slot(
            s, holder=holder, token=token or f"t-{holder}"
        )


# --- the limit across engines and processes -----------------------------------------


async def test_two_engines_on_one_file_never_exceed_the_limit(db, url) -> None:
    other = make_engine(url)
    try:
        pools = [
            RecordingSlots(engine, capacity=3, extra=0, max_waiters=0)
            for engine in (db, other)
        ]
        holders = [f"streamer-{n}" for n in range(24)]

        async def one(n: int, holder: str) -> bool:
            try:
                await pools[n % 2].acquire(holder, Priority.NORMAL)
            except NoRecordingSlotError:
                return False
            return True

        granted = await asyncio.gather(*(one(n, h) for n, h in enumerate(holders)))
    finally:
        other.dispose()
    assert sum(granted) == 3
    assert [state for _, state, _ in held(db)].count("held") == 3


def _compete(url: str, holders: list[str], start_at: float) -> int:
    """Run in a child process: try to take a slot for every holder at once."""
    engine = make_engine(url)
    time.sleep(max(0.0, start_at - time.time()))

    def one(holder: str) -> bool:
        with Session(engine) as s:
            answer = crud_guards.acquire_recording_slot(
                s,
                holder=holder,
                token=holder,
                priority="normal",
                capacity=4,
                extra=0,
                now=datetime.now(UTC),
                ttl=TTL,
            )
        return answer.granted

    with ThreadPoolExecutor(8) as pool:
        granted = sum(pool.map(one, holders))
    engine.dispose()
    return granted


def test_two_processes_never_exceed_the_limit(db, url) -> None:
    spawn = multiprocessing.get_context("spawn")
    start_at = time.time() + 3  # both children are up and race for the same moment
    with spawn.Pool(2) as pool:
        results = pool.starmap(
            _compete,
            [
                (url, [f"a-{n}" for n in range(12)], start_at),
                (url, [f"b-{n}" for n in range(12)], start_at),
            ],
        )
    assert sum(results) == 4
    assert [state for _, state, _ in held(db)].count("held") == 4


# --- priorities, queue order, leases ------------------------------------------------


def test_high_priority_uses_the_extra_slots_others_cannot(db) -> None:
    assert acquire(db, "a").granted
    assert acquire(db, "b").granted
    refused = acquire(db, "c")
    assert not refused.granted
    assert refused.position == 1
    assert acquire(db, "low", "low").position == 2  # behind the normal one
    high = acquire(db, "h", "high")
    assert (high.granted, high.kind) == (True, "extra")
    assert not acquire(db, "h2", "high").granted  # 2 + 1 slots are all taken
    assert ("h", "held", "extra") in held(db)


def test_a_freed_slot_goes_to_high_priority_then_to_the_earliest(db) -> None:
    assert acquire(db, "a", capacity=1, extra=0).granted
    assert not acquire(db, "n1", capacity=1, extra=0).granted
    later = T0 + timedelta(seconds=5)
    assert not acquire(db, "n2", capacity=1, extra=0, now=later).granted
    assert not acquire(db, "h", "high", capacity=1, extra=0, now=later).granted
    release(db, "a")
    # n1 and n2 wait longer, but h outranks them
    assert not acquire(db, "n2", capacity=1, extra=0, now=later).granted
    assert not acquire(db, "n1", capacity=1, extra=0, now=later).granted
    assert acquire(db, "h", "high", capacity=1, extra=0, now=later).granted
    release(db, "h")
    assert not acquire(db, "n2", capacity=1, extra=0, now=later).granted
    assert acquire(db, "n1", capacity=1, extra=0, now=later).granted


def test_expired_leases_of_a_dead_worker_are_reclaimed(db) -> None:
    assert acquire(db, "a", capacity=1, extra=0).granted
    assert not acquire(db, "b", capacity=1, extra=0).granted
    after = T0 + TTL + timedelta(seconds=1)  # a's worker died: nobody renewed
    assert acquire(db, "b", capacity=1, extra=0, now=after).granted
    assert held(db) == [("b", "held", "normal")]


def test_a_retry_adopts_its_own_lease_and_the_old_attempt_cannot_free_it(db) -> None:
    assert acquire(db, "a", capacity=1, extra=0).granted
    retry = acquire(db, "a", capacity=1, extra=0, token="second-attempt")
    assert retry.granted  # the limit is full, but the slot is its own
    release(db, "a", token="t-a")  # the first attempt ends late
    assert held(db) == [("a", "held", "normal")]
    with Session(db) as s:
        outcome = crud_guards.renew_recording_slot(
            s, holder="a", token="t-a", priority="normal", now=T0, ttl=TTL
        )
    assert outcome == "superseded"
    release(db, "a", token="second-attempt")
    assert held(db) == []


def test_renewal_extends_the_lease_and_reinstates_a_reclaimed_one(db) -> None:
    assert acquire(db, "a", capacity=1, extra=0).granted

    def renew(now: datetime) -> str:
        with Session(db) as s:
            return crud_guards.renew_recording_slot(
                s, holder="a", token="t-a", priority="normal", now=now, ttl=TTL
            )

    assert renew(T0 + timedelta(seconds=50)) == "renewed"
    # renewed at 50 s: still live at 100 s, so b is refused
    later = T0 + timedelta(seconds=100)
    assert not acquire(db, "b", capacity=1, extra=0, now=later).granted
    release(db, "a")
    assert renew(T0 + timedelta(seconds=101)) == "reinstated"
    assert ("a", "held", "normal") in held(db)


# --- waiting ------------------------------------------------------------------------


async def test_a_waiter_takes_a_freed_slot_at_once(db) -> None:
    slots = RecordingSlots(db, capacity=1, poll_secs=30.0, wait_secs=60.0)
    first = await slots.acquire("a", Priority.NORMAL)
    waits: list[int] = []

    async def on_wait(answer) -> None:
        waits.append(answer.position)

    second = asyncio.create_task(slots.acquire("b", Priority.NORMAL, on_wait=on_wait))
    await until(lambda: waits)
    assert slots.waiting == 1
    started = time.monotonic()
    await first.release()
    lease = await asyncio.wait_for(second, 5)
    # a release in this process wakes the waiter long before its 30 s poll
    assert time.monotonic() - started < 5
    assert (lease.holder, waits) == ("b", [1])
    assert slots.waiting == 0
    await lease.release()
    assert held(db) == []


async def test_a_waiter_sees_a_slot_freed_by_another_process(db, url) -> None:
    other = make_engine(url)
    try:
        elsewhere = RecordingSlots(other, capacity=1)
        here = RecordingSlots(db, capacity=1, poll_secs=0.05, wait_secs=30.0)
        first = await elsewhere.acquire("a", Priority.NORMAL)
        waiter = asyncio.create_task(here.acquire("b", Priority.NORMAL))
        await asyncio.sleep(0.2)
        assert not waiter.done()
        await first.release()
        lease = await asyncio.wait_for(waiter, 5)
        await lease.release()
    finally:
        other.dispose()


async def test_a_waiter_gives_up_in_time_and_keeps_its_place(db) -> None:
    slots = RecordingSlots(db, capacity=1, poll_secs=0.05, wait_secs=0.2)
    first = await slots.acquire("a", Priority.NORMAL)
    with pytest.raises(NoRecordingSlotError) as caught:
        await slots.acquire("b", Priority.NORMAL)
    assert caught.value.retry_after_secs == 0
    assert ("b", "queued", "normal") in held(db)
    await first.release()
    # c came later than b: b's place survived its give-up, so c must wait
    assert not acquire(db, "c", capacity=1, extra=0, now=datetime.now(UTC)).granted
    lease = await slots.acquire("b", Priority.NORMAL)
    await lease.release()


def test_a_waiter_that_went_away_stops_holding_others_back(db) -> None:
    def take(holder: str, now: datetime) -> bool:
        with Session(db) as s:
            return crud_guards.acquire_recording_slot(
                s,
                holder=holder,
                token=holder,
                priority="normal",
                capacity=1,
                extra=0,
                now=now,
                ttl=TTL,
                queue_ttl=timedelta(seconds=15),
            ).granted

    assert take("a", T0)
    assert not take("b", T0)  # b queues, then its stream ends: it never returns
    release(db, "a", token="a")
    assert not take("c", T0 + timedelta(seconds=10))  # b is still ahead
    assert take("c", T0 + timedelta(seconds=16))  # b's place lapsed


async def test_cancelling_a_waiter_gives_up_its_place(db) -> None:
    slots = RecordingSlots(db, capacity=1, poll_secs=0.05, wait_secs=30.0)
    first = await slots.acquire("a", Priority.NORMAL)
    waiter = asyncio.create_task(slots.acquire("b", Priority.NORMAL))
    await asyncio.sleep(0.2)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert held(db) == [("a", "held", "normal")]
    await first.release()


async def test_a_busy_process_refuses_instead_of_queueing_more(db) -> None:
    slots = RecordingSlots(db, capacity=1, max_waiters=0)
    first = await slots.acquire("a", Priority.NORMAL)
    with pytest.raises(NoRecordingSlotError) as caught:
        await slots.acquire("b", Priority.NORMAL)
    assert caught.value.retry_after_secs == BUSY_RETRY_SECS
    await first.release()


async def test_the_heartbeat_renews_the_lease_when_due(db) -> None:
    clock = WallClock()
    ticks = [0.0]
    slots = RecordingSlots(
        db, capacity=1, ttl=TTL, clock=clock, monotonic=lambda: ticks[0]
    )
    lease = await slots.acquire("a", Priority.NORMAL)
    lease.renew_if_due()  # too early: nothing happens
    assert lease._renewal is None
    ticks[0] = clock_secs = 25.0  # past a third of the TTL
    clock.advance(clock_secs)
    lease.renew_if_due()
    assert lease._renewal is not None
    await lease._renewal
    with Session(db) as s:
        [row] = crud_guards.list_recording_slots(s)
    assert row.expires_at == T0 + timedelta(seconds=25) + TTL
    await lease.release()
    assert held(db) == []

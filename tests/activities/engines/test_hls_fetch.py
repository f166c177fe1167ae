"""The download plumbing: an ordered, bounded window of jobs and a load-once cache."""

from __future__ import annotations

import asyncio

import pytest

from activities.engines.hls.cache import OnceCache
from activities.engines.hls.fetch import OrderedWindow


class Jobs:
    """Jobs that finish when the test says so, recording when they start."""

    def __init__(self) -> None:
        self.gates: dict[int, asyncio.Event] = {}
        self.started: list[int] = []

    def job(self, n: int):
        self.gates[n] = asyncio.Event()

        async def run() -> int:
            self.started.append(n)
            await self.gates[n].wait()
            if n < 0:
                raise ValueError(n)
            return n

        return run


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_results_come_in_order_and_the_window_is_bounded() -> None:
    jobs = Jobs()
    window: OrderedWindow[int] = OrderedWindow(2)
    for n in range(5):
        window.add(jobs.job(n))
    window.finish()
    await settle()
    assert jobs.started == [0, 1]
    jobs.gates[1].set()  # the second finishes first: held, nothing new starts
    await settle()
    assert jobs.started == [0, 1]
    assert window.in_flight == 2
    reader = asyncio.create_task(window.next())
    await settle()
    assert not reader.done()
    jobs.gates[0].set()
    assert await reader == 0
    assert await window.next() == 1
    for n in (2, 3, 4):
        jobs.gates[n].set()
    assert [await window.next() for _ in range(3)] == [2, 3, 4]
    assert await window.next() is None
    assert len(window) == 0


async def test_a_failed_job_raises_in_its_turn() -> None:
    jobs = Jobs()
    window: OrderedWindow[int] = OrderedWindow(3)
    window.add(jobs.job(0))
    window.add(jobs.job(-1))
    for gate in jobs.gates.values():
        gate.set()
    assert await window.next() == 0
    with pytest.raises(ValueError, match="-1"):
        await window.next()


async def test_aclose_cancels_running_jobs() -> None:
    jobs = Jobs()
    window: OrderedWindow[int] = OrderedWindow(2)
    for n in range(3):
        window.add(jobs.job(n))
    await settle()
    await window.aclose()
    assert len(window) == 0
    assert jobs.started == [0, 1]
    with pytest.raises(ValueError, match="room"):
        OrderedWindow(0)


async def test_a_reader_cancelled_while_waiting_leaves_the_job_alone() -> None:
    jobs = Jobs()
    window: OrderedWindow[int] = OrderedWindow(1)
    window.add(jobs.job(0))
    reader = asyncio.create_task(window.next())
    await settle()
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    jobs.gates[0].set()
    assert await window.next() == 0


async def test_cache_loads_once_for_concurrent_callers() -> None:
    loads: list[str] = []
    gate = asyncio.Event()

    async def load(key: str) -> bytes:
        loads.append(key)
        await gate.wait()
        return key.encode()

    cache: OnceCache[str, bytes] = OnceCache(load)
    waiting = [asyncio.create_task(cache.get("k")) for _ in range(3)]
    await settle()
    gate.set()
    assert await asyncio.gather(*waiting) == [b"k"] * 3
    assert await cache.get("k") == b"k"
    assert loads == ["k"]
    cache.forget("k")
    assert await cache.get("k") == b"k"
    assert loads == ["k", "k"]


async def test_cache_does_not_keep_failures_and_forgets_the_oldest() -> None:
    attempts: list[str] = []

    async def load(key: str) -> str:
        attempts.append(key)
        if attempts.count(key) == 1 and key == "flaky":
            raise OSError("first try fails")
        return key

    cache: OnceCache[str, str] = OnceCache(load, capacity=2)
    with pytest.raises(OSError, match="first try"):
        await cache.get("flaky")
    assert await cache.get("flaky") == "flaky"
    await cache.get("a")
    await cache.get("b")  # evicts "flaky", the least recently used
    await cache.get("flaky")
    assert attempts == ["flaky", "flaky", "a", "b", "flaky"]
    cache.close()

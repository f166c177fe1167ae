"""Clocks for tests: `FakeClock` (each sleep returns at once) and `VirtualClock`."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


class FakeClock:
    """Pass `clock` as the time source and `clock.sleep` as the sleep function."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, secs: float) -> None:
        self.slept.append(secs)
        self.now += secs
        await asyncio.sleep(0)  # still a suspension point, as a real sleep is


class _CountingExecutor(ThreadPoolExecutor):
    """The loop's default executor, counting the calls still running."""

    def __init__(self) -> None:
        super().__init__(max_workers=8, thread_name_prefix="virtual-clock")
        self.running = 0
        self._lock = threading.Lock()

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        with self._lock:
            self.running += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._lock:
            self.running -= 1


class VirtualClock(FakeClock):
    """A fake clock for concurrent code: time moves only while everything waits.

    `sleep(secs)` returns when the clock reaches now + secs. The clock jumps to the
    earliest such deadline only once the loop has gone quiet: no `asyncio.to_thread`
    call is running (file writes, decryption) and `QUIET_ROUNDS` turns of the loop
    went by. Concurrent sleepers thus share one timeline, as in real time, however
    long a thread takes; with `FakeClock` each sleep adds its own time at once, so
    a task looping on sleeps runs far ahead of one waiting for a thread.
    """

    QUIET_ROUNDS = 50

    def __init__(self) -> None:
        super().__init__()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._ticker: asyncio.Task[None] | None = None
        self._executor: _CountingExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def sleep(self, secs: float) -> None:
        self.slept.append(secs)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._executor = loop, _CountingExecutor()
            loop.set_default_executor(self._executor)
        wake: asyncio.Future[None] = loop.create_future()
        deadline = self.now + max(0.0, secs)
        heapq.heappush(self._sleepers, (deadline, next(self._order), wake))
        if self._ticker is None or self._ticker.done():
            self._ticker = loop.create_task(self._tick())
        await wake

    async def _tick(self) -> None:
        while True:
            await self._quiet()
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # a cancelled sleeper
            if not self._sleepers:
                return
            self.now = max(self.now, self._sleepers[0][0])
            while self._sleepers and self._sleepers[0][0] <= self.now:
                wake = heapq.heappop(self._sleepers)[2]
                if not wake.done():
                    wake.set_result(None)

    async def _quiet(self) -> None:
        assert self._executor is not None
        rounds = 0
        while rounds < self.QUIET_ROUNDS:
            if self._executor.running:
                rounds = 0
                await asyncio.sleep(0.001)  # a thread is working: real time passes
            else:
                rounds += 1
                await asyncio.sleep(0)

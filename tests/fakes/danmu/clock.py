"""A clock whose sleeps wait until the test moves time forward."""

from __future__ import annotations

import asyncio


class SteppedClock:
    """Pass `clock` as the clock and `clock.sleep` as the sleep; `advance()` wakes."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self._changed = asyncio.Condition()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, secs: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        async with self._changed:
            self.slept.append(secs)
            self._sleepers.append((self.now + secs, future))
            self._changed.notify_all()
        await future

    @property
    def pending(self) -> int:
        """Sleeps not yet woken."""
        return sum(1 for _, f in self._sleepers if not f.done())

    async def wait_sleeping(self, count: int, within: float = 20) -> None:
        """Wait until `count` sleeps have been requested in total."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.slept) >= count)

    async def advance(self, secs: float) -> None:
        """Move time forward and wake every sleep that is due."""
        self.now += secs
        due = [f for t, f in self._sleepers if t <= self.now + 1e-9 and not f.done()]
        self._sleepers = [
            (t, f) for t, f in self._sleepers if not f.done() and f not in due
        ]
        for future in due:
            future.set_result(None)
        await asyncio.sleep(0)

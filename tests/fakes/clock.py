"""A clock whose sleeps return at once and advance its time."""

from __future__ import annotations

import asyncio


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

"""Base of the loopback fakes that run in the background (stream servers)."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from types import TracebackType


class BackgroundFake(ABC):
    """Runs between `start()` and `stop()`; usable with `with` and `async with`."""

    @abstractmethod
    def start(self) -> None:
        """Start serving (returns at once)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop and release everything (blocking, bounded)."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

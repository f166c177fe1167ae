"""A small async cache that loads each key once, for keys and init sections."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable

K = TypeVar("K", bound="Hashable")
V = TypeVar("V")


class OnceCache(Generic[K, V]):
    """Loads each key once, however many segments ask at the same time.

    Concurrent `get`s of one key share one load; a failed load is not cached, so the
    next `get` tries again. The least recently used entries beyond `capacity` are
    forgotten: a live stream that rotates its key every few minutes would otherwise
    grow the cache for hours.

    Args:
        load: fetches the value of a key.
        capacity: entries kept.
    """

    def __init__(self, load: Callable[[K], Awaitable[V]], capacity: int = 8) -> None:
        self._load = load
        self._capacity = capacity
        self._entries: OrderedDict[K, asyncio.Future[V]] = OrderedDict()

    async def get(self, key: K) -> V:
        """The value of `key`, loaded now or earlier.

        Raises:
            Exception: whatever the load raised (nothing is cached then).
        """
        future = self._entries.get(key)
        if future is None or _failed(future):
            future = asyncio.ensure_future(self._load(key))
            future.add_done_callback(_failed)  # marks a lost failure as retrieved
            self._entries[key] = future
        while len(self._entries) > self._capacity:
            # a load still running finishes for whoever awaits it; the cache forgets
            self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        try:
            # shielded: one cancelled waiter must not cancel the load the others share
            return await asyncio.shield(future)
        except BaseException:
            if _failed(future) and self._entries.get(key) is future:
                del self._entries[key]
            raise

    def forget(self, key: K) -> None:
        """Drop `key`: the next `get` loads it afresh (a key that did not decrypt)."""
        self._entries.pop(key, None)

    def close(self) -> None:
        """Cancel loads in progress and forget everything."""
        for future in self._entries.values():
            future.cancel()
        self._entries.clear()


def _failed(future: asyncio.Future[V]) -> bool:
    """Whether a finished load failed; reading its exception marks it retrieved."""
    if not future.done():
        return False
    return future.cancelled() or future.exception() is not None

"""Runs the `DbWatcher` once a second while clients listen and fans out its events.

Each client gets its own bounded queue: a client too slow to drain it is dropped (it
reconnects and reloads), so one stuck browser never holds the others or the API's
memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import sqlalchemy as sa

from api.live_events import DbWatcher, Event

log = logging.getLogger(__name__)

POLL_INTERVAL_SECS = 1.0
CLIENT_QUEUE_SIZE = 1000


class EventHub:
    """Runs one `DbWatcher` while clients listen and fans its events out.

    Args:
        engine: the app database.
        interval: seconds between passes.
    """

    def __init__(self, engine: sa.Engine, interval: float = POLL_INTERVAL_SECS) -> None:
        self._engine = engine
        self._interval = interval
        self._clients: set[asyncio.Queue[Event | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._watcher: DbWatcher | None = None
        self._primed = asyncio.Event()

    async def subscribe(self) -> asyncio.Queue[Event | None]:
        """A new client's queue, starting with every open session's progress.

        A `None` in the queue means the client fell behind and must reconnect.
        """
        queue: asyncio.Queue[Event | None] = asyncio.Queue(CLIENT_QUEUE_SIZE)
        self._clients.add(queue)
        if self._task is None or self._task.done():
            self._primed.clear()
            self._task = asyncio.create_task(self._run(), name="live-events")
        await self._primed.wait()
        assert self._watcher is not None
        for event in self._watcher.open_sessions():
            queue.put_nowait(event)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        """Forget a client; the watcher stops with the last one."""
        self._clients.discard(queue)
        if not self._clients and self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        """Stop the watcher (the API shuts down)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        # a fresh watcher per run: its first pass learns the current rows silently
        watcher = DbWatcher(self._engine)
        try:
            await asyncio.to_thread(watcher.prime)
        except sa.exc.SQLAlchemyError:
            # unprimed, the next pass reads every row once: slower, still right
            log.warning("live events: reading the app DB failed", exc_info=True)
        finally:
            self._watcher = watcher
            self._primed.set()
        while True:
            await asyncio.sleep(self._interval)
            try:
                events = await asyncio.to_thread(watcher.poll)
            except sa.exc.SQLAlchemyError:
                # the DB is briefly away (restart, lock): the next pass catches up
                log.warning("live events: reading the app DB failed", exc_info=True)
                continue
            self._publish(events)

    def _publish(self, events: list[Event]) -> None:
        for queue in list(self._clients):
            for event in events:
                try:
                    queue.put_nowait(event)
                except asyncio.QueueFull:
                    self._clients.discard(queue)
                    # make room for the "fall behind" marker the client reads last
                    queue.get_nowait()
                    queue.put_nowait(None)
                    break

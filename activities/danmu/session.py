"""A whole session's chat: one connection, one XML file per video segment.

The danmu activity (wired later) drives it:

    session = DanmuSession(info, path_for, meta)
    await session.start(repair=paths_left_by_a_crashed_attempt)
    ...  # on each segment the engine opens:
    closed = await session.rotate(index, wall_start, media_start)
    ...  # heartbeat with session.progress()
    result = await session.stop()

Everything that can fail inside (network, protocol, one file) is caught, counted and
logged: the session never raises into the recording. Messages received before the
first segment opens wait in memory and go to the first file at time 0.

With `hold_secs`, a flush writes only messages older than that: a boundary the
caller learns of up to `hold_secs` late still splits the files exactly, by receipt
time. A rotation to a segment whose file exists (an earlier attempt's) repairs it
and continues it, and `start(seen_ids=…)` drops messages that attempt already had.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from activities.danmu.connection import DanmuConnection
from activities.danmu.models import ControlEvent, ControlKind
from activities.danmu.repair import close_unterminated
from activities.danmu.stats import DanmuStatistics, StatisticsAccumulator
from activities.danmu.writer import DanmakuXmlWriter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from activities.danmu.connection import InfoSource
    from activities.danmu.models import DanmuItem, DanmuMessage
    from activities.danmu.writer import RoomMeta

log = logging.getLogger(__name__)

FLUSH_SECS = 1.0  # at most this much (plus the hold) is lost when the worker dies
FLUSH_BATCH = 5_000  # flush early when this many messages wait
EARLY_LIMIT = 50_000  # messages kept from before the first segment
DEDUPE_WINDOW = 20_000  # message ids remembered for deduplication


class DanmuFileResult(BaseModel):
    """One closed danmaku file, paired with the video segment of the same index."""

    index: int
    path: str
    messages: int = Field(description="Message elements written")
    wall_start: datetime = Field(description="The segment's first frame (time 0)")
    error: str = Field(default="", description="Why the file is incomplete, if it is")


class DanmuProgress(BaseModel):
    """Heartbeat details: cheap to build, only grows."""

    connected: bool
    messages: int = Field(description="Distinct messages received")
    duplicates: int = Field(description="Messages dropped as already seen")
    current_index: int | None
    current_path: str | None
    current_messages: int = Field(description="Written + queued in the current file")
    current_flushed: int = Field(
        default=0, description="Messages flushed to the current file"
    )
    flushed_until: float | None = Field(
        default=None, description="Receipt time of the last message flushed to it"
    )
    files_closed: int
    connects: int
    decode_errors: int
    heartbeats: int
    last_error: str


class DanmuSessionResult(BaseModel):
    """What a session's chat produced."""

    files: list[DanmuFileResult]
    statistics: DanmuStatistics
    progress: DanmuProgress


class RecentIds:
    """The last `size` message ids, for dropping repeats after a reconnect."""

    def __init__(self, size: int) -> None:
        self._order: deque[str] = deque()
        self._seen: set[str] = set()
        self._size = size

    def last(self, count: int) -> list[str]:
        """The `count` most recent ids, oldest first."""
        return list(self._order)[-count:] if count > 0 else []

    def seen(self, key: str) -> bool:
        """True if `key` was seen recently; remembers it otherwise."""
        if key in self._seen:
            return True
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self._size:
            self._seen.discard(self._order.popleft())
        return False


class DanmuSession:
    """Owns one chat connection and the current segment's writer."""

    def __init__(
        self,
        info: InfoSource,
        path_for: Callable[[int], Path],
        meta: RoomMeta,
        *,
        on_control: Callable[[ControlEvent], None] | None = None,
        flush_secs: float = FLUSH_SECS,
        hold_secs: float = 0.0,
        wall: Callable[[], float] = time.time,
        **connection: Any,
    ) -> None:
        """Args:
        info: connection info, or a coroutine function giving fresh info per attempt.
        path_for: the file path of segment `index` (the caller's naming scheme).
        meta: what file headers say about the room.
        on_control: called with each control event (stream closed, room changed).
        flush_secs: how often queued messages are written.
        hold_secs: how long a message stays queued before a flush writes it.
        wall: epoch clock; the statistics' time 0 is `wall()` at construction.
        connection: passed to `DanmuConnection` (codec_cls, on_alert, clock, sleep…).
        """
        self._path_for = path_for
        self._meta = meta
        self._on_control = on_control
        self._flush_secs = flush_secs
        self._hold_secs = hold_secs
        self._wall = wall
        self._sleep = connection.get("sleep", asyncio.sleep)
        self.connection = DanmuConnection(info, self._on_item, wall=wall, **connection)
        self.stats = StatisticsAccumulator(wall())
        self.stream_closed = asyncio.Event()
        self.files: list[DanmuFileResult] = []
        self._writer: DanmakuXmlWriter | None = None
        self._early: deque[DanmuMessage] = deque(maxlen=EARLY_LIMIT)
        self._recent = RecentIds(DEDUPE_WINDOW)
        self._messages = 0
        self._duplicates = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(
        self, *, repair: Iterable[Path] = (), seen_ids: Iterable[str] = ()
    ) -> None:
        """Close files a crashed attempt left open, then connect in the background.

        Args:
            repair: files to close (`close_unterminated`) without continuing them.
            seen_ids: message ids an earlier attempt received: dropped if repeated.
        """
        for key in seen_ids:
            self._recent.seen(key)
        for path in repair:
            try:
                done = await asyncio.to_thread(close_unterminated, path)
                log.info("danmu file %s repaired: %s", path, done)
            except (OSError, ValueError) as err:
                log.warning("cannot repair danmu file %s: %s", path, err)
        self._tasks = [
            asyncio.create_task(self.connection.run()),
            asyncio.create_task(self._flush_loop()),
        ]

    async def rotate(
        self, index: int, wall_start: datetime, media_start: float = 0.0
    ) -> DanmuFileResult | None:
        """Close the current file and open segment `index`'s, at the same instant.

        Queued messages received at or after `wall_start` move to the new file. If
        the file exists (an earlier attempt's), it is repaired and continued.

        Returns:
            The closed file, or None when none was open.
        """
        # a cancel meanwhile must not leave the old file detached and unclosed
        task = asyncio.ensure_future(self._rotate(index, wall_start, media_start))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await task
            raise

    async def _rotate(
        self, index: int, wall_start: datetime, media_start: float
    ) -> DanmuFileResult | None:
        old, self._writer = self._writer, None
        if old is not None:
            # from now until the new file is open, messages queue in `_early`
            self._early.extendleft(reversed(old.take_from(wall_start.timestamp())))
        writer: DanmakuXmlWriter | None = None
        try:
            writer = await asyncio.to_thread(
                self._open_writer, index, wall_start, media_start
            )
        except (OSError, ValueError) as err:
            # the messages wait for the next file
            log.error("cannot open danmu file for segment %s: %s", index, err)
            self.connection.stats.last_error = f"segment {index}: {err}"
        if writer is not None:
            for msg in self._early:
                writer.add(msg)
            self._early.clear()
            self._writer = writer
        return await self._close(old) if old else None

    def _open_writer(
        self, index: int, wall_start: datetime, media_start: float
    ) -> DanmakuXmlWriter:
        path = self._path_for(index)
        try:
            return DanmakuXmlWriter(
                path,
                self._meta,
                index=index,
                wall_start=wall_start,
                media_start=media_start,
            )
        except FileExistsError:
            pass
        repaired = close_unterminated(path)
        log.info("continuing danmu file %s (%s)", path, repaired)
        return DanmakuXmlWriter.reopen(
            path, index=index, wall_start=wall_start, count=repaired.kept
        )

    def recent_ids(self, count: int) -> list[str]:
        """The ids of the last `count` messages received, for a retry to skip."""
        return self._recent.last(count)

    async def stop(self) -> DanmuSessionResult:
        """Disconnect, close the last file and return everything produced."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._writer is not None:
            await self._close(self._writer)
            self._writer = None
        return DanmuSessionResult(
            files=list(self.files),
            statistics=self.stats.snapshot(),
            progress=self.progress(),
        )

    def progress(self) -> DanmuProgress:
        """Counters for the activity heartbeat."""
        conn, writer = self.connection.stats, self._writer
        return DanmuProgress(
            connected=conn.connected,
            messages=self._messages,
            duplicates=self._duplicates,
            current_index=writer.index if writer else None,
            current_path=str(writer.path) if writer else None,
            current_messages=writer.count + len(writer.pending) if writer else 0,
            current_flushed=writer.count if writer else 0,
            flushed_until=writer.flushed_until if writer else None,
            files_closed=len(self.files),
            connects=conn.connects,
            decode_errors=conn.decode_errors,
            heartbeats=conn.heartbeats,
            last_error=conn.last_error,
        )

    def _on_item(self, item: DanmuItem) -> None:
        if isinstance(item, ControlEvent):
            if item.kind is ControlKind.STREAM_CLOSED:
                self.stream_closed.set()
            if self._on_control is not None:
                try:
                    self._on_control(item)
                except Exception:  # the caller's hook must not break the chat
                    log.exception("danmu control hook failed")
            return
        if item.id is not None and self._recent.seen(item.id):
            self._duplicates += 1
            return
        self._messages += 1
        self.stats.add(item)
        writer = self._writer
        if writer is None:
            self._early.append(item)
        elif writer.add(item) and len(writer.pending) >= FLUSH_BATCH:
            self._flush(writer)

    async def _flush_loop(self) -> None:
        while True:
            await self._sleep(self._flush_secs)
            if self._writer is not None:
                self._flush(self._writer)

    def _flush(self, writer: DanmakuXmlWriter) -> None:
        try:
            if self._hold_secs > 0:
                writer.flush(before=self._wall() - self._hold_secs)
            else:
                writer.flush()
        except OSError as err:
            log.error("danmu file %s: %s", writer.path, err)
            self.connection.stats.last_error = f"{writer.path}: {err}"

    async def _close(self, writer: DanmakuXmlWriter) -> DanmuFileResult:
        error = ""
        try:
            await asyncio.to_thread(writer.close)
        except OSError as err:
            error = str(err)
            log.error("cannot close danmu file %s: %s", writer.path, err)
        result = DanmuFileResult(
            index=writer.index,
            path=str(writer.path),
            messages=writer.count,
            wall_start=writer.started,
            error=error,
        )
        self.files.append(result)
        return result

"""A `SegmentSink` that keeps what an engine reported, checking the files each time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from activities.engines.base import OutputPlan, RecordingStats

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from activities.contracts import StreamSource
    from activities.engines.base import Engine, SegmentState


@dataclass(frozen=True)
class Event:
    kind: str  # opened, progressed, closed
    index: int
    size: int
    duration: float
    path: str
    at: float  # time.monotonic()


@dataclass
class RecordingSink:
    """Keeps every report; asserts the file on disk agrees with it when it comes.

    An engine that copies through ffmpeg may have written more by the time a
    `progressed` report is checked, so that check is "at least".
    """

    events: list[Event] = field(default_factory=list)

    async def opened(self, segment: SegmentState) -> None:
        assert segment.path.exists(), f"opened names a missing file {segment.path}"
        self._note("opened", segment)

    async def progressed(self, segment: SegmentState) -> None:
        assert segment.path.stat().st_size >= segment.size_bytes
        self._note("progressed", segment)

    async def closed(self, segment: SegmentState) -> None:
        if segment.size_bytes:
            assert segment.path.stat().st_size == segment.size_bytes
        else:
            assert not segment.path.exists()
        self._note("closed", segment)

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def closed_with_bytes(self) -> list[Event]:
        return [e for e in self.of("closed") if e.size > 0]

    def _note(self, kind: str, segment: SegmentState) -> None:
        self.events.append(
            Event(
                kind,
                segment.index,
                segment.size_bytes,
                segment.duration_secs,
                str(segment.path),
                time.monotonic(),
            )
        )


@dataclass
class Outcome:
    reason: str | None  # None: cancelled
    cancelled_at: float | None
    stats: RecordingStats
    sink: RecordingSink


async def record(
    engine: Engine,
    source: StreamSource,
    plan: OutputPlan,
    *,
    until: Callable[[RecordingSink], bool] | None = None,
    limit_secs: float = 30.0,
    sink: RecordingSink | None = None,
) -> Outcome:
    """Run `engine` until it returns, or cancel it once `until(sink)` holds.

    Raises:
        TimeoutError: neither happened within `limit_secs` (the engine is cancelled).
    """
    sink = sink or RecordingSink()
    stats = RecordingStats()
    task = asyncio.create_task(engine.record(source, plan, sink, stats))
    cancelled_at = None
    try:
        async with asyncio.timeout(limit_secs):
            while not task.done():
                if until is not None and until(sink):
                    cancelled_at = time.monotonic()
                    task.cancel()
                    break
                await asyncio.sleep(0.05)
            if cancelled_at is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                assert task.cancelled(), "the engine swallowed the cancel"
                return Outcome(None, cancelled_at, stats, sink)
            return Outcome(task.result(), None, stats, sink)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def plan_in(directory: Path, **kw: Any) -> OutputPlan:
    """A plan writing `directory/part_<index>.<ext>`."""
    return OutputPlan(path_for=lambda i, ext: directory / f"part_{i}.{ext}", **kw)


def closed_at_least(n: int) -> Callable[[RecordingSink], bool]:
    """An `until` for `record`: `n` files with bytes were closed."""
    return lambda sink: len(sink.closed_with_bytes()) >= n


async def wait_until(predicate: Callable[[], bool], limit_secs: float = 15.0) -> None:
    """Poll `predicate` until it holds (engines offer no event to wait on)."""
    async with asyncio.timeout(limit_secs):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.05)

"""A `SegmentSink` for engine tests: keeps every event and checks the file each time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from activities.contracts import MediaStream
    from activities.engines.base import SegmentState


@dataclass(frozen=True)
class Event:
    """One call the engine made."""

    kind: str
    index: int
    size: int
    marker: int | None
    path: Path
    duration: float
    streams: list[MediaStream] | None = None


@dataclass
class CheckingSink:
    """Records what the engine reports and checks the file agrees every time.

    Attributes:
        opened_hook: awaited inside `opened` (to hold the engine there).
    """

    events: list[Event] = field(default_factory=list)
    opened_hook: Callable[[], Awaitable[None]] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(
        self, predicate: Callable[[], bool], limit_secs: float = 15.0
    ) -> None:
        """Wait until `predicate` holds, checking it after every event."""
        async with asyncio.timeout(limit_secs):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def opened(self, segment: SegmentState) -> None:
        assert segment.path.exists()
        self._keep("opened", segment)
        if self.opened_hook:
            await self.opened_hook()

    async def progressed(self, segment: SegmentState) -> None:
        assert segment.path.stat().st_size == segment.size_bytes
        self._keep("progressed", segment)

    async def closed(self, segment: SegmentState) -> None:
        if segment.size_bytes:
            assert segment.path.stat().st_size == segment.size_bytes
        else:
            assert not segment.path.exists()
        self._keep("closed", segment)

    def _keep(self, kind: str, segment: SegmentState) -> None:
        self._changed.set()
        self.events.append(
            Event(
                kind,
                segment.index,
                segment.size_bytes,
                segment.resume_marker,
                segment.path,
                segment.duration_secs,
                segment.streams,
            )
        )

    def of(self, kind: str) -> list[Event]:
        """The events of one kind, in order."""
        return [e for e in self.events if e.kind == kind]

    def markers(self) -> list[int]:
        """Media sequences written, in order (from `progressed`)."""
        return [e.marker for e in self.of("progressed") if e.marker is not None]

    def files(self) -> list[Event]:
        """The closed files that kept bytes."""
        return [e for e in self.of("closed") if e.size > 0]

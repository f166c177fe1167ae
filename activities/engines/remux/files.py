"""The files of an ffmpeg recording: staging names made final, and every report on them.

ffmpeg numbers its segment files itself, so it writes hidden staging names
(`.srec-TAG-TOKEN-000000.ext`, TAG the plan's `staging_tag`) in the directory of the
first final path. `SegmentFiles`
renames each one to `plan.path_for(index, ext)` as soon as it appears, and only then
tells the sink it opened, so a segment row always names the file on disk. ffmpeg
keeps writing through its open descriptor; none of the muxers used reopens a file by
name. Sizes come from `stat`; `RecordingStats` is updated here and only read by the
heartbeat. One `SegmentFiles` lives through all ffmpeg runs of a recording (runs
follow one another after a size cut), so indexes and totals carry over.

Staging files never outlive a run: what ffmpeg left unreported is removed when the
run ends, and a run first removes what a dead attempt of the same recording (same
tag) left in its directory. Every report carries, when the run has an `EdgeClock`,
the live-edge time of the file's end (`resume_edge_ms`, see `resume`); the streams
are left for the recording activity to check (`streams=None`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from activities.engines.base import (
    SegmentState,
    finish_uncancelled,
    remove_staging,
    staging_prefix,
)

if TYPE_CHECKING:
    from pathlib import Path

    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink
    from activities.engines.remux.resume import EdgeClock

log = logging.getLogger(__name__)


@dataclass
class _File:
    index: int
    number: int  # ffmpeg's own number for it, in this run
    path: Path
    size: int = 0
    reported_size: int = 0
    reported_at: float = float("-inf")
    announced: bool = False  # sink.opened was called


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class SegmentFiles:
    """Tracks the files ffmpeg writes and reports them to the sink, in order.

    Args:
        plan: where files go (`path_for`) and the first index.
        ext: the files' extension.
        sink: told as each file opens, grows and closes.
        stats: kept current for the heartbeat.
        progress_interval_secs: least time between two `sink.progressed` calls.
    """

    def __init__(
        self,
        plan: OutputPlan,
        ext: str,
        sink: SegmentSink,
        stats: RecordingStats,
        *,
        progress_interval_secs: float,
    ) -> None:
        self.plan = plan
        self.ext = ext
        self.sink = sink
        self.stats = stats
        self.progress_interval_secs = progress_interval_secs
        self.next_index = plan.start_index
        self.closed_bytes = 0
        self.closed_secs = 0.0
        self.produced = False  # any byte, in any run
        # the current ffmpeg run
        self.staging_dir: Path | None = None
        self.prefix = ""
        self.expected = 0  # ffmpeg's number of the next file to adopt
        self.current: _File | None = None
        self.out_time = 0.0  # ffmpeg's media time in this run
        self.run_closed_secs = 0.0
        self.run_produced = False
        self.edge: EdgeClock | None = None
        stats.next_index = self.next_index

    async def new_run(self, edge: EdgeClock | None = None) -> str:
        """Prepare for the next ffmpeg run; return its staging file pattern (`%06d`).

        Args:
            edge: where the run's media sits on the live edge, if known.
        """
        tag = self.plan.staging_tag

        def prepare() -> Path:
            directory = self.plan.path_for(self.next_index, self.ext).parent
            directory.mkdir(parents=True, exist_ok=True)
            remove_staging(directory, tag)
            return directory

        self.staging_dir = await asyncio.to_thread(prepare)
        self.prefix = f"{staging_prefix(tag)}{secrets.token_hex(4)}-"
        self.edge = edge
        self.expected = 0
        self.current = None
        self.out_time = self.run_closed_secs = 0.0
        self.run_produced = False
        return str(self.staging_dir / f"{self.prefix}%06d.{self.ext}")

    def number_of(self, name: str) -> int:
        """ffmpeg's number of a staging file name.

        Raises:
            ValueError: the name is not one of this run's.
        """
        if not name.startswith(self.prefix):
            raise ValueError(name)
        return int(name.removeprefix(self.prefix).partition(".")[0])

    @property
    def current_size(self) -> int:
        """Bytes of the open file, as last measured (0 when none is open)."""
        return self.current.size if self.current else 0

    async def poll(self, now: float) -> None:
        """Adopt a file ffmpeg opened, measure the open one, report progress.

        Args:
            now: the monotonic time, for the progress interval.
        """
        if self.current is None:
            await self._adopt()
        current = self.current
        if current is None:
            self._sync_stats()
            return
        current.size = await finish_uncancelled(
            asyncio.to_thread(_size_of, current.path)
        )
        if current.size > 0:
            self.run_produced = self.produced = True
        self._sync_stats()
        if (
            current.size != current.reported_size
            and now - current.reported_at >= self.progress_interval_secs
        ):
            current.reported_size, current.reported_at = current.size, now
            await self.sink.progressed(self._state(current))

    async def ended(self, number: int, duration: float) -> None:
        """ffmpeg closed its file `number`, `duration` seconds long: report it."""
        if self.current is not None and self.current.number == number:
            await self._close(duration)
        elif self.current is None and number == self.expected:
            # closed before a poll saw it open: open and close it now
            if await self._adopt():
                await self._close(duration)
        else:
            log.warning("ffmpeg closed file %d, expected %d", number, self.expected)

    async def finish_run(self) -> None:
        """Close what ffmpeg left open: it was killed, or exited without saying."""
        if self.current is not None:
            await self._close(self._open_secs())
        while await self._adopt():
            await self._close(self._open_secs())

    async def remove_leftovers(self) -> None:
        """Delete staging files of this run that were never reported."""
        directory, prefix = self.staging_dir, self.prefix
        if directory is None:
            return

        def remove() -> None:
            for left in directory.glob(f"{prefix}*"):
                log.warning("removing ffmpeg's unreported file %s", left)
                left.unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    async def _adopt(self) -> bool:
        """Give the file ffmpeg opened last its final name, and report it opened."""
        directory = self.staging_dir
        assert directory is not None, "new_run first"

        def rename() -> _File | None:
            staging = directory / f"{self.prefix}{self.expected:06d}.{self.ext}"
            if not staging.exists():
                return None
            path = self.plan.path_for(self.next_index, self.ext)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, path)
            # assigned in the thread, so a cancel meanwhile still finds the file
            self.current = _File(index=self.next_index, number=self.expected, path=path)
            self.expected += 1
            self.next_index += 1
            return self.current

        opened = await finish_uncancelled(asyncio.to_thread(rename))
        if opened is None:
            return False
        self.stats.next_index = self.next_index
        await self._announce(opened)
        return True

    async def _announce(self, current: _File) -> None:
        current.announced = True
        await self.sink.opened(SegmentState(index=current.index, path=current.path))

    async def _close(self, duration: float) -> None:
        current = self.current
        assert current is not None
        if not current.announced:  # a cancel came between the rename and the sink
            await self._announce(current)

        def measure() -> int:
            size = _size_of(current.path)
            if size == 0:
                current.path.unlink(missing_ok=True)
            return size

        current.size = await finish_uncancelled(asyncio.to_thread(measure))
        self.current = None
        self.run_closed_secs += duration  # the run's media up to this file's end
        if current.size > 0:
            self.run_produced = self.produced = True
            self.closed_bytes += current.size
            self.closed_secs += duration
            self.stats.segments_closed += 1
        self._sync_stats()
        await self.sink.closed(
            SegmentState(
                index=current.index,
                path=current.path,
                size_bytes=current.size,
                duration_secs=duration if current.size else 0.0,
                resume_edge_ms=self._edge_at(self.run_closed_secs),
            )
        )

    @property
    def last_edge_ms(self) -> int | None:
        """The live-edge time of the last media this run wrote (None: unknown)."""
        return self._edge_at(max(self.out_time, self.run_closed_secs))

    def _open_secs(self) -> float:
        return max(0.0, self.out_time - self.run_closed_secs)

    def _state(self, current: _File) -> SegmentState:
        return SegmentState(
            index=current.index,
            path=current.path,
            size_bytes=current.size,
            duration_secs=self._open_secs(),
            # ffmpeg reports its time twice a second: the bytes of an open file
            # reach at least the end of the last closed one
            resume_edge_ms=self._edge_at(max(self.out_time, self.run_closed_secs)),
        )

    def _edge_at(self, run_secs: float) -> int | None:
        return self.edge.at(run_secs) if self.edge is not None else None

    def _sync_stats(self) -> None:
        current = self.current
        self.stats.next_index = self.next_index
        self.stats.bytes_written = self.closed_bytes + (current.size if current else 0)
        self.stats.media_time_secs = self.closed_secs + (
            self._open_secs() if current else 0.0
        )

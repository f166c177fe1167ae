"""The output files of one HLS recording: opened lazily, split, reported to the sink.

Segments arrive in media-sequence order and are appended byte for byte: MPEG-TS
segments concatenate into a valid stream, and an fMP4 init section followed by its
fragments is a valid fragmented MP4. A file is closed, and reported at once, when it
reaches the plan's duration or size; a new one starts at a discontinuity or when the
init section or stream epoch changes, so every file starts decodable (a TS segment
with its keyframe, an fMP4 file with its init section) and keeps one timeline.

A gap (a segment given up) is no reason for a new file: the timeline continues,
jumping ahead. MPEG-TS packets carry absolute timestamps; each fMP4 fragment carries
its own decode time (`tfdt`) under the same init section; AES-128 is undone segment
by segment (the IV comes from the key or the segment's own sequence), so a missing
segment leaves the next one intact, and what is written is TS or fMP4 as above. A
file ends where the timeline itself breaks: a discontinuity, a new init section, an
encoder that restarted its numbering.

Cancel safety: a file write, once started, runs to its end even if the task is
cancelled meanwhile, so every byte count the sink hears of is on disk.

Each file reports its start (`SegmentState.started_at`, `media_start_secs`): the
first frame's timestamp read from the piece that opens it (`first_frame`), and the
wall clock of that frame. A file that continues the previous one's timeline starts,
on the wall clock, where the previous one's media ended (by timestamps, else by
EXTINF sums), so files split from one broadcast tile it without gaps or overlaps;
any other file starts now.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO

from activities.engines.base import SegmentState, finish_uncancelled
from activities.engines.first_frame import mp4_first_time, ts_first_pts
from activities.engines.layout import mp4_streams, ts_streams

if TYPE_CHECKING:
    from collections.abc import Hashable
    from pathlib import Path

    from activities.contracts import MediaStream
    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink

# a timestamp step up to this much past the previous file's end is a gap in one
# timeline (segments given up); beyond it, or backwards, EXTINF sums are trusted
_TIMELINE_GAP_SECS = 300.0


@dataclass
class _OutFile:
    index: int
    path: Path
    handle: BinaryIO
    group: Hashable
    init: bytes | None
    streams: list[MediaStream] | None = None
    size: int = 0
    duration: float = 0.0
    marker: int | None = None
    started_at: datetime | None = None
    media_start: float | None = None

    @classmethod
    def create(cls, index: int, path: Path, piece: Piece) -> _OutFile:
        # the file is described by what opens it: the init section, or the first
        # segment's PMT and keyframe (a new file starts at every change of either)
        init = piece.init
        streams = mp4_streams(init) if init is not None else ts_streams(piece.data)
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(
            index=index,
            path=path,
            handle=path.open("wb"),
            group=piece.group,
            init=init,
            streams=streams,
        )

    def append(self, data: bytes, duration: float, sequence: int) -> None:
        # the init goes in with the first fragment: a file holding only an init
        # section has no media and must count as empty
        chunk = (self.init or b"") + data if self.size == 0 else data
        self.handle.write(chunk)
        self.handle.flush()
        self.size += len(chunk)
        self.duration += duration
        self.marker = sequence

    def close(self) -> None:
        self.handle.close()
        if self.size == 0:
            self.path.unlink(missing_ok=True)

    def state(self) -> SegmentState:
        return SegmentState(
            index=self.index,
            path=self.path,
            size_bytes=self.size,
            duration_secs=self.duration,
            resume_marker=self.marker,
            streams=self.streams,
            started_at=self.started_at,
            media_start_secs=self.media_start,
        )


@dataclass(frozen=True)
class Piece:
    """One segment's bytes and where they belong.

    Attributes:
        data: the media bytes.
        duration: its EXTINF duration.
        sequence: its media sequence (the resume marker once written).
        ext: the file extension it needs (`ts`, `mp4`).
        group: files hold pieces of one group only (stream epoch, init section).
        init: written first in every file of this group.
        discontinuity: it follows an `EXT-X-DISCONTINUITY`.
    """

    data: bytes
    duration: float
    sequence: int
    ext: str
    group: Hashable
    init: bytes | None = None
    discontinuity: bool = False


class Output:
    """Writes pieces into numbered files and keeps the sink and the stats current.

    Args:
        plan: paths, first index and split limits.
        sink: hears of every file's life.
        stats: the live counters the heartbeat reads.
    """

    def __init__(
        self, plan: OutputPlan, sink: SegmentSink, stats: RecordingStats
    ) -> None:
        self.plan = plan
        self.sink = sink
        self.stats = stats
        self.next_index = plan.start_index
        self.stats.next_index = self.next_index
        self.current: _OutFile | None = None
        self._previous: _OutFile | None = None
        self._closed_bytes = 0
        self._closed_secs = 0.0

    async def write(self, piece: Piece) -> None:
        """Append `piece`, first closing the file it does not belong in."""
        current = self.current
        if current is not None and (
            piece.discontinuity or current.group != piece.group
        ):
            await self.close()
        if self.current is None:
            await self._open(piece)
        current = self.current
        assert current is not None
        await finish_uncancelled(
            asyncio.to_thread(
                current.append, piece.data, piece.duration, piece.sequence
            )
        )
        self._sync_stats()
        await self.sink.progressed(current.state())
        plan = self.plan
        if (
            plan.max_duration_secs > 0 and current.duration >= plan.max_duration_secs
        ) or (plan.max_size_bytes > 0 and current.size >= plan.max_size_bytes):
            await self.close()

    async def close(self) -> None:
        """Close the current file, if any, and report it (empty: deleted, size 0)."""
        current, self.current = self.current, None
        if current is None:
            return
        self._previous = current
        await finish_uncancelled(asyncio.to_thread(current.close))
        if current.size > 0:
            self._closed_bytes += current.size
            self._closed_secs += current.duration
            self.stats.segments_closed += 1
        self._sync_stats()
        await self.sink.closed(current.state())

    async def _open(self, piece: Piece) -> None:
        index = self.next_index
        path = self.plan.path_for(index, piece.ext)
        started_at, media_start = self._start_of(piece)

        def create() -> None:
            # assigned in the thread so a cancel during creation still closes it
            self.current = _OutFile.create(index, path, piece)
            self.current.started_at = started_at
            self.current.media_start = media_start

        await finish_uncancelled(asyncio.to_thread(create))
        self.next_index = index + 1
        self.stats.next_index = self.next_index
        assert self.current is not None
        await self.sink.opened(self.current.state())

    def _start_of(self, piece: Piece) -> tuple[datetime, float | None]:
        """Wall clock and timestamp of the first frame of the file `piece` opens."""
        if piece.init is not None:
            media = mp4_first_time(piece.init, piece.data)
        else:
            media = ts_first_pts(piece.data)
        prev = self._previous
        if (
            prev is None
            or prev.started_at is None
            or prev.group != piece.group
            or piece.discontinuity
        ):
            return datetime.now(UTC), media
        offset = prev.duration
        if media is not None and prev.media_start is not None:
            step = media - prev.media_start
            if 0 <= step <= prev.duration + _TIMELINE_GAP_SECS:
                offset = step
        return prev.started_at + timedelta(seconds=offset), media

    def _sync_stats(self) -> None:
        current = self.current
        self.stats.bytes_written = self._closed_bytes + (current.size if current else 0)
        self.stats.media_time_secs = self._closed_secs + (
            current.duration if current else 0.0
        )

"""One native FLV recording: repaired tags into files, reported to the sink.

`FlvRecording` lives as long as the recording, across the engine's connections:
each connection's tags go through the same `FlvRepair` (timestamps rebased and kept
monotonic, repeated headers and GOPs dropped) into the same `FlvOutput`, so a
reconnect continues the file and its timeline.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from activities.engines.base import SegmentState
from activities.engines.flv.meta import DEFAULT_KEYFRAME_SLOTS
from activities.engines.flv.repair import DataGroup, FlvRepair
from activities.engines.flv.writer import FlvOutput

if TYPE_CHECKING:
    from collections.abc import Callable

    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink
    from activities.engines.flv.repair import RepairAction
    from activities.engines.flv.tags import FlvHeader, FlvTag
    from activities.engines.flv.writer import FileEvent, FileInfo

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECS = 1.0
# Index slots per file when segments have a duration cap: one per second at most,
# plus a margin; otherwise the default, which thins itself on long files.
_SLOTS_MARGIN = 16
# A server that re-sends this many GOPs in a row has nothing new to send: some
# CDN edges repeat the last GOP forever after the streamer stopped (BililiveRecorder
# issue 364, which disconnects after 10), so the recording ends.
REPEATS_TO_END = 10


def keyframe_slots(plan: OutputPlan) -> int:
    """How many keyframes each file's onMetaData index holds for this plan."""
    if plan.max_duration_secs > 0:
        return min(DEFAULT_KEYFRAME_SLOTS, int(plan.max_duration_secs) + _SLOTS_MARGIN)
    return DEFAULT_KEYFRAME_SLOTS


class FlvRecording:
    """One recording: repair, files, sink reports and stats.

    Args:
        plan: where files go and when to cut them.
        sink: told when files open, grow and close.
        stats: kept current for the heartbeat.
        clock: monotonic clock that paces `progressed` reports.
    """

    def __init__(
        self,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._stats = stats
        self._clock = clock
        self.repair = FlvRepair()
        self.output = FlvOutput(
            lambda index: plan.path_for(index, "flv"),
            start_index=plan.start_index,
            # read at each split: the record activity may change them meanwhile
            limits=lambda: (int(plan.max_duration_secs * 1000), plan.max_size_bytes),
            keyframe_slots=keyframe_slots(plan),
            fixes=self.repair.fixes,
        )
        self._closed_bytes = 0
        self._closed_ms = 0
        self._last_progress = clock()
        self._last_progress_ms = 0
        stats.next_index = plan.start_index

    @property
    def stats(self) -> RecordingStats:
        """The counters this recording keeps current."""
        return self._stats

    @property
    def repeating(self) -> bool:
        """The server has only been re-sending data it already sent."""
        return self.repair.repeats_in_a_row >= REPEATS_TO_END

    def header(self, header: FlvHeader) -> None:
        """The stream's FLV header arrived."""
        self.output.header = header

    async def write(self, tag: FlvTag) -> None:
        """Repair and write one tag, reporting files and progress."""
        for action in self.repair.feed(tag):
            await self._apply(action)

    async def close(self) -> None:
        """Write what is pending and close the current file."""
        for action in self.repair.flush():
            await self._apply(action)
        await self._report(self.output.close())
        if self.repair.fixes:
            logger.info(
                "FLV repairs in this recording: %s",
                ", ".join(f"{k}={n}" for k, n in sorted(self.repair.fixes.items())),
            )

    async def _apply(self, action: RepairAction) -> None:
        await self._report(self.output.apply(action))
        writer = self.output.current
        if writer is None or not isinstance(action, DataGroup):
            return
        self._update_stats(writer.size, writer.duration_ms)
        # Paced by media time as well as wall time: a stream that arrives in
        # bursts still reports about once per second of media.
        now = self._clock()
        if (
            now - self._last_progress >= PROGRESS_INTERVAL_SECS
            or writer.duration_ms - self._last_progress_ms
            >= PROGRESS_INTERVAL_SECS * 1000
        ):
            self._last_progress = now
            self._last_progress_ms = writer.duration_ms
            writer.flush()
            await self._sink.progressed(_segment(writer.info()))

    async def _report(self, events: list[FileEvent]) -> None:
        for event in events:
            info = event.file
            if event.kind == "opened":
                self._stats.next_index = info.index + 1
                self._last_progress = self._clock()
                self._last_progress_ms = 0
                await self._sink.opened(_segment(info))
            else:
                self._closed_bytes += info.size_bytes
                self._closed_ms += info.duration_ms
                self._stats.segments_closed += 1
                self._update_stats(0, 0)
                await self._sink.closed(_segment(info))

    def _update_stats(self, size: int, duration_ms: int) -> None:
        self._stats.bytes_written = self._closed_bytes + size
        self._stats.media_time_secs = (self._closed_ms + duration_ms) / 1000


def _segment(info: FileInfo) -> SegmentState:
    return SegmentState(
        index=info.index,
        path=info.path,
        size_bytes=info.size_bytes,
        duration_secs=info.duration_ms / 1000,
        streams=info.streams,
        # when the file started: the danmu file of the same index aligns to it
        started_at=info.opened_at,
        media_start_secs=None if info.first_ms is None else info.first_ms / 1000,
    )

"""What `srec record` shows while it records: segment lines, progress, a summary.

This is the command's output, not logging: it goes to stdout (logs go to stderr),
one line per closed segment and a progress line, rewritten in place (`\\r`) on a
terminal and appended at a slower pace otherwise, so a log file stays readable. With
`json=True` every line is one JSON object (`event`: `started`, `segment`,
`progress`, `summary`) for scripts.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from activities.engines.base import RecordingStats, SegmentState

_CLEAR_LINE = "\r\x1b[K"


def human_bytes(size: float) -> str:
    """`1536` → `1.5 KiB`."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_duration(secs: float) -> str:
    """`83.4` → `0:01:23`."""
    whole = int(max(secs, 0))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class Console:
    """Writes the recording's display to `out`.

    Args:
        out: where to write (stdout).
        tty: rewrite the progress line in place instead of appending lines.
        json: write JSON objects instead of text.
        clock: monotonic seconds, for the wall time and speed.
    """

    def __init__(
        self,
        out: TextIO,
        *,
        tty: bool,
        json: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.tty = tty and not json
        self.json = json
        self.clock = clock
        self.started_at = clock()
        self._progress_shown = False

    def _line(self, text: str, **event: Any) -> None:
        if self.json:
            text = json.dumps(event, default=str)
        elif self._progress_shown:
            text = _CLEAR_LINE + text
            self._progress_shown = False
        # flushed per line: a pipe or file reader sees each event as it happens
        self.out.write(text + "\n")
        self.out.flush()

    def started(self, *, url: str, title: str, kind: str, engine: str) -> None:
        """The stream resolved and recording begins."""
        self.started_at = self.clock()
        self._line(
            f"recording {title or url} ({kind}, {engine} engine); "
            "Ctrl-C stops and keeps the files",
            event="started",
            url=url,
            title=title,
            kind=kind,
            engine=engine,
        )

    def segment(self, segment: SegmentState) -> None:
        """A segment file closed; an empty one (deleted) is shown as discarded."""
        if segment.size_bytes == 0:
            self._line(
                f"segment {segment.index}: discarded (empty or under --min-size)",
                event="segment",
                index=segment.index,
                path=None,
                size_bytes=0,
                duration_secs=0.0,
            )
            return
        self._line(
            f"segment {segment.index}: {segment.path} "
            f"({human_bytes(segment.size_bytes)}, {segment.duration_secs:.1f} s)",
            event="segment",
            index=segment.index,
            path=str(segment.path),
            size_bytes=segment.size_bytes,
            duration_secs=round(segment.duration_secs, 3),
        )

    def _numbers(self, stats: RecordingStats) -> dict[str, Any]:
        wall = max(self.clock() - self.started_at, 1e-9)
        return {
            "bytes": stats.bytes_written,
            "media_secs": round(stats.media_time_secs, 3),
            "segments": stats.segments_closed,
            "wall_secs": round(wall, 3),
            "speed": round(stats.media_time_secs / wall, 3),
        }

    def _text(self, numbers: dict[str, Any]) -> str:
        return (
            f"{human_bytes(numbers['bytes'])}, "
            f"media {human_duration(numbers['media_secs'])}, "
            f"{numbers['segments']} segment(s), {numbers['speed']:.2f}x"
        )

    def progress(self, stats: RecordingStats) -> None:
        """Show the running totals; speed is media time over wall time."""
        numbers = self._numbers(stats)
        text = "recording: " + self._text(numbers)
        if self.tty:
            self.out.write(_CLEAR_LINE + text)
            self.out.flush()
            self._progress_shown = True
        else:
            self._line(text, event="progress", **numbers)

    def summary(self, stats: RecordingStats, reason: str) -> None:
        """The final totals and why the recording stopped."""
        numbers = self._numbers(stats)
        wall = human_duration(numbers["wall_secs"])
        refreshed = stats.url_refreshes
        extra = f", stream URL refreshed {refreshed} time(s)" if refreshed else ""
        self._line(
            f"{reason}: {self._text(numbers)} in {wall}{extra}",
            event="summary",
            reason=reason,
            url_refreshes=refreshed,
            **numbers,
        )


class ConsoleSink:
    """A `SegmentSink` that shows each closed segment on the console."""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def opened(self, segment: SegmentState) -> None:
        pass

    async def progressed(self, segment: SegmentState) -> None:
        pass

    async def closed(self, segment: SegmentState) -> None:
        self.console.segment(segment)

"""Writing repaired FLV: one file (`FlvFileWriter`), and numbered files (`FlvOutput`).

`FlvOutput` turns the repair stage's actions into files: it opens a file lazily
with the group that needs one, closes it at a `FileBreak`, and splits by size or
duration, only before a group that starts at a keyframe. It does no async work
and knows nothing of sinks: the live engine and the offline fixer both drive it and
act on the `FileEvent`s it returns.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from activities.engines.flv.meta import (
    DEFAULT_KEYFRAME_SLOTS,
    KeyframeIndex,
    metadata_body,
    metadata_numbers,
    metadata_tail,
)
from activities.engines.flv.repair import DataGroup, EndTag, FileBreak
from activities.engines.flv.tags import TAG_HEADER_SIZE, TAG_SCRIPT, FlvHeader, FlvTag
from activities.engines.layout import flv_audio, flv_video

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from activities.contracts import MediaStream
    from activities.engines.flv.repair import FixKind, Prelude, RepairAction

logger = logging.getLogger(__name__)

# A codec without a sequence header (MP3, VP6…) is named by its first tag, looked
# for among a file's first media tags only, so the write path stays lean.
_DESCRIBE_TAGS = 64


class OutputFile(Protocol):
    """What the writer needs of a file: a binary, seekable, writable stream."""

    def write(self, data: bytes, /) -> int: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def open_file(path: Path) -> OutputFile:
    """Create (or truncate) `path` for writing, and its directory if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("wb")


@dataclass(frozen=True)
class FileInfo:
    """A snapshot of one output file.

    Attributes:
        index: the file's number in the plan.
        path: where it is.
        size_bytes: bytes written (all on disk once flushed).
        duration_ms: timestamp of the last media tag.
        tags: tags in the file, onMetaData and sequence headers included.
        streams: its audio and video streams, from the sequence headers (or the
            first tags); None when none could be named.
        opened_at: wall clock of its first media tag (FLV arrives in real time).
        first_ms: the timestamp its first media tag was written with.
    """

    index: int
    path: Path
    size_bytes: int
    duration_ms: int
    tags: int
    streams: list[MediaStream] | None = None
    opened_at: datetime | None = None
    first_ms: int | None = None


@dataclass(frozen=True)
class FileEvent:
    """A file opened or closed."""

    kind: Literal["opened", "closed"]
    file: FileInfo


class FlvFileWriter:
    """Writes one file: header, onMetaData, sequence headers, then media.

    The onMetaData tag is rewritten in place on every `flush` and at `close` with
    the duration, size and keyframe index so far (see `meta`): only its tail, and
    the keyframes object only when it changed. Each group of media is one append
    to a buffered local file, not worth a thread hop.

    Args:
        index: the file's number.
        path: the file to create.
        header: the source's FLV header (its flags are merged with the headers).
        prelude: metadata and sequence headers to start with.
        keyframe_slots: capacity of the keyframe index.
        opener: creates the file (tests and `analyze` pass a discarding one).
    """

    def __init__(
        self,
        index: int,
        path: Path,
        header: FlvHeader,
        prelude: Prelude,
        *,
        keyframe_slots: int = DEFAULT_KEYFRAME_SLOTS,
        opener: Callable[[Path], OutputFile] = open_file,
    ) -> None:
        self.index = index
        self.path = path
        self.size = 0
        self.tags = 0
        self.media_tags = 0
        self.duration_ms = 0
        self.opened_at = datetime.now(UTC)
        self.first_ms: int | None = None
        self._properties = prelude.properties()
        video, audio = prelude.video_header, prelude.audio_header
        self._video = flv_video(video.data) if video is not None else None
        self._audio = flv_audio(audio.data) if audio is not None else None
        self._keyframes = KeyframeIndex(keyframe_slots)
        self._file = opener(path)
        flags = FlvHeader(
            has_audio=header.has_audio or prelude.audio_header is not None,
            has_video=header.has_video or prelude.video_header is not None,
        )
        self._append(flags.encode())
        body = metadata_body(
            self._properties,
            duration_ms=self.duration_ms,
            file_size=self.size,
            index=self._keyframes,
        )
        tail = metadata_tail(
            duration_ms=self.duration_ms, file_size=self.size, index=self._keyframes
        )
        # Where the changing tail starts in the file (see `meta.metadata_tail`).
        self._tail_at = self.size + TAG_HEADER_SIZE + len(body) - len(tail)
        self._tail_size = len(tail)
        self._index_version = self._keyframes.version
        self._append(FlvTag(TAG_SCRIPT, 0, body).encode())
        self.tags += 1
        for tag in (prelude.video_header, prelude.audio_header):
            if tag is not None:
                self._append(tag.encode(0))
                self.tags += 1

    def info(self) -> FileInfo:
        """A snapshot of the file as written so far."""
        streams = [s for s in (self._video, self._audio) if s is not None]
        return FileInfo(
            self.index,
            self.path,
            self.size,
            self.duration_ms,
            self.tags,
            streams or None,
            self.opened_at,
            self.first_ms,
        )

    def write_media(self, tags: list[FlvTag], base: int) -> None:
        """Append media tags, `base` subtracted from their timestamps.

        Args:
            tags: repaired tags.
            base: the timestamp that is 0 in this file.
        """
        if not tags:
            return
        if self.media_tags < _DESCRIBE_TAGS and (
            self._video is None or self._audio is None
        ):
            self._describe(tags)
        parts: list[bytes] = []
        position = self.size
        duration_ms = self.duration_ms
        for tag in tags:
            ts = max(0, tag.timestamp - base)
            if tag.is_keyframe:
                self._keyframes.add(ts, position)
            parts += tag.encoded_parts(ts)
            position += tag.encoded_size
            duration_ms = max(duration_ms, ts)
        self._append(b"".join(parts))
        self.tags += len(tags)
        self.media_tags += len(tags)
        self.duration_ms = duration_ms

    def _describe(self, tags: list[FlvTag]) -> None:
        for tag in tags[:_DESCRIBE_TAGS]:
            if tag.is_video and self._video is None:
                self._video = flv_video(tag.data)
            elif tag.is_audio and self._audio is None:
                self._audio = flv_audio(tag.data)

    def write_end(self, tag: FlvTag, base: int) -> None:
        """Append an end-of-sequence tag (it does not count as media)."""
        self._append(tag.encode(max(0, tag.timestamp - base)))
        self.tags += 1

    def flush(self) -> None:
        """Update onMetaData and push the bytes to the OS (a consistent file)."""
        self._rewrite_metadata()
        self._file.flush()

    def close(self) -> None:
        """Write the final onMetaData and close the file."""
        self._rewrite_metadata()
        self._file.close()

    def _rewrite_metadata(self) -> None:
        if self._keyframes.version == self._index_version:
            # The index is as written: only the two numbers changed.
            tail = metadata_numbers(duration_ms=self.duration_ms, file_size=self.size)
        else:
            tail = metadata_tail(
                duration_ms=self.duration_ms, file_size=self.size, index=self._keyframes
            )
            if len(tail) != self._tail_size:  # pragma: no cover - a bug if reached
                logger.error("%s: onMetaData changed size; not rewritten", self.path)
                return
            self._index_version = self._keyframes.version
        self._file.seek(self._tail_at)
        self._file.write(tail)
        self._file.seek(0, os.SEEK_END)

    def _append(self, data: bytes) -> None:
        self._file.write(data)
        self.size += len(data)


class FlvOutput:
    """Routes repair actions into numbered files.

    Args:
        path_for: path of file `index`.
        start_index: number of the first file.
        max_duration_ms: split before a keyframe at this much media; 0 = never.
        max_size_bytes: split before a keyframe once a file is this big; 0 = never.
        limits: when given, read at each split decision instead of the two limits
            above: `(max_duration_ms, max_size_bytes)` (a configuration change
            reaches a running recording this way).
        keyframe_slots: capacity of each file's keyframe index.
        fixes: the repair stage's counters, for a per-file summary in the log.
        opener: creates files.
    """

    def __init__(
        self,
        path_for: Callable[[int], Path],
        *,
        start_index: int = 0,
        max_duration_ms: int = 0,
        max_size_bytes: int = 0,
        limits: Callable[[], tuple[int, int]] | None = None,
        keyframe_slots: int = DEFAULT_KEYFRAME_SLOTS,
        fixes: Counter[FixKind] | None = None,
        opener: Callable[[Path], OutputFile] = open_file,
    ) -> None:
        self._path_for = path_for
        self.next_index = start_index
        self._limits = limits or (lambda: (max_duration_ms, max_size_bytes))
        self._keyframe_slots = keyframe_slots
        self._fixes: Counter[FixKind] = fixes if fixes is not None else Counter()
        self._fixes_at_open: Counter[FixKind] = Counter()
        self._opener = opener
        self.header = FlvHeader(has_audio=True, has_video=True)
        self.current: FlvFileWriter | None = None
        self._base = 0
        # After a split by size or duration the next file starts at its first
        # group's timestamp; after a FileBreak the repair stage already restarted
        # the timeline near 0.
        self._rebase_next = False

    def apply(self, action: RepairAction) -> list[FileEvent]:
        """Carry out one repair action.

        Returns:
            Files opened or closed meanwhile, in order.
        """
        events: list[FileEvent] = []
        if isinstance(action, FileBreak):
            self._rebase_next = False
            self._close(events)
        elif isinstance(action, DataGroup):
            self._media(action, events)
        elif isinstance(action, EndTag) and self.current is not None:
            self.current.write_end(action.tag, self._base)
        return events

    def close(self) -> list[FileEvent]:
        """Close the current file, if any."""
        events: list[FileEvent] = []
        self._close(events)
        return events

    def _media(self, group: DataGroup, events: list[FileEvent]) -> None:
        current = self.current
        if current is not None and group.splittable and self._split_due(group):
            self._rebase_next = True
            self._close(events)
            current = None
        if current is None:
            self._base = (
                min(t.timestamp for t in group.tags) if self._rebase_next else 0
            )
            self._rebase_next = False
            path = self._path_for(self.next_index)
            current = self.current = FlvFileWriter(
                self.next_index,
                path,
                self.header,
                group.prelude,
                keyframe_slots=self._keyframe_slots,
                opener=self._opener,
            )
            if group.tags:  # the file's start (issue 12), known before it is reported
                current.first_ms = max(
                    0, min(t.timestamp for t in group.tags) - self._base
                )
            self.next_index += 1
            self._fixes_at_open = self._fixes.copy()
            events.append(FileEvent("opened", current.info()))
        current.write_media(group.tags, self._base)

    def _split_due(self, group: DataGroup) -> bool:
        current = self.current
        if current is None or current.media_tags == 0:
            return False
        max_duration_ms, max_size_bytes = self._limits()
        if max_size_bytes and current.size >= max_size_bytes:
            return True
        position = group.tags[0].timestamp - self._base
        return bool(max_duration_ms and position >= max_duration_ms)

    def _close(self, events: list[FileEvent]) -> None:
        current, self.current = self.current, None
        if current is None:
            return
        current.close()
        fixes = self._fixes - self._fixes_at_open
        logger.info(
            "closed %s: %d tags, %.3f s, %d bytes; fixes: %s",
            current.path,
            current.tags,
            current.duration_ms / 1000,
            current.size,
            ", ".join(f"{k}={n}" for k, n in sorted(fixes.items())) or "none",
        )
        events.append(FileEvent("closed", current.info()))

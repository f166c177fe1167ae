"""The recording-engine seam: a resolved stream and an output plan in, segments out.

An engine knows nothing about platforms or Temporal. It writes the stream into
numbered files, tells its `SegmentSink` as each file opens, grows and closes, and keeps
`RecordingStats` current for the heartbeat. Cancelling the task that runs
`Engine.record` is how a recording is stopped: the engine closes its current file
(reporting it to the sink) and re-raises `asyncio.CancelledError`. A signed URL that
expires is replaced through the `refresh` hook (`activities.engines.refresh`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, TypeAlias, TypeVar

from activities.contracts import (
    DEFAULT_STREAM_TIMEOUT_SECS,
    Container,
    EngineKind,
    MediaStream,
    StreamKind,
)
from activities.naming import join_template, segment_path

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from activities.contracts import RecordingPolicy, StreamSource
    from activities.engines.refresh import Refresh
    from activities.naming import NameFields

log = logging.getLogger(__name__)

STAGING_PREFIX = ".srec-"


def staging_prefix(tag: str) -> str:
    """How every temporary file name of a recording tagged `tag` starts."""
    return f"{STAGING_PREFIX}{tag}-" if tag else STAGING_PREFIX


def remove_staging(directory: Path, tag: str) -> list[Path]:
    """Delete the temporary files of the recording tagged `tag` in `directory`.

    Only one attempt of a recording runs at a time, so whatever carries its tag
    when an attempt starts (or settles the last one) was left by a dead attempt.

    Returns:
        The files removed.
    """
    if not tag:
        return []
    removed = []
    for left in directory.glob(f"{staging_prefix(tag)}*"):
        log.warning("removing %s, left by an attempt that died", left)
        left.unlink(missing_ok=True)
        removed.append(left)
    return removed


@dataclass
class OutputPlan:
    """Where and how to cut the output.

    Attributes:
        path_for: builds the file path of segment `index` with the extension the
            engine chose (`ts`, `mp4`, `flv`, `mkv`; no dot). Each call stamps the
            time of the call, so engines call it when the file is created.
        start_index: index of the first file this run writes.
        max_duration_secs: close a file after this much media; 0 = never.
        max_size_bytes: close a file once it reaches this size; 0 = never. The
            record activity changes both limits while a recording runs (the
            configuration changed): engines read them at each segment boundary.
        resume_marker: engine-specific point already recorded by an earlier attempt
            (for HLS the last media sequence written); the engine continues after it.
        resume_edge_ms: where an earlier attempt's media ended, as the Unix time
            (ms) at which that point was the stream's live edge; the engines that
            cannot resume by media sequence (ffmpeg, streamlink) rewind to it.
        container: output container of the engines that remux (ffmpeg, streamlink).
        stream_timeout_secs: the native engines end the recording (`stalled`) after
            this long without new media: no HLS segment written, no FLV byte read.
        staging_tag: names this recording's temporary files (`staging_prefix`), so
            a later attempt of the same recording finds what a dead one left.
    """

    path_for: Callable[[int, str], Path]
    start_index: int = 0
    max_duration_secs: float = 0.0
    max_size_bytes: int = 0
    resume_marker: int | None = None
    resume_edge_ms: int | None = None
    container: Container = Container.AUTO
    stream_timeout_secs: float = DEFAULT_STREAM_TIMEOUT_SECS
    staging_tag: str = ""


def plan_for(
    root: Path,
    policy: RecordingPolicy,
    fields: NameFields,
    *,
    start_index: int = 0,
    resume_marker: int | None = None,
    resume_edge_ms: int | None = None,
    staging_tag: str = "",
) -> OutputPlan:
    """The output plan a recording policy asks for: file names, splits, container.

    Args:
        root: the recordings root the output folder is rendered under.
        policy: the streamer's recording policy.
        fields: what the file names may say about the recording.
        start_index: index of the first file.
        resume_marker: where an earlier attempt stopped (see `OutputPlan`).
        resume_edge_ms: the same, as a live-edge time (see `OutputPlan`).
        staging_tag: names the recording's temporary files (see `OutputPlan`).
    """

    template = join_template(policy.output_folder, policy.filename_template)

    def path_for(index: int, ext: str) -> Path:
        return segment_path(
            root,
            template,
            fields,
            created=datetime.now(UTC),
            index=index,
            ext=ext,
        )

    return OutputPlan(
        path_for=path_for,
        start_index=start_index,
        max_duration_secs=policy.max_segment_duration_secs,
        max_size_bytes=policy.max_segment_size_bytes,
        resume_marker=resume_marker,
        resume_edge_ms=resume_edge_ms,
        container=policy.container,
        stream_timeout_secs=policy.stream_timeout_secs,
        staging_tag=staging_tag,
    )


@dataclass
class RecordingStats:
    """Live progress of one recording, read by the heartbeat task."""

    next_index: int = 0
    bytes_written: int = 0
    media_time_secs: float = 0.0
    segments_closed: int = 0
    url_refreshes: int = 0  # fresh URLs this recording asked for (`refresh`)


@dataclass
class SegmentState:
    """One output file as the engine reports it to the sink.

    Attributes:
        index: the file's number in the plan.
        path: where it is.
        size_bytes: bytes on disk that are consistent (flushed).
        duration_secs: media in those bytes, as the engine measured it (EXTINF
            sums, tag timestamps, ffmpeg's segment list and progress).
        resume_marker: see `OutputPlan.resume_marker`.
        resume_edge_ms: see `OutputPlan.resume_edge_ms`.
        streams: the file's audio and video streams as the engine read them from
            what it wrote; None when it cannot tell (files ffmpeg writes): the
            recording activity then checks the file's headers.
        started_at: wall clock of the file's first frame, what side files (danmu)
            align to; None: the sink takes the time it hears of the file.
        media_start_secs: the first frame's timestamp as written in the file;
            None: 0 (ffmpeg and streamlink reset each file's timestamps).
    """

    index: int
    path: Path
    size_bytes: int = 0
    duration_secs: float = 0.0
    resume_marker: int | None = None
    resume_edge_ms: int | None = None
    streams: list[MediaStream] | None = None
    # --- segment start (issue 12): set by the engines that know it
    started_at: datetime | None = None
    media_start_secs: float | None = None


class SegmentSink(Protocol):
    """Receives the life of each output file, in order, from one engine run."""

    async def opened(self, segment: SegmentState) -> None:
        """A new file exists (possibly empty) at `segment.path`."""

    async def progressed(self, segment: SegmentState) -> None:
        """The file is consistent up to `segment.size_bytes` (flushed to disk)."""

    async def closed(self, segment: SegmentState) -> None:
        """The file is complete and will not be written again.

        A file that received no bytes is deleted by the engine and reported here
        with `size_bytes == 0`: the sink drops whatever it recorded for it.
        """


class Engine(Protocol):
    """A recording engine."""

    async def record(
        self,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
        *,
        refresh: Refresh | None = None,
    ) -> str:
        """Record until the stream ends; return why it stopped (`ended`, `stalled`…).

        Args:
            source: the stream.
            plan: where files go and when to cut them.
            sink: told as files open, grow and close.
            stats: kept current for the heartbeat.
            refresh: asked for a fresh source when the URL expires (403/410, or
                its deadline near; see `activities.engines.refresh`); None: the
                recording ends as it would without one.

        Raises:
            StreamUnavailableError: the stream could not be reached at all.
            asyncio.CancelledError: after finalising the current file, on cancel.
        """
        ...


EngineTable: TypeAlias = Mapping[EngineKind, Mapping[StreamKind, Engine]]
"""The engines a worker offers: for each engine kind, one engine per transport."""


class DropSmallSegments:
    """A sink filter: a closed file under `min_size_bytes` is deleted, reported empty.

    All engines share it, so the rule (and its log line) lives in one place. The
    inner sink hears of a dropped file as closed with `size_bytes == 0`, exactly as
    of a file that never received a byte.

    Args:
        inner: the sink that keeps rows or prints progress.
        min_size_bytes: smallest file kept; 0 keeps everything.
    """

    def __init__(self, inner: SegmentSink, min_size_bytes: int) -> None:
        self.inner = inner
        self.min_size_bytes = min_size_bytes

    async def opened(self, segment: SegmentState) -> None:
        await self.inner.opened(segment)

    async def progressed(self, segment: SegmentState) -> None:
        await self.inner.progressed(segment)

    async def closed(self, segment: SegmentState) -> None:
        if 0 < segment.size_bytes < self.min_size_bytes:
            log.info(
                "deleting %s: %d bytes is under the %d-byte minimum segment size",
                segment.path,
                segment.size_bytes,
                self.min_size_bytes,
            )
            await finish_uncancelled(
                asyncio.to_thread(segment.path.unlink, missing_ok=True)
            )
            segment = dataclasses.replace(segment, size_bytes=0, duration_secs=0.0)
        await self.inner.closed(segment)


T = TypeVar("T")


async def finish_uncancelled(aw: Awaitable[T]) -> T:
    """Await `aw` to its end even if cancelled meanwhile, then re-raise the cancel.

    Engines and sinks wrap each file write and row update in it, so a stop that
    arrives mid-write never leaves a byte count that is not on disk.
    """
    task = asyncio.ensure_future(aw)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise

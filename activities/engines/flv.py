"""The native HTTP-FLV engine: stream the body, parse tags, write `.flv` segments.

Three layers, so that repair stages (keyframe index in onMetaData, timestamp jump
repair) can be added between them later:

* `FlvParser` (`flv_tags`) turns network chunks into tags;
* `FlvSegmenter` decides what goes into which file (sequence headers, splits) and
  reports to the `SegmentSink`;
* `FlvFileWriter` writes one file, rebasing timestamps to start at 0.

Every file starts with the FLV header, the latest onMetaData and the latest AVC/AAC
sequence headers, so each one plays on its own.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING

import httpx

from activities.engines.base import SegmentState
from activities.engines.flv_tags import FlvFormatError, FlvHeader, FlvParser, FlvTag
from activities.errors import RecorderProcessError, StreamUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import BinaryIO

    from activities.contracts import StreamSource
    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECS = 1.0
# Upstream timestamps that go back further than this are a reset (encoder restart),
# not audio/video interleaving jitter, and are rebased instead of clamped.
BACKWARD_JUMP_MS = 1000


class FlvFileWriter:
    """Writes one `.flv` file: header, prelude tags at 0, then rebased media tags.

    File writes are small appends to a buffered local file; they are not worth a
    thread hop per tag. Only `flush` pushes bytes to the OS, always at a tag boundary.

    Args:
        path: the file to create (truncated if present).
        header: the FLV header to write.
        prelude: tags written at timestamp 0 before any media (metadata,
            sequence headers).
    """

    def __init__(self, path: Path, header: FlvHeader, prelude: list[FlvTag]) -> None:
        self.path = path
        self._file: BinaryIO = path.open("wb")
        self._base: int | None = None
        self.last_timestamp = 0
        self.size = 0
        self.media_tags = 0
        self._append(header.encode())
        for tag in prelude:
            self._append(tag.encode(0))

    @property
    def duration_secs(self) -> float:
        """Media time covered so far (timestamp of the last tag written)."""
        return self.last_timestamp / 1000

    def timestamp_for(self, timestamp: int) -> int:
        """Return the file timestamp an upstream timestamp would get, never going back.

        Args:
            timestamp: the upstream tag timestamp in milliseconds.

        Returns:
            Milliseconds since the start of this file.
        """
        if self._base is None:
            return 0
        rebased = timestamp - self._base
        if rebased < self.last_timestamp - BACKWARD_JUMP_MS:
            return self.last_timestamp
        return max(rebased, self.last_timestamp)

    def write(self, tag: FlvTag) -> None:
        """Append a tag with its timestamp rebased to this file."""
        out = self.timestamp_for(tag.timestamp)
        if (
            self._base is None
            or tag.timestamp - self._base < self.last_timestamp - BACKWARD_JUMP_MS
        ):
            self._base = tag.timestamp - out
        self.last_timestamp = out
        if tag.is_audio or tag.is_video:
            self.media_tags += 1
        self._append(tag.encode(out))

    def flush(self) -> None:
        """Push buffered bytes to the OS; the file then ends at a tag boundary."""
        self._file.flush()

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()

    def _append(self, data: bytes) -> None:
        self._file.write(data)
        self.size += len(data)


class FlvSegmenter:
    """Routes parsed tags into numbered files according to an `OutputPlan`.

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
        self._plan = plan
        self._sink = sink
        self._stats = stats
        self._clock = clock
        self.header: FlvHeader | None = None
        self._metadata: FlvTag | None = None
        self._avc: FlvTag | None = None
        self._aac: FlvTag | None = None
        self._writer: FlvFileWriter | None = None
        self._segment: SegmentState | None = None
        self._index = plan.start_index
        self._seen_video = False
        self._awaiting_keyframe = True
        self._closed_bytes = 0
        self._closed_secs = 0.0
        self._last_progress = 0.0
        self._last_progress_media = 0.0
        stats.next_index = self._index

    async def write(self, tag: FlvTag) -> None:
        """Route one tag: store headers, split when due, append media.

        Args:
            tag: the next tag of the stream, upstream timestamp.
        """
        if tag.is_metadata:
            self._metadata = tag
        elif tag.is_sequence_header:
            await self._sequence_header(tag)
        elif tag.is_audio or tag.is_video:
            await self._media(tag)
        # Other script tags (onCuePoint…) and unknown tag types are dropped: players
        # ignore them and they would only complicate cutting.

    async def close(self) -> None:
        """Close the current file, if any, and report it."""
        writer, segment = self._writer, self._segment
        if writer is None or segment is None:
            return
        self._writer = self._segment = None
        writer.close()
        self._closed_bytes += writer.size
        self._closed_secs += writer.duration_secs
        self._stats.segments_closed += 1
        self._update_stats(None)
        await self._sink.closed(self._snapshot(segment, writer))

    async def _sequence_header(self, tag: FlvTag) -> None:
        current = self._avc if tag.is_video else self._aac
        if current is not None and current.data == tag.data:
            return
        if tag.is_video:
            self._avc = tag
            self._seen_video = True
        else:
            self._aac = tag
        if self._writer is None:
            return
        if current is None:
            self._writer.write(tag)
            return
        await self.close()
        # The next file must open on a keyframe to be decodable on its own.
        self._awaiting_keyframe = self._seen_video

    async def _media(self, tag: FlvTag) -> None:
        if tag.is_video:
            self._seen_video = True
            if self._awaiting_keyframe:
                if not tag.is_keyframe:
                    return
                self._awaiting_keyframe = False
        if self._writer is not None and self._split_due(self._writer, tag):
            await self.close()
        if self._writer is None or self._segment is None:
            writer, segment = await self._open()
        else:
            writer, segment = self._writer, self._segment
        writer.write(tag)
        self._update_stats(writer)
        # Paced by media time as well as wall time: a stream that arrives in
        # bursts still reports about once per second of media.
        now = self._clock()
        if (
            now - self._last_progress >= PROGRESS_INTERVAL_SECS
            or writer.duration_secs - self._last_progress_media
            >= PROGRESS_INTERVAL_SECS
        ):
            self._last_progress = now
            self._last_progress_media = writer.duration_secs
            writer.flush()
            await self._sink.progressed(self._snapshot(segment, writer))

    def _split_due(self, writer: FlvFileWriter, tag: FlvTag) -> bool:
        if writer.media_tags == 0 or (self._seen_video and not tag.is_keyframe):
            return False
        plan = self._plan
        if plan.max_size_bytes and writer.size >= plan.max_size_bytes:
            return True
        return bool(
            plan.max_duration_secs
            and writer.timestamp_for(tag.timestamp) >= plan.max_duration_secs * 1000
        )

    async def _open(self) -> tuple[FlvFileWriter, SegmentState]:
        if self.header is None:
            raise RecorderProcessError("FLV tag before the FLV header")
        path = self._plan.path_for(self._index, "flv")
        path.parent.mkdir(parents=True, exist_ok=True)
        prelude = [t for t in (self._metadata, self._avc, self._aac) if t is not None]
        writer = self._writer = FlvFileWriter(path, self.header, prelude)
        segment = self._segment = SegmentState(index=self._index, path=path)
        self._index += 1
        self._stats.next_index = self._index
        self._last_progress = self._clock()
        self._last_progress_media = 0.0
        await self._sink.opened(self._snapshot(segment, writer))
        return writer, segment

    def _update_stats(self, writer: FlvFileWriter | None) -> None:
        size = writer.size if writer else 0
        secs = writer.duration_secs if writer else 0.0
        self._stats.bytes_written = self._closed_bytes + size
        self._stats.media_time_secs = self._closed_secs + secs

    @staticmethod
    def _snapshot(segment: SegmentState, writer: FlvFileWriter) -> SegmentState:
        # A copy, so a sink that keeps the object does not see it change later.
        return dataclasses.replace(
            segment,
            size_bytes=writer.size,
            duration_secs=writer.duration_secs,
        )


class FlvEngine:
    """Records an HTTP-FLV stream natively, without ffmpeg.

    Args:
        http: the worker's shared client; its read timeout bounds a stalled stream.
    """

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def record(
        self,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
    ) -> str:
        """Record `source` until its body ends.

        Args:
            source: an FLV stream source.
            plan: where files go and when to cut them.
            sink: told as files open, grow and close.
            stats: kept current for the heartbeat.

        Returns:
            `ended` when the body ends, `stalled` on a read timeout, `disconnected`
            when the connection breaks mid-stream.

        Raises:
            StreamUnavailableError: the request failed, was refused or got HTTP >= 400.
            RecorderProcessError: the body is not FLV.
            asyncio.CancelledError: after closing the current file.
        """
        segmenter = FlvSegmenter(plan, sink, stats)
        try:
            return await self._pump(source, segmenter)
        finally:
            await segmenter.close()

    async def _pump(self, source: StreamSource, segmenter: FlvSegmenter) -> str:
        request = self._http.build_request("GET", source.url, headers=source.headers)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as err:
            raise StreamUnavailableError(f"FLV stream unreachable: {err!r}") from err
        try:
            if response.status_code >= 400:
                raise StreamUnavailableError(
                    f"FLV stream answered HTTP {response.status_code}"
                )
            parser = FlvParser()
            try:
                # No chunk_size: httpx would hold bytes back until a chunk fills;
                # network reads (at most 64 KiB) already bound memory.
                async for chunk in response.aiter_bytes():
                    for item in parser.feed(chunk):
                        if isinstance(item, FlvHeader):
                            segmenter.header = item
                        else:
                            await segmenter.write(item)
            except FlvFormatError as err:
                raise RecorderProcessError(
                    f"the stream at {source.url} is not FLV: {err}"
                ) from err
            except httpx.TimeoutException:
                logger.warning("FLV stream stalled: %s", source.url)
                return "stalled"
            except httpx.TransportError as err:
                logger.warning("FLV stream broke: %s: %r", source.url, err)
                return "disconnected"
            if parser.header is None:
                if parser.pending:
                    raise RecorderProcessError(
                        f"the stream at {source.url} is not FLV: body too short"
                    )
                raise StreamUnavailableError("FLV stream returned an empty body")
            if parser.pending:
                logger.info("FLV body ended inside a tag (%d bytes)", parser.pending)
            return "ended"
        finally:
            await response.aclose()

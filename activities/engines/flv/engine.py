"""The native HTTP-FLV engine: stream the body, repair it, write `.flv` segments.

    HTTP body ─► FlvParser ─► FlvRepair ─► FlvOutput ─► files
    (tags)                    (repair)      (writer)       └─► SegmentSink, stats

The repair stage is the one `srec flv fix` uses offline: timestamps rebased per
file and kept monotonic, repeated sequence headers dropped, a new file on a changed
header, onMetaData synthesised when missing and rewritten at close with duration
and a keyframe index, GOPs the server re-sends dropped. Files split by size or
duration only before a keyframe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import httpcore
import httpx

from activities.engines.base import SegmentState
from activities.engines.flv.meta import DEFAULT_KEYFRAME_SLOTS
from activities.engines.flv.repair import DataGroup, FlvRepair
from activities.engines.flv.tags import FlvFormatError, FlvHeader, FlvParser
from activities.engines.flv.writer import FlvOutput
from activities.errors import RecorderProcessError, StreamUnavailableError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from activities.contracts import StreamSource
    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink
    from activities.engines.flv.repair import RepairAction
    from activities.engines.flv.tags import FlvTag
    from activities.engines.flv.writer import FileEvent, FileInfo

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECS = 1.0
# A live FLV body arrives tag by tag (~75 tags/s at 6 Mbps), and each read through
# httpx costs ~0.5 ms: reading as it comes costs 4x `ffmpeg -c copy`. Once a read
# finds the socket drained, the engine waits this long before reading again, so the
# kernel gathers the next tags (190 KB at 6 Mbps, well within the socket buffer)
# for a few large reads.
COALESCE_SECS = 0.25
# A read that took this long waited for the network: the socket was drained.
_WAITED_SECS = 0.001
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
            max_duration_ms=int(plan.max_duration_secs * 1000),
            max_size_bytes=plan.max_size_bytes,
            keyframe_slots=keyframe_slots(plan),
            fixes=self.repair.fixes,
        )
        self._closed_bytes = 0
        self._closed_ms = 0
        self._last_progress = clock()
        self._last_progress_ms = 0
        stats.next_index = plan.start_index

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
        # segment start (issue 12)
        started_at=info.opened_at,
        media_start_secs=None if info.first_ms is None else info.first_ms / 1000,
    )


class FlvEngine:
    """Records an HTTP-FLV stream natively, without ffmpeg.

    Args:
        http: the worker's shared client (its connect, write and pool timeouts).
        coalesce_secs: pause after a read that drained the socket (see
            `COALESCE_SECS`); 0 reads as the bytes arrive.
    """

    def __init__(
        self, http: httpx.AsyncClient, *, coalesce_secs: float = COALESCE_SECS
    ) -> None:
        self._http = http
        self._coalesce_secs = coalesce_secs

    async def record(
        self,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
    ) -> str:
        """Record `source` until its body ends.

        Args:
            source: an FLV stream source; with `proxy` set, it is fetched through a
                client of its own that uses the proxy.
            plan: where files go and when to cut them.
            sink: told as files open, grow and close.
            stats: kept current for the heartbeat.

        Returns:
            `ended` when the body ends, `stalled` when no byte came for the plan's
            `stream_timeout_secs`, `disconnected` when the connection breaks
            mid-stream, `repeating` when the server re-sent `REPEATS_TO_END` GOPs
            in a row.

        Raises:
            StreamUnavailableError: the request failed, was refused or got HTTP >= 400.
            RecorderProcessError: the body is not FLV, or the proxy is unusable.
            asyncio.CancelledError: after closing the current file.
        """
        recording = FlvRecording(plan, sink, stats)
        http = self._http if source.proxy is None else self._proxy_client(source.proxy)
        try:
            return await self._pump(http, source, recording, plan.stream_timeout_secs)
        finally:
            try:
                await recording.close()
            finally:
                if http is not self._http:
                    await http.aclose()

    def _proxy_client(self, proxy: str) -> httpx.AsyncClient:
        # The shared client cannot take a per-request proxy; the recording gets
        # its own client with the shared one's timeouts.
        try:
            return httpx.AsyncClient(proxy=proxy, timeout=self._http.timeout)
        except (ValueError, ImportError) as err:
            raise RecorderProcessError(f"unusable proxy {proxy!r}: {err}") from err

    async def _pump(
        self,
        http: httpx.AsyncClient,
        source: StreamSource,
        recording: FlvRecording,
        stream_timeout_secs: float,
    ) -> str:
        shared = self._http.timeout
        # the read timeout is the stream timeout: no byte for that long is a stall
        timeout = httpx.Timeout(
            connect=shared.connect,
            read=stream_timeout_secs,
            write=shared.write,
            pool=shared.pool,
        )
        request = http.build_request(
            "GET", source.url, headers=source.headers, timeout=timeout
        )
        try:
            response = await http.send(request, stream=True)
        except httpx.TransportError as err:
            raise StreamUnavailableError(f"FLV stream unreachable: {err!r}") from err
        try:
            if response.status_code >= 400:
                raise StreamUnavailableError(
                    f"FLV stream answered HTTP {response.status_code}"
                )
            parser = FlvParser()
            try:
                async for chunk in self._chunks(response):
                    for item in parser.feed(chunk):
                        if isinstance(item, FlvHeader):
                            recording.header(item)
                        else:
                            await recording.write(item)
                    if recording.repeating:
                        logger.warning(
                            "FLV stream only repeats itself, ending: %s", source.url
                        )
                        # what is pending is the start of one more copy
                        recording.repair.drop_pending()
                        return "repeating"
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

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body as read, pausing `coalesce_secs` whenever it caught up.

        A read drained the socket when it returned less than httpcore reads at once
        *and* had to wait for it: the size alone cannot tell, since chunked transfer
        coding and HTTP/2 hand over one chunk or frame per read, full socket or not.
        While the engine pauses, anyio stops reading the socket, so the bytes wait
        in the kernel and arrive as one large read. The pause is a plain sleep: a
        cancel interrupts it at once; the end of the body is seen at the next read.
        No chunk_size: httpx would hold bytes back until a chunk fills; network
        reads (`READ_NUM_BYTES`, 64 KiB) already bound memory.
        """
        full = httpcore.AsyncHTTP11Connection.READ_NUM_BYTES
        body = response.aiter_bytes()
        clock = time.monotonic
        while True:
            started = clock()
            chunk = await anext(body, None)
            if chunk is None:
                return
            drained = len(chunk) < full and clock() - started >= _WAITED_SECS
            yield chunk
            if drained and self._coalesce_secs > 0:
                await asyncio.sleep(self._coalesce_secs)

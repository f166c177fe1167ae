"""The native HTTP-FLV engine: stream the body, repair it, write `.flv` segments.

    HTTP body ─► FlvParser ─► FlvRepair ─► FlvOutput ─► files
    (tags)                    (repair)      (writer)       └─► SegmentSink, stats

The repair stage is the one `srec flv fix` uses offline: timestamps rebased per
file and kept monotonic, repeated sequence headers dropped, a new file on a changed
header, onMetaData synthesised when missing and rewritten at close with duration
and a keyframe index, GOPs the server re-sends dropped. Files split by size or
duration only before a keyframe.

Signed URLs that expire: given a `refresh` (`activities.engines.refresh`), a 403
or 410 when connecting asks for a fresh URL, and a connection that ends or breaks
after bringing new media is opened again (a CDN may close it at the URL's
deadline): a 403/410 then asks for a fresh URL, a 404 or a failure means the
stream is over. The new connection feeds the same repair, so the file goes on and
its timeline continues (the new connection's headers are repeats, dropped; its
timestamps are rebased like any jump). A refresh that finds the broadcast over
ends the recording as `ended`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import httpcore
import httpx

from activities.engines.flv.recording import FlvRecording
from activities.engines.flv.tags import FlvFormatError, FlvHeader, FlvParser
from activities.engines.refresh import SourceRefresher, StreamEnded, is_expired
from activities.errors import RecorderProcessError, StreamUnavailableError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from activities.contracts import StreamSource
    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink
    from activities.engines.refresh import Refresh, RefreshPolicy

logger = logging.getLogger(__name__)

# A live FLV body arrives tag by tag (~75 tags/s at 6 Mbps), and each read through
# httpx costs ~0.5 ms: reading as it comes costs 4x `ffmpeg -c copy`. Once a read
# finds the socket drained, the engine waits this long before reading again, so the
# kernel gathers the next tags (190 KB at 6 Mbps, well within the socket buffer)
# for a few large reads.
COALESCE_SECS = 0.25
# A read that took this long waited for the network: the socket was drained.
_WAITED_SECS = 0.001
# what a connection that ended or broke may be opened again after (with `refresh`)
_RECONNECTABLE = frozenset({"ended", "disconnected"})


class _Refused(Exception):
    """The server answered the request with an HTTP error."""

    def __init__(self, status: int) -> None:
        super().__init__(f"FLV stream answered HTTP {status}")
        self.status = status


class FlvEngine:
    """Records an HTTP-FLV stream natively, without ffmpeg.

    Args:
        http: the worker's shared client (its connect, write and pool timeouts).
        coalesce_secs: pause after a read that drained the socket (see
            `COALESCE_SECS`); 0 reads as the bytes arrive.
        refresh_policy: how often to ask for fresh URLs.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        coalesce_secs: float = COALESCE_SECS,
        refresh_policy: RefreshPolicy | None = None,
    ) -> None:
        self._http = http
        self._coalesce_secs = coalesce_secs
        self._refresh_policy = refresh_policy

    async def record(
        self,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
        *,
        refresh: Refresh | None = None,
    ) -> str:
        """Record `source` until its body ends.

        Args:
            source: an FLV stream source; with `proxy` set, it is fetched through a
                client of its own that uses the proxy.
            plan: where files go and when to cut them.
            sink: told as files open, grow and close.
            stats: kept current for the heartbeat.
            refresh: asked for a fresh source when the URL expires (see the
                module); with it, a connection that ends is opened again.

        Returns:
            `ended` when the body ends (or a refresh found the broadcast over),
            `stalled` when no byte came for the plan's `stream_timeout_secs`,
            `disconnected` when the connection breaks mid-stream, `repeating`
            when the server re-sent `recording.REPEATS_TO_END` GOPs in a row.

        Raises:
            StreamUnavailableError: the request failed, was refused or got HTTP >= 400.
            RecorderProcessError: the body is not FLV, or the proxy is unusable.
            asyncio.CancelledError: after closing the current file.
        """
        recording = FlvRecording(plan, sink, stats)
        refresher = SourceRefresher(source, refresh, stats, self._refresh_policy)
        http = self._http if source.proxy is None else self._proxy_client(source.proxy)
        try:
            return await self._follow(
                http, refresher, recording, plan.stream_timeout_secs
            )
        finally:
            try:
                await recording.close()
            finally:
                await refresher.aclose()
                if http is not self._http:
                    await http.aclose()

    async def _follow(
        self,
        http: httpx.AsyncClient,
        refresher: SourceRefresher,
        recording: FlvRecording,
        stream_timeout_secs: float,
    ) -> str:
        """Connect; connect again while fresh URLs keep the recording going."""
        stats = recording.stats
        said: str | None = None  # why the last connection that got media ended
        while True:
            generation = refresher.generation
            written = stats.bytes_written
            try:
                reason = await self._pump(
                    http, refresher.source, recording, stream_timeout_secs
                )
            except (_Refused, StreamUnavailableError) as err:
                status = err.status if isinstance(err, _Refused) else 0
                try:
                    if is_expired(status) and await refresher.renew(
                        f"the stream answered HTTP {status}", seen=generation
                    ):
                        continue
                except StreamEnded:
                    return "ended"
                if said is None:  # nothing was received yet: the stream is not there
                    raise StreamUnavailableError(str(err)) from err
                logger.info("FLV stream not reopened (%s): %s", err, said)
                return said
            if (
                reason not in _RECONNECTABLE
                or not refresher.available
                or stats.bytes_written == written
            ):
                return reason
            said = reason
            logger.info("FLV connection %s: opening it again", reason)

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
                raise _Refused(response.status_code)
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

"""The native HLS engine: follows a live playlist and writes its segments to files.

Two tasks share one `OrderedWindow` of downloads. The poller (`poller`) reloads the
playlist and queues each new segment once; the window fetches a few at a time
(`fetch`); the writer takes them in media-sequence order and appends them to the
output files (`output`). Segment bodies, nearly all the bytes, travel by `http11`
(blocking `http.client` in worker threads, off the event loop) when the client reaches
the network itself; playlists, keys and init sections by httpx. A segment that
fails every try is skipped and counted; `gap_limit` consecutive ones end the
recording as `stalled`.

Cancelling `record` cancels both tasks and the downloads, lets a file write in
progress finish, closes the current file and re-raises (a segment download in a
thread is aborted, see `http11`). This package knows nothing of Temporal.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from activities.engines.hls.fetch import Fetched, OrderedWindow, SegmentFetcher
from activities.engines.hls.http11 import LeanFetcher, usable_proxy
from activities.engines.hls.output import Output, Piece
from activities.engines.hls.poller import PlaylistPoller
from activities.errors import RecorderProcessError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from activities.contracts import StreamSource
    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink
    from activities.engines.hls.playlist import Segment

log = logging.getLogger(__name__)


class HlsEngine:
    """Records live HLS (MPEG-TS or fMP4, clear or AES-128) into `.ts`/`.mp4` files.

    Args:
        http: the worker's shared client; a source with a proxy gets its own.
        segment_tries: attempts per segment before it is skipped (a gap).
        retry_delay_secs: pause after a failed segment attempt (grows linearly).
        gone_tries: consecutive 404/410/refused playlist loads that end the stream.
        stall_targets: target durations without a new segment that mean "stalled".
        concurrency: segment downloads in flight (and segments held in memory).
        gap_limit: consecutive skipped segments that mean "stalled".
        restart_reloads: reloads behind the recorded sequence that mean the
            encoder restarted its numbering.
        request_timeout_secs: deadline of every single request.
        variant_tries: variants of a master playlist tried before giving up.
        lean_fetch: segment bodies through `http11` (threads, `http.client`)
            rather than httpx; None: whenever `http` reaches the network itself
            (not a test's mock transport, not a client-wide proxy) and the
            source's proxy, if any, is an http:// one.
        clock: monotonic clock in seconds, replaceable in tests.
        sleep: async sleep, replaceable in tests.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        segment_tries: int = 3,
        retry_delay_secs: float = 0.5,
        gone_tries: int = 3,
        stall_targets: float = 3.0,
        concurrency: int = 4,
        gap_limit: int = 5,
        restart_reloads: int = 3,
        request_timeout_secs: float = 30.0,
        variant_tries: int = 3,
        lean_fetch: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.segment_tries = segment_tries
        self.retry_delay_secs = retry_delay_secs
        self.gone_tries = gone_tries
        self.stall_targets = stall_targets
        self.concurrency = concurrency
        self.gap_limit = gap_limit
        self.restart_reloads = restart_reloads
        self.request_timeout_secs = request_timeout_secs
        self.variant_tries = variant_tries
        self.lean_fetch = lean_fetch
        self.clock = clock
        self.sleep = sleep

    async def record(
        self,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
    ) -> str:
        """Record until ENDLIST or a vanished playlist (`ended`), or a stall.

        Returns:
            `ended`, or `stalled` (no new segment for a while, or too many gaps).

        Raises:
            RecorderProcessError: the stream uses something that cannot be
                recorded (SAMPLE-AES, DRM, an unparseable or nested playlist).
            asyncio.CancelledError: after closing the current file.
        """
        async with self._client_for(source) as http:
            return await _Run(self, http, source, plan, sink, stats).run()

    def lean_fetcher_for(self, source: StreamSource) -> LeanFetcher | None:
        """The recording's threaded segment fetcher, or None to keep httpx."""
        lean = self.lean_fetch
        if lean is None:
            # httpx keeps its transports private; a client built with a mock
            # transport (tests) or a client-wide proxy (mounts) stays on httpx;
            # should httpx rename them, every client stays on httpx
            transport = getattr(self.http, "_transport", None)
            mounts = getattr(self.http, "_mounts", None)
            lean = (
                isinstance(transport, httpx.AsyncHTTPTransport)
                and mounts is not None
                and not any(mounts.values())
            )
        if not lean or not usable_proxy(source.proxy):
            return None
        timeout = self.http.timeout
        return LeanFetcher(
            # raw: the names as given (httpx's mapping view lowercases them)
            {
                k.decode("latin-1"): v.decode("latin-1")
                for k, v in self.http.headers.raw
            },
            connect_timeout=timeout.connect or self.request_timeout_secs,
            read_timeout=timeout.read or self.request_timeout_secs,
            proxy=source.proxy,
        )

    @contextlib.asynccontextmanager
    async def _client_for(
        self, source: StreamSource
    ) -> AsyncIterator[httpx.AsyncClient]:
        if not source.proxy:
            yield self.http
            return
        try:
            client = httpx.AsyncClient(
                proxy=source.proxy,
                timeout=self.http.timeout,
                follow_redirects=self.http.follow_redirects,
                headers=self.http.headers,
            )
        except ImportError as err:
            raise RecorderProcessError(
                f"proxy {source.proxy} needs an optional package (httpx[socks]): {err}"
            ) from err
        except (ValueError, httpx.InvalidURL) as err:
            raise RecorderProcessError(f"bad proxy URL {source.proxy}: {err}") from err
        async with client:
            yield client


@dataclass(frozen=True)
class _Job:
    """A finished download and the stream epoch it belongs to."""

    epoch: int
    fetched: Fetched


class _Run:
    """One `record` call: a poller task and a writer task around one window."""

    def __init__(
        self,
        engine: HlsEngine,
        http: httpx.AsyncClient,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
    ) -> None:
        self.engine = engine
        self.output = Output(plan, sink, stats)
        self.fetcher = SegmentFetcher(
            http,
            source.headers,
            tries=engine.segment_tries,
            retry_delay_secs=engine.retry_delay_secs,
            timeout_secs=engine.request_timeout_secs,
            sleep=engine.sleep,
            lean=engine.lean_fetcher_for(source),
        )
        self.window: OrderedWindow[_Job] = OrderedWindow(engine.concurrency)
        self.poller = PlaylistPoller(
            engine, http, source, plan.resume_marker, self._queue
        )
        self.gaps = 0
        self.consecutive_gaps = 0

    async def run(self) -> str:
        poller = asyncio.ensure_future(self._poll())
        writer = asyncio.ensure_future(self._write())
        try:
            done, _ = await asyncio.wait(
                {poller, writer}, return_when=asyncio.FIRST_COMPLETED
            )
            if writer in done and poller not in done:
                return writer.result() or "stalled"
            reason = poller.result()
            return await writer or reason
        finally:
            # also on errors and cancellation: what was written stays a valid file
            for task in (poller, writer):
                task.cancel()
            await asyncio.wait({poller, writer})
            for task in (poller, writer):
                if not task.cancelled():
                    task.exception()  # the one that mattered was raised above
            await self.window.aclose()
            self.fetcher.close()
            await self.output.close()
            if self.gaps:
                log.warning("%d segments could not be fetched: gaps", self.gaps)

    async def _poll(self) -> str:
        try:
            return await self.poller.follow()
        finally:
            self.window.finish()

    def _queue(self, segment: Segment, epoch: int) -> None:
        self.window.add(functools.partial(self._fetch, segment, epoch))

    async def _fetch(self, segment: Segment, epoch: int) -> _Job:
        return _Job(epoch=epoch, fetched=await self.fetcher.fetch(segment))

    # --- writer -------------------------------------------------------------------

    async def _write(self) -> str | None:
        """Write downloads in order; "stalled" after too many gaps in a row."""
        while (job := await self.window.next()) is not None:
            fetched = job.fetched
            segment = fetched.segment
            if fetched.data is None:
                self.gaps += 1
                self.consecutive_gaps += 1
                if self.consecutive_gaps >= self.engine.gap_limit:
                    log.warning(
                        "%d segments in a row failed (last: %s): stalled",
                        self.consecutive_gaps,
                        fetched.problem,
                    )
                    return "stalled"
                continue
            self.consecutive_gaps = 0
            await self.output.write(
                Piece(
                    data=fetched.data,
                    duration=segment.duration,
                    sequence=segment.sequence,
                    ext="ts" if fetched.init is None else "mp4",
                    group=(job.epoch, fetched.init),
                    init=fetched.init,
                    discontinuity=segment.discontinuity,
                )
            )
        return None

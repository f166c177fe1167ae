"""The native HLS engine: follows a live playlist and writes its segments to files.

Two tasks share one `OrderedWindow` of downloads. The poller (`poller`) reloads the
playlist and queues each new segment once; the window fetches a few at a time
(`fetch`); the writer takes them in media-sequence order and appends them to the
output files (`output`). Segment bodies, nearly all the bytes, travel by `http11`
(blocking `http.client` in worker threads, off the event loop) when the engine was
told how the shared client reaches the network (`NetworkAccess`); playlists, keys
and init sections, and every request of an engine told nothing, by httpx.

A stall is not the end of the stream (see `poller`): the recording ends at ENDLIST,
when the playlist is gone for good, or when no segment was written for the plan's
`stream_timeout_secs` (`stalled`). A failing segment is retried while the playlist
still lists it; one given up is a gap, counted and logged, and the file goes on
(see `output` for why a gap never needs a new file). Nor is an expired signed URL:
given a `refresh`, the engine swaps in a fresh URL ahead of the deadline or at the
first 403/410 and goes on after the last segment queued, in the same file.

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
from activities.engines.refresh import SourceRefresher
from activities.errors import RecorderProcessError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from activities.contracts import StreamSource
    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink
    from activities.engines.network import NetworkAccess
    from activities.engines.refresh import Refresh, RefreshPolicy
    from activities.hls.playlist import Segment

log = logging.getLogger(__name__)


class HlsEngine:
    """Records live HLS (MPEG-TS or fMP4, clear or AES-128) into `.ts`/`.mp4` files.

    Args:
        http: the worker's shared client; a source with a proxy gets its own.
        network: how `http` reaches the network, from whoever built it; given,
            segment bodies take the lean path (`http11`) with the same TLS trust,
            proxy, headers and cookie jar; None keeps every request on httpx (a
            test's mock transport, a client built elsewhere).
        segment_tries: attempts per segment before it may be given up.
        retry_delay_secs: pause after failed segment attempt n is n times this...
        max_retry_delay_secs: ...at most this.
        gone_tries: 404/410/refused playlist loads in a row that may end the stream,
        gone_secs: ...once they also lasted this long.
        concurrency: segment downloads in flight (and segments held in memory).
        restart_reloads: reloads behind the recorded sequence, with segments never
            seen, that mean the encoder restarted its numbering.
        request_timeout_secs: deadline of every single request.
        variant_tries: variants of a master playlist tried before giving up.
        refresh_policy: how often and how early to ask for fresh URLs.
        clock: monotonic clock in seconds, replaceable in tests.
        sleep: async sleep, replaceable in tests.
        wall: Unix time in seconds (URL deadlines), replaceable in tests.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        network: NetworkAccess | None = None,
        segment_tries: int = 3,
        retry_delay_secs: float = 0.5,
        max_retry_delay_secs: float = 2.0,
        gone_tries: int = 3,
        gone_secs: float = 10.0,
        concurrency: int = 4,
        restart_reloads: int = 3,
        request_timeout_secs: float = 30.0,
        variant_tries: int = 3,
        refresh_policy: RefreshPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.network = network
        self.segment_tries = segment_tries
        self.retry_delay_secs = retry_delay_secs
        self.max_retry_delay_secs = max_retry_delay_secs
        self.gone_tries = gone_tries
        self.gone_secs = gone_secs
        self.concurrency = concurrency
        self.restart_reloads = restart_reloads
        self.request_timeout_secs = request_timeout_secs
        self.variant_tries = variant_tries
        self.refresh_policy = refresh_policy
        self.clock = clock
        self.sleep = sleep
        self.wall = wall

    async def record(
        self,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
        *,
        refresh: Refresh | None = None,
    ) -> str:
        """Record until ENDLIST or a vanished playlist (`ended`), or a stall.

        Args:
            source: the playlist (media or master) and its headers.
            plan: where files go and when to cut them.
            sink: told as files open, grow and close.
            stats: kept current for the heartbeat.
            refresh: asked for a fresh source when the URL expires.

        Returns:
            `ended` (also when a refresh found the broadcast over), or `stalled`
            (no segment written for the plan's `stream_timeout_secs`).

        Raises:
            RecorderProcessError: the stream uses something that cannot be
                recorded (SAMPLE-AES, DRM, an unparseable or nested playlist).
            asyncio.CancelledError: after closing the current file.
        """
        refresher = SourceRefresher(
            source,
            refresh,
            stats,
            self.refresh_policy,
            clock=self.clock,
            wall=self.wall,
        )
        try:
            async with self._client_for(source) as http:
                return await _Run(self, http, refresher, plan, sink, stats).run()
        finally:
            await refresher.aclose()

    def lean_fetcher_for(
        self, source: StreamSource, http: httpx.AsyncClient | None = None
    ) -> LeanFetcher | None:
        """The recording's threaded segment fetcher, or None to keep httpx.

        Args:
            source: the stream; its proxy, else the client-wide one, is used.
            http: the recording's client (default: the shared one), whose
                headers, timeouts and cookie jar the fetcher shares.
        """
        network = self.network
        if network is None:
            return None
        proxy = source.proxy or network.proxy
        if not usable_proxy(proxy):
            return None
        client = http or self.http
        timeout = client.timeout
        return LeanFetcher(
            # raw: the names as given (httpx's mapping view lowercases them)
            {k.decode("latin-1"): v.decode("latin-1") for k, v in client.headers.raw},
            connect_timeout=timeout.connect or self.request_timeout_secs,
            read_timeout=timeout.read or self.request_timeout_secs,
            ssl_context=network.ssl_context,
            proxy=proxy,
            cookies=client.cookies.jar,
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
                cookies=self.http.cookies,
                verify=self.network.ssl_context if self.network else True,
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
        refresher: SourceRefresher,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
    ) -> None:
        self.engine = engine
        self.output = Output(plan, sink, stats)
        source = refresher.source
        self.fetcher = SegmentFetcher(
            http,
            refresher,
            tries=engine.segment_tries,
            retry_delay_secs=engine.retry_delay_secs,
            max_retry_delay_secs=engine.max_retry_delay_secs,
            # a segment a playlist never drops gives way well before the timeout
            patience_secs=plan.stream_timeout_secs / 2,
            timeout_secs=engine.request_timeout_secs,
            clock=engine.clock,
            sleep=engine.sleep,
            lean=engine.lean_fetcher_for(source, http),
        )
        self.window: OrderedWindow[_Job] = OrderedWindow(engine.concurrency)
        self.last_written = engine.clock()
        self.poller = PlaylistPoller(
            engine,
            http,
            refresher,
            plan.resume_marker,
            self._queue,
            stream_timeout_secs=plan.stream_timeout_secs,
            last_written=lambda: self.last_written,
        )
        self.gaps = 0

    async def run(self) -> str:
        poller = asyncio.ensure_future(self._poll())
        writer = asyncio.ensure_future(self._write())
        try:
            done, _ = await asyncio.wait(
                {poller, writer}, return_when=asyncio.FIRST_COMPLETED
            )
            if poller not in done:
                writer.result()  # the writer ends before the poller only by failing
            reason = await poller
            await writer
            return reason
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
            missing = self.gaps + self.poller.skipped
            if missing:
                log.warning(
                    "%d segments missing (gaps): %d given up, %d left the playlist "
                    "before they were fetched",
                    missing,
                    self.gaps,
                    self.poller.skipped,
                )

    async def _poll(self) -> str:
        try:
            return await self.poller.follow()
        finally:
            self.window.finish()

    def _queue(self, segment: Segment, epoch: int) -> None:
        self.window.add(functools.partial(self._fetch, segment, epoch))

    async def _fetch(self, segment: Segment, epoch: int) -> _Job:
        listed = functools.partial(self.poller.listed, segment.sequence, epoch)
        current = functools.partial(self.poller.current, segment, epoch)
        fetched = await self.fetcher.fetch(segment, listed, current)
        return _Job(epoch=epoch, fetched=fetched)

    # --- writer -------------------------------------------------------------------

    async def _write(self) -> None:
        """Write downloads in order; a segment given up is a gap, counted."""
        while (job := await self.window.next()) is not None:
            fetched = job.fetched
            segment = fetched.segment
            if fetched.data is None:
                self.gaps += 1
                continue
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
            self.last_written = self.engine.clock()

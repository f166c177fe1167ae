"""Segment downloads: a few at a time, handed back strictly in playlist order.

`OrderedWindow` runs at most `limit` jobs at once and returns their results in the
order they were added; a result waits in the window until every earlier one was taken,
and no new job starts while `limit` results are running or waiting. Memory is thus
bounded by `limit` segments, whatever the playlist holds.

`SegmentFetcher` downloads one segment with its init section and key, decrypts it,
and retries with a growing pause (capped): at least `tries` times, and beyond that
for as long as the segment is still listed in the playlist (a 503 burst, a refused
connection or an edge that does not have it yet all pass while the window still
holds it), but no longer than `patience_secs` from the first try, so that a segment
a playlist never drops (EVENT playlists, the final window after ENDLIST) costs a
gap, not the recording. A segment given up comes back without data: a gap the
engine counts. Segment bodies go through the lean threaded fetcher (`http11`) when
the engine gives one, everything else through httpx.

Each try asks for the segment as the latest playlist lists it, with the source's
current headers. A 403/410 (a signed URL that expired) asks the recording's
`SourceRefresher` for a fresh URL, shared by every download that met it; the
poller then loads the fresh playlist and the next try fetches the segment from
there. A refresh that finds the broadcast over gives the segment up at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import httpx

from activities.engines.hls import crypto
from activities.engines.hls.cache import OnceCache
from activities.engines.hls.http11 import LeanFetchError
from activities.engines.refresh import StreamEnded, is_expired

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from activities.engines.hls.http11 import LeanFetcher
    from activities.engines.refresh import SourceRefresher
    from activities.hls.playlist import ByteRange, InitSection, Key, Segment

log = logging.getLogger(__name__)

T = TypeVar("T")


class OrderedWindow(Generic[T]):
    """Up to `limit` concurrent jobs whose results come out in the order added.

    Args:
        limit: jobs running or finished-but-not-taken at any time.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the window needs room for one job")
        self._limit = limit
        self._queued: deque[Callable[[], Awaitable[T]]] = deque()
        self._running: deque[asyncio.Future[T]] = deque()
        self._finished = False
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._queued) + len(self._running)

    @property
    def in_flight(self) -> int:
        """Jobs started whose result was not taken yet."""
        return len(self._running)

    def add(self, job: Callable[[], Awaitable[T]]) -> None:
        """Queue a job; it starts as soon as the window has room."""
        if self._finished:
            raise RuntimeError("add() after finish()")
        self._queued.append(job)
        self._fill()
        self._changed.set()

    def finish(self) -> None:
        """No more jobs will be added: `next` returns None once all are taken."""
        self._finished = True
        self._changed.set()

    async def next(self) -> T | None:
        """The oldest job's result, waiting for it; None after `finish` and the last.

        Raises:
            Exception: whatever the oldest job raised.
        """
        while not self._running:
            if self._finished:
                return None
            self._changed.clear()
            await self._changed.wait()
        head = self._running[0]
        # waiting must not cancel the job: a cancelled reader leaves it to aclose()
        await asyncio.wait([head])
        self._running.popleft()
        self._fill()
        return head.result()

    async def aclose(self) -> None:
        """Cancel every job and wait until they are gone."""
        self._queued.clear()
        running = list(self._running)
        self._running.clear()
        for job in running:
            job.cancel()
        if running:
            await asyncio.wait(running)
        for job in running:
            if not job.cancelled():
                job.exception()  # retrieved: a failure nobody will read is not news

    def _fill(self) -> None:
        while self._queued and len(self._running) < self._limit:
            self._running.append(asyncio.ensure_future(self._queued.popleft()()))


class _FetchFailed(Exception):
    """One attempt at a segment, its key or its init section failed.

    Args:
        problem: what went wrong.
        status: the HTTP status that said so, if one did.
    """

    def __init__(self, problem: str, status: int | None = None) -> None:
        super().__init__(problem)
        self.status = status


@dataclass(frozen=True)
class Fetched:
    """A downloaded, decrypted segment, or the news that every try failed.

    Attributes:
        segment: the playlist's segment.
        data: its media bytes; None when it could not be fetched (a gap).
        init: its init section (fMP4), decrypted.
        problem: why the last try failed, for a gap.
    """

    segment: Segment
    data: bytes | None
    init: bytes | None = None
    problem: str = ""


class SegmentFetcher:
    """Downloads segments for one recording, with retries, keys and init sections.

    Args:
        http: the client (the shared one, or the recording's proxy client).
        refresher: the source, whose headers go with every request (cookies,
            referer), and fresh URLs when they expire.
        tries: attempts per segment, listed or not, before it may be given up.
        retry_delay_secs: pause after failed attempt n is n times this...
        max_retry_delay_secs: ...but never more than this.
        patience_secs: a listed segment is given up this long after its first try.
        timeout_secs: a whole request (headers and body) must finish within this.
        clock: monotonic clock in seconds.
        sleep: async sleep, replaceable in tests.
        lean: fetches segment bodies off the event loop; None: httpx does.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        refresher: SourceRefresher,
        *,
        tries: int,
        retry_delay_secs: float,
        max_retry_delay_secs: float,
        patience_secs: float,
        timeout_secs: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        lean: LeanFetcher | None = None,
    ) -> None:
        self.http = http
        self.lean = lean
        self.refresher = refresher
        self.tries = max(1, tries)
        self.retry_delay_secs = retry_delay_secs
        self.max_retry_delay_secs = max_retry_delay_secs
        self.patience_secs = patience_secs
        self.timeout_secs = timeout_secs
        self.clock = clock
        self.sleep = sleep
        self.keys: OnceCache[str, bytes] = OnceCache(self._load_key)
        self.inits: OnceCache[tuple[InitSection, Key | None], bytes] = OnceCache(
            self._load_init, capacity=4
        )

    def close(self) -> None:
        """Forget keys and init sections; close the lean fetcher's connections."""
        self.keys.close()
        self.inits.close()
        if self.lean is not None:
            self.lean.close()

    async def fetch(
        self,
        segment: Segment,
        listed: Callable[[], bool],
        current: Callable[[], Segment] | None = None,
    ) -> Fetched:
        """Download, decrypt and return `segment`; never raises for network trouble.

        Args:
            segment: the playlist's segment.
            listed: whether the playlist still lists it (asked after each failure).
            current: the segment as the latest playlist lists it (asked before
                each try); None keeps `segment`.

        Returns:
            The segment's bytes (and init section), or `data=None` once it was
            given up (see the module).
        """
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            if current is not None:
                segment = current()
            generation = self.refresher.generation
            try:
                return await self._attempt(segment)
            except _FetchFailed as err:
                problem = str(err)
                if err.status is not None and await self._expired(
                    err.status, segment, generation
                ):
                    return Fetched(segment=segment, data=None, problem=problem)
            except crypto.DecryptError as err:
                problem = str(err)
                if segment.key is not None and segment.key.url:
                    # the server may have rotated the key behind the same URI
                    self.keys.forget(segment.key.url)
            if attempt >= self.tries:
                waited = self.clock() - started
                if not listed() or waited >= self.patience_secs:
                    break
            delay = min(self.retry_delay_secs * attempt, self.max_retry_delay_secs)
            await self.sleep(delay)
        log.warning(
            "giving up segment %d (%s) after %d tries in %.1f s%s: %s",
            segment.sequence,
            segment.url,
            attempt,
            waited,
            "" if listed() else ", no longer listed",
            problem,
        )
        return Fetched(segment=segment, data=None, problem=problem)

    async def _expired(self, status: int, segment: Segment, generation: int) -> bool:
        """Ask for a fresh URL after a 403/410; True when the broadcast is over."""
        if not is_expired(status) or not self.refresher.available:
            return False
        why = f"segment {segment.sequence} answered HTTP {status}"
        try:
            await self.refresher.renew(why, seen=generation)
        except StreamEnded:
            log.info("segment %d given up: the broadcast is over", segment.sequence)
            return True
        return False

    async def _attempt(self, segment: Segment) -> Fetched:
        init = None
        if segment.init is not None:
            init = await self.inits.get((segment.init, segment.key))
        data = await self._get(segment.url, segment.byterange, bulk=True)
        if segment.key is not None:
            data = await self._decrypt(data, segment.key, segment.sequence)
        return Fetched(segment=segment, data=data, init=init)

    async def _decrypt(self, data: bytes, key: Key, sequence: int) -> bytes:
        assert key.url is not None  # crypto.check_supported ran on the playlist
        material = await self.keys.get(key.url)
        # a thread: a multi-megabyte segment takes milliseconds
        return await asyncio.to_thread(
            crypto.decrypt, data, material, crypto.iv_for(key, sequence)
        )

    async def _load_key(self, url: str) -> bytes:
        inline = crypto.data_uri_key(url)
        if inline is None:
            inline = await self._get(url, None)
        return crypto.check_key(inline, url)

    async def _load_init(self, spec: tuple[InitSection, Key | None]) -> bytes:
        init, key = spec
        data = await self._get(init.url, init.byterange)
        if key is not None and not crypto.looks_like_mp4(data):
            # RFC 8216 requires an explicit IV for an encrypted init section; without
            # one there is no media sequence to fall back on, and 0 is as good a guess
            data = await self._decrypt(data, key, 0)
        return data

    async def _get(
        self, url: str, byterange: ByteRange | None, *, bulk: bool = False
    ) -> bytes:
        """GET `url` (or a byte range of it) within the request timeout.

        Args:
            bulk: a segment body, for the lean fetcher when there is one.

        Raises:
            _FetchFailed: a network error, a timeout, or a status other than 2xx.
        """
        headers = self.refresher.source.headers
        if byterange is not None:
            headers = {**headers, "Range": byterange.header()}
        try:
            async with asyncio.timeout(self.timeout_secs):
                if bulk and self.lean is not None:
                    got = await self.lean.get(url, headers)
                    status, body = got.status, got.body
                else:
                    response = await self.http.get(url, headers=headers)
                    status, body = response.status_code, response.content
        except TimeoutError as err:
            raise _FetchFailed(f"no answer within {self.timeout_secs:g} s") from err
        except (httpx.HTTPError, httpx.InvalidURL, LeanFetchError) as err:
            raise _FetchFailed(repr(err)) from err
        if status not in (200, 206):
            raise _FetchFailed(f"HTTP {status}", status)
        if byterange is not None and status == 200:
            # the server ignored Range and sent the whole resource
            end = byterange.offset + byterange.length
            if len(body) < end:
                raise _FetchFailed(f"{len(body)} bytes, the range ends at {end}")
            body = body[byterange.offset : end]
        return body

"""Native HLS engine: follows a live media playlist and appends its segments to files.

MPEG-TS segments can be concatenated byte for byte, so a recording is the segments
appended in media-sequence order. Each segment is tracked by its media sequence number:
one already written (in this run, or by an earlier attempt as `plan.resume_marker`) is
never written again, whatever order stale or duplicate playlist reloads arrive in.

Cancel safety: a file write, once started, runs to its end even if the task is
cancelled meanwhile, so every byte count the sink hears of is on disk; then the current
file is closed (an empty one is deleted and reported with `size_bytes == 0`) and the
cancellation propagates. This module is pure asyncio and knows nothing of Temporal.

fMP4 (EXT-X-MAP), encrypted streams (EXT-X-KEY) and master playlists are not handled
yet; they raise `RecorderProcessError` instead of producing a broken file.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx
import m3u8

from activities.engines.base import SegmentState, finish_uncancelled
from activities.errors import RecorderProcessError, StreamUnavailableError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from activities.contracts import StreamSource
    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink

log = logging.getLogger(__name__)

DEFAULT_TARGET_SECS = 6.0
_GONE = frozenset({404, 410})


class _Gone(Exception):
    """The playlist is not there any more (404/410, connection refused)."""


@dataclass
class _OutFile:
    index: int
    path: Path
    handle: BinaryIO
    size: int = 0
    duration: float = 0.0
    marker: int | None = None

    @classmethod
    def create(cls, index: int, path: Path) -> _OutFile:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(index=index, path=path, handle=path.open("wb"))

    def append(self, data: bytes, duration: float, sequence: int) -> None:
        self.handle.write(data)
        self.handle.flush()
        self.size += len(data)
        self.duration += duration
        self.marker = sequence

    def close(self) -> None:
        self.handle.close()
        if self.size == 0:
            self.path.unlink(missing_ok=True)

    def state(self) -> SegmentState:
        return SegmentState(
            index=self.index,
            path=self.path,
            size_bytes=self.size,
            duration_secs=self.duration,
            resume_marker=self.marker,
        )


class HlsEngine:
    """Records a live HLS media playlist of MPEG-TS segments into `.ts` files.

    Args:
        http: the worker's shared client.
        segment_tries: attempts per segment before it is skipped (a gap).
        retry_delay_secs: pause after a failed segment attempt (grows linearly).
        gone_tries: consecutive 404/410/refused playlist loads that end the stream.
        stall_targets: target durations without a new segment that mean "stalled".
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
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.segment_tries = segment_tries
        self.retry_delay_secs = retry_delay_secs
        self.gone_tries = gone_tries
        self.stall_targets = stall_targets
        self.clock = clock
        self.sleep = sleep

    async def record(
        self,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
    ) -> str:
        """Record until ENDLIST (`ended`), the playlist vanishes (`ended`) or stalls.

        Raises:
            RecorderProcessError: the playlist uses a feature not supported yet.
            asyncio.CancelledError: after closing the current file.
        """
        return await _Run(self, source, plan, sink, stats).run()


@dataclass
class _Run:
    engine: HlsEngine
    source: StreamSource
    plan: OutputPlan
    sink: SegmentSink
    stats: RecordingStats
    last_seq: int | None = None
    highest_seen: int | None = None
    first_load: bool = True
    next_index: int = 0
    current: _OutFile | None = None
    closed_bytes: int = 0
    closed_secs: float = 0.0
    gaps: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.last_seq = self.plan.resume_marker
        self.next_index = self.plan.start_index
        self.stats.next_index = self.next_index

    async def run(self) -> str:
        try:
            return await self._follow()
        finally:
            # also on errors and cancellation: what was written stays a valid file
            await self._close_current()

    async def _follow(self) -> str:
        engine = self.engine
        target = DEFAULT_TARGET_SECS
        gone = 0
        last_advance = engine.clock()
        while True:
            started = engine.clock()
            try:
                playlist = await self._load_playlist()
            except _Gone as why:
                gone += 1
                if gone >= engine.gone_tries:
                    log.info("playlist %s is gone (%s)", self.source.url, why)
                    return "ended"
                await engine.sleep(target / 2)
                continue
            except StreamUnavailableError as err:
                log.warning("playlist reload failed: %s", err)
                if engine.clock() - last_advance > engine.stall_targets * target:
                    return "stalled"
                await engine.sleep(target / 2)
                continue
            gone = 0
            target = float(playlist.target_duration or target)
            _check_supported(playlist)
            if await self._consume(playlist):
                last_advance = engine.clock()
                delay = target
            else:
                # RFC 8216 6.3.4: an unchanged reload waits half a target duration
                delay = target / 2
            if playlist.is_endlist:
                return "ended"
            if engine.clock() - last_advance > engine.stall_targets * target:
                log.info("playlist %s stalled at %s", self.source.url, self.last_seq)
                return "stalled"
            await engine.sleep(max(0.0, started + delay - engine.clock()))

    async def _load_playlist(self) -> m3u8.M3U8:
        url = self.source.url
        try:
            response = await self.engine.http.get(url, headers=self.source.headers)
        except httpx.ConnectError as err:
            raise _Gone(f"connection failed: {err}") from err
        except httpx.HTTPError as err:
            raise StreamUnavailableError(f"loading {url}: {err!r}") from err
        if response.status_code in _GONE:
            raise _Gone(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise StreamUnavailableError(f"{url} answered {response.status_code}")
        text = response.text
        if not text.lstrip("\ufeff").startswith("#EXTM3U"):
            raise StreamUnavailableError(f"{url} did not return a playlist")
        return m3u8.loads(text, uri=str(response.url))

    async def _consume(self, playlist: m3u8.M3U8) -> bool:
        """Write the playlist's new segments; True if the playlist advanced."""
        base = int(playlist.media_sequence or 0)
        count = len(playlist.segments)
        last = base + count - 1 if count else None
        self._note_window(base, last)
        advanced = last is not None and (
            self.highest_seen is None or last > self.highest_seen
        )
        if last is not None:
            self.highest_seen = max(last, self.highest_seen or last)
        for offset, segment in enumerate(playlist.segments):
            sequence = base + offset
            if self.last_seq is not None and sequence <= self.last_seq:
                continue
            data = await self._fetch_segment(segment.absolute_uri)
            if data is not None:
                await self._write(data, float(segment.duration or 0.0), sequence)
            else:
                self.gaps.append(sequence)
            self.last_seq = sequence
        return advanced

    def _note_window(self, base: int, last: int | None) -> None:
        first_load, self.first_load = self.first_load, False
        if self.last_seq is None or last is None:
            return
        if first_load and last < self.last_seq:
            # the marker is ahead of everything the server has: the encoder restarted
            # and numbers from scratch, so the old marker means nothing any more
            log.warning(
                "playlist ends at %d before resume marker %d: stream restarted",
                last,
                self.last_seq,
            )
            self.last_seq = None
        elif base > self.last_seq + 1:
            log.warning(
                "segments %d..%d left the playlist before they were fetched",
                self.last_seq + 1,
                base - 1,
            )

    async def _fetch_segment(self, url: str) -> bytes | None:
        engine = self.engine
        problem = ""
        for attempt in range(1, engine.segment_tries + 1):
            try:
                response = await engine.http.get(url, headers=self.source.headers)
            except httpx.HTTPError as err:
                problem = repr(err)
            else:
                if response.status_code == 200:
                    return response.content
                problem = f"HTTP {response.status_code}"
            if attempt < engine.segment_tries:
                await engine.sleep(engine.retry_delay_secs * attempt)
        log.warning(
            "skipping segment %s after %d tries (%s): the recording has a gap",
            url,
            engine.segment_tries,
            problem,
        )
        return None

    async def _write(self, data: bytes, duration: float, sequence: int) -> None:
        if self.current is None:
            await self._open()
        current = self.current
        assert current is not None
        await finish_uncancelled(
            asyncio.to_thread(current.append, data, duration, sequence)
        )
        self._sync_stats()
        await self.sink.progressed(current.state())
        plan = self.plan
        if (
            plan.max_duration_secs > 0 and current.duration >= plan.max_duration_secs
        ) or (plan.max_size_bytes > 0 and current.size >= plan.max_size_bytes):
            await self._close_current()

    async def _open(self) -> None:
        index = self.next_index
        path = self.plan.path_for(index, "ts")

        def create() -> None:
            # assigned in the thread so a cancel during creation still closes it
            self.current = _OutFile.create(index, path)

        await finish_uncancelled(asyncio.to_thread(create))
        self.next_index = index + 1
        self.stats.next_index = self.next_index
        assert self.current is not None
        await self.sink.opened(self.current.state())

    async def _close_current(self) -> None:
        current, self.current = self.current, None
        if current is None:
            return
        await finish_uncancelled(asyncio.to_thread(current.close))
        if current.size > 0:
            self.closed_bytes += current.size
            self.closed_secs += current.duration
            self.stats.segments_closed += 1
        self._sync_stats()
        await self.sink.closed(current.state())

    def _sync_stats(self) -> None:
        open_bytes = self.current.size if self.current else 0
        open_secs = self.current.duration if self.current else 0.0
        self.stats.bytes_written = self.closed_bytes + open_bytes
        self.stats.media_time_secs = self.closed_secs + open_secs


def _check_supported(playlist: m3u8.M3U8) -> None:
    if playlist.is_variant:
        raise RecorderProcessError(
            "the HLS engine needs a media playlist, got a master playlist"
        )
    methods: set[Any] = {key.method for key in playlist.keys if key is not None}
    methods.discard("NONE")
    if methods:
        raise RecorderProcessError(
            f"encrypted HLS (EXT-X-KEY METHOD={','.join(sorted(methods))}) "
            "is not supported yet"
        )
    if playlist.segment_map:
        raise RecorderProcessError(
            "fMP4 HLS (EXT-X-MAP) is not supported yet; only MPEG-TS segments"
        )

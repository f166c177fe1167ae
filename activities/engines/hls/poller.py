"""Following a live media playlist: reload pacing, new segments, the end of a stream.

The poller reloads the media playlist at RFC 8216 6.3.4's pace: a target duration
after a reload that brought new segments, half of one after one that did not or that
failed. It hands every segment it has not handed on before to `queue`, numbered by
media sequence: one already queued (in this run, or written by an earlier attempt,
the resume marker) is never queued again, whatever order reloads arrive in.

A stall is not the end. CDNs serve a playlist that stops advancing for seconds (a
stale cache, an ad break, a packager waiting for its encoder), an older window from
a lagging edge, or 404s and 5xx while an edge rotates; the poller reloads through
all of it. The stream is over only:

* at ENDLIST (or a VOD playlist): `ended`;
* when the playlist is gone for good: 404/410 or a refused connection on every load
  for `gone_secs` (10 s by default) and at least `gone_tries` loads (3) running:
  `ended`. Ten seconds outlasts the bursts of a rotating edge and still ends a
  finished stream long before the stream timeout;
* when no segment was written for `stream_timeout_secs` (60 s by default, as
  streamlink's `--stream-timeout`; at least two target durations): `stalled`. That
  covers a playlist that stopped for good, reloads that keep failing, and segments
  that all fail.

An older window (the newest segment behind what was queued) is ignored. Usually it
is a stale copy: it lists segments queued before under the same URIs (query strings
aside: they carry expiring tokens). A window behind whose segments are not
recognised, for `restart_reloads` reloads in a row, is an encoder that restarted its
numbering: numbering starts over in a new stream epoch, which the output writes to a
new file. A restart that reuses the very names and numbers of recent segments looks
like a stale copy; it ends at the stream timeout, and the next attempt, whose resume
marker is then ahead of the whole playlist, starts over.

`listed` tells the downloads whether the latest window accepted still lists a
segment: a failing one is retried for as long as it does (see `fetch`), each try at
the URI the latest window gives it (`current`: tokens in segment URIs change).

A signed URL that expires (`activities.engines.refresh`) is replaced, not the end:
ahead of its deadline, or when the playlist answers 403/410, the poller asks the
recording's `SourceRefresher` for a fresh one, and a download that meets 403/410
does the same; either way the poller wakes, loads the fresh playlist (a master is
resolved again) and goes on after the last sequence queued, so the file continues
with nothing repeated. A refresh that finds the broadcast over ends it (`ended`);
one that cannot be had (none offered, or the bound reached) leaves the poller to
treat the answer as before: 403 a failed reload, 410 a vanished playlist.

A master playlist is resolved first: its variants are ranked by the source's
`selection` (see `activities.hls.select`), and the next ones are tried while the
chosen one cannot be loaded.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

import httpx

from activities.engines.hls import crypto
from activities.engines.refresh import StreamEnded, is_expired
from activities.errors import RecorderProcessError, StreamUnavailableError
from activities.hls.playlist import (
    MasterPlaylist,
    MediaPlaylist,
    PlaylistError,
    parse_playlist,
)
from activities.hls.select import candidates_of, rank

if TYPE_CHECKING:
    from collections.abc import Callable

    from activities.engines.hls.engine import HlsEngine
    from activities.engines.refresh import SourceRefresher
    from activities.hls.playlist import Segment

log = logging.getLogger(__name__)

DEFAULT_TARGET_SECS = 6.0
# queued segments remembered to recognise a stale copy of the playlist (minutes of
# stream at any usual target duration, a few kB)
RECENT_SEGMENTS = 256
_GONE = frozenset({404, 410})
_FINAL = "endlist"
_TIMEOUT_TARGETS = 2


class _Gone(Exception):
    """The playlist is not there any more (404/410, connection refused)."""


class _Expired(Exception):
    """The playlist answered 403/410 and the recording can ask for a fresh URL."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class PlaylistPoller:
    """Follows one stream's playlist and queues each new segment once.

    Args:
        engine: the settings (tries, limits, clock and sleep).
        http: the client of this recording.
        refresher: the stream (URL, headers, selection), and fresh URLs of it.
        resume_marker: the last media sequence an earlier attempt wrote.
        queue: takes a new segment and its stream epoch.
        stream_timeout_secs: no segment written for this long means `stalled`.
        last_written: when a segment was last written (or the recording began).
    """

    def __init__(
        self,
        engine: HlsEngine,
        http: httpx.AsyncClient,
        refresher: SourceRefresher,
        resume_marker: int | None,
        queue: Callable[[Segment, int], None],
        *,
        stream_timeout_secs: float,
        last_written: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.http = http
        self.refresher = refresher
        self.queue = queue
        self.stream_timeout_secs = stream_timeout_secs
        self.last_written = last_written
        self.last_queued = resume_marker
        self.first_load = True  # until the first playlist with segments
        self.epoch = 0
        self.behind = 0
        self.skipped = 0  # segments that left the window before they were queued
        self.listed_from: int | None = None  # first sequence of the latest window
        self.following = True  # False once the stream is gone or stalled
        self._recent: OrderedDict[int, str] = OrderedDict()
        self._window: dict[int, Segment] = {}  # the latest window accepted
        self._generation = refresher.generation  # the source being followed

    def listed(self, sequence: int, epoch: int) -> bool:
        """Whether the latest window accepted still lists this segment.

        After ENDLIST the final window stays listed; after the playlist went away
        or stalled, nothing is.
        """
        return (
            self.following
            and epoch == self.epoch
            and self.listed_from is not None
            and sequence >= self.listed_from
        )

    def current(self, segment: Segment, epoch: int) -> Segment:
        """`segment` as the latest window lists it (its URI may carry a new token)."""
        if epoch != self.epoch:
            return segment
        return self._window.get(segment.sequence, segment)

    async def follow(self) -> str:
        """Follow the playlist until it ends (`ended`) or stalls (`stalled`).

        Raises:
            RecorderProcessError: an unusable playlist or encryption.
        """
        reason = await self._follow()
        if reason != _FINAL:
            self.following = False
        return "ended" if reason == _FINAL else reason

    async def _follow(self) -> str:
        engine = self.engine
        target = DEFAULT_TARGET_SECS
        gone = 0
        gone_since = 0.0
        url = self.refresher.source.url
        fallbacks: list[str] = []
        resolved = False
        loaded = False
        while True:
            try:
                if self.refresher.due():
                    await self.refresher.renew("its deadline is near")
            except StreamEnded:
                return _FINAL
            if self.refresher.ended:
                return _FINAL  # a download's refresh found the broadcast over
            if self.refresher.generation != self._generation:
                self._generation = self.refresher.generation
                url, fallbacks, resolved = self.refresher.source.url, [], False
            started = engine.clock()
            idle = started - self.last_written()
            # at least two target durations: a segment longer than the timeout is
            # no stall, it is just not there yet
            timeout = max(self.stream_timeout_secs, _TIMEOUT_TARGETS * target)
            if idle > timeout:
                log.warning(
                    "no new segment written for %.0f s (stream timeout %g s), "
                    "last %s: stalled",
                    idle,
                    timeout,
                    self.last_queued,
                )
                return "stalled"
            try:
                playlist = await self._load(url, first=not loaded)
            except (_Gone, _Expired, StreamUnavailableError) as failed:
                if not loaded and fallbacks:
                    log.warning("variant %s failed (%s); trying the next", url, failed)
                    url = fallbacks.pop(0)
                    continue
                why = failed
                if isinstance(failed, _Expired):
                    try:
                        if await self.refresher.renew(
                            f"the playlist answered {failed}", seen=self._generation
                        ):
                            continue  # the fresh URL is taken at the loop's top
                    except StreamEnded:
                        return _FINAL
                    why = _Gone(str(failed)) if failed.status in _GONE else failed
                if isinstance(why, _Gone):
                    gone += 1
                    if gone == 1:
                        gone_since = started
                    if (
                        gone >= engine.gone_tries
                        and engine.clock() - gone_since >= engine.gone_secs
                    ):
                        log.info("playlist %s is gone (%s)", url, why)
                        return "ended"
                log.warning("playlist reload failed: %s", why)
                await self._nap(target / 2)
                continue
            gone = 0
            if isinstance(playlist, MasterPlaylist):
                if resolved:
                    raise RecorderProcessError(f"nested master playlists at {url}")
                resolved = True
                url, fallbacks = self._choose_variant(playlist)
                continue
            loaded = True
            fallbacks = []
            target = playlist.target_duration or target
            if self._queue_new(playlist):
                delay = target
            else:
                # RFC 8216 6.3.4: an unchanged reload waits half a target duration
                delay = target / 2
            if playlist.ended:
                return _FINAL
            await self._nap(max(0.0, started + delay - engine.clock()))

    async def _nap(self, secs: float) -> None:
        """Sleep `secs`, or less: a fresh URL (from a download's refresh) wakes it."""
        sleep = asyncio.ensure_future(self.engine.sleep(secs))
        if not self.refresher.available:
            await sleep
            return
        woken = asyncio.ensure_future(self.refresher.wait_changed(self._generation))
        try:
            await asyncio.wait({sleep, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleep, woken):
                task.cancel()
            await asyncio.wait({sleep, woken})

    def _choose_variant(self, master: MasterPlaylist) -> tuple[str, list[str]]:
        ranked = rank(candidates_of(master), self.refresher.source.selection)
        if not ranked:
            raise RecorderProcessError(f"master playlist {master.url} has no variants")
        log.info("recording variant %s", ranked[0].describe())
        urls = [c.url for c in ranked[: max(1, self.engine.variant_tries)]]
        return urls[0], urls[1:]

    async def _load(self, url: str, *, first: bool) -> MediaPlaylist | MasterPlaylist:
        try:
            async with asyncio.timeout(self.engine.request_timeout_secs):
                response = await self.http.get(
                    url, headers=self.refresher.source.headers
                )
        except httpx.ConnectError as err:
            raise _Gone(f"connection failed: {err}") from err
        except TimeoutError as err:
            raise StreamUnavailableError(f"loading {url}: timed out") from err
        except (httpx.HTTPError, httpx.InvalidURL) as err:
            raise StreamUnavailableError(f"loading {url}: {err!r}") from err
        if is_expired(response.status_code) and self.refresher.available:
            raise _Expired(response.status_code)
        if response.status_code in _GONE:
            raise _Gone(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise StreamUnavailableError(f"{url} answered {response.status_code}")
        try:
            return parse_playlist(response.text, str(response.url))
        except PlaylistError as err:
            if first:
                # nothing recorded yet: the stream is unusable, not flaky
                raise RecorderProcessError(str(err)) from err
            raise StreamUnavailableError(str(err)) from err

    def _queue_new(self, playlist: MediaPlaylist) -> bool:
        """Queue the segments not queued before; True if there were any."""
        last = playlist.last_sequence
        if last is None:
            return False
        first_load, self.first_load = self.first_load, False
        if self.last_queued is not None and last < self.last_queued:
            if first_load:
                # the marker is ahead of everything the server has: the encoder
                # restarted and numbers from scratch, so the marker means nothing
                log.warning(
                    "playlist ends at %d before resume marker %d: stream restarted",
                    last,
                    self.last_queued,
                )
                self._restart()
            elif self._seen_before(playlist):
                log.info("an older copy of the playlist (ends at %d): ignored", last)
                self.behind = 0
                return False
            else:
                self.behind += 1
                if self.behind < self.engine.restart_reloads:
                    return False  # not sure yet: a restart or an odd edge
                log.warning(
                    "playlist stayed behind %d for %d reloads: stream restarted",
                    self.last_queued,
                    self.behind,
                )
                self._restart()
        self.behind = 0
        self.listed_from = playlist.segments[0].sequence
        self._window = {s.sequence: s for s in playlist.segments}
        fresh = [
            s
            for s in playlist.segments
            if self.last_queued is None or s.sequence > self.last_queued
        ]
        if not fresh:
            return False
        for segment in fresh:
            crypto.check_supported(segment.key)
        if self.last_queued is not None and fresh[0].sequence > self.last_queued + 1:
            self.skipped += fresh[0].sequence - self.last_queued - 1
            log.warning(
                "segments %d..%d left the playlist before they were fetched",
                self.last_queued + 1,
                fresh[0].sequence - 1,
            )
        for segment in fresh:
            if segment.gap:
                log.info("segment %d is marked EXT-X-GAP: skipped", segment.sequence)
            else:
                self.queue(segment, self.epoch)
            self._recent[segment.sequence] = _resource(segment.url)
            self.last_queued = segment.sequence
        while len(self._recent) > RECENT_SEGMENTS:
            self._recent.popitem(last=False)
        return True

    def _seen_before(self, playlist: MediaPlaylist) -> bool:
        """Whether a window lists segments queued before, each under its old URI."""
        matched = False
        for segment in playlist.segments:
            known = self._recent.get(segment.sequence)
            if known is None:
                continue
            if known != _resource(segment.url):
                return False
            matched = True
        return matched

    def _restart(self) -> None:
        self.last_queued = None
        self.listed_from = None
        self._window = {}
        self.epoch += 1
        self.behind = 0
        self._recent.clear()


def _resource(url: str) -> str:
    """A segment URL without its query and fragment (tokens change between loads)."""
    return url.split("#", 1)[0].split("?", 1)[0]

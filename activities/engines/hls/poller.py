"""Following a live media playlist: reload pacing, new segments, the end of a stream.

The poller reloads the media playlist (RFC 8216 6.3.4 pacing: a target duration
after a change, half of one otherwise) and hands every segment it has not handed on
before to `queue`, numbered by media sequence: one already queued (in this run, or
written by an earlier attempt, the resume marker) is never queued again, whatever
order stale or duplicate reloads arrive in. A playlist that stays behind what was
queued for `restart_reloads` reloads is a restarted encoder: numbering starts over
in a new stream epoch, which the output writes to a new file.

A master playlist is resolved first: its variants are ranked by the source's
`selection` (see `select`), and the next ones are tried while the chosen one cannot
be loaded. The stream is over at ENDLIST, when the playlist is gone (404/410/refused)
several times running, or when it stops advancing for `stall_targets` target
durations (`stalled`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import httpx

from activities.engines.hls import crypto
from activities.engines.hls.playlist import (
    MasterPlaylist,
    MediaPlaylist,
    PlaylistError,
    parse_playlist,
)
from activities.engines.hls.select import candidates_of, rank
from activities.errors import RecorderProcessError, StreamUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable

    from activities.contracts import StreamSource
    from activities.engines.hls.engine import HlsEngine
    from activities.engines.hls.playlist import Segment

log = logging.getLogger(__name__)

DEFAULT_TARGET_SECS = 6.0
_GONE = frozenset({404, 410})


class _Gone(Exception):
    """The playlist is not there any more (404/410, connection refused)."""


class PlaylistPoller:
    """Follows one stream's playlist and queues each new segment once.

    Args:
        engine: the settings (tries, limits, clock and sleep).
        http: the client of this recording.
        source: the stream (URL, headers, selection).
        resume_marker: the last media sequence an earlier attempt wrote.
        queue: takes a new segment and its stream epoch.
    """

    def __init__(
        self,
        engine: HlsEngine,
        http: httpx.AsyncClient,
        source: StreamSource,
        resume_marker: int | None,
        queue: Callable[[Segment, int], None],
    ) -> None:
        self.engine = engine
        self.http = http
        self.source = source
        self.queue = queue
        self.last_queued = resume_marker
        self.first_load = True  # until the first playlist with segments
        self.epoch = 0
        self.behind = 0

    async def follow(self) -> str:
        """Follow the playlist until it ends (`ended`) or stalls (`stalled`).

        Raises:
            RecorderProcessError: an unusable playlist or encryption.
        """
        engine = self.engine
        target = DEFAULT_TARGET_SECS
        gone = 0
        last_advance = engine.clock()
        url = self.source.url
        fallbacks: list[str] = []
        resolved = False
        loaded = False
        while True:
            started = engine.clock()
            try:
                playlist = await self._load(url, first=not loaded)
            except (_Gone, StreamUnavailableError) as why:
                if not loaded and fallbacks:
                    log.warning("variant %s failed (%s); trying the next", url, why)
                    url = fallbacks.pop(0)
                    continue
                if isinstance(why, _Gone):
                    gone += 1
                    if gone >= engine.gone_tries:
                        log.info("playlist %s is gone (%s)", url, why)
                        return "ended"
                else:
                    log.warning("playlist reload failed: %s", why)
                    if engine.clock() - last_advance > engine.stall_targets * target:
                        return "stalled"
                await engine.sleep(target / 2)
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
                last_advance = engine.clock()
                delay = target
            else:
                # RFC 8216 6.3.4: an unchanged reload waits half a target duration
                delay = target / 2
            if playlist.ended:
                return "ended"
            if engine.clock() - last_advance > engine.stall_targets * target:
                log.info("playlist %s stalled at %s", url, self.last_queued)
                return "stalled"
            await engine.sleep(max(0.0, started + delay - engine.clock()))

    def _choose_variant(self, master: MasterPlaylist) -> tuple[str, list[str]]:
        ranked = rank(candidates_of(master), self.source.selection)
        if not ranked:
            raise RecorderProcessError(f"master playlist {master.url} has no variants")
        log.info("recording variant %s", ranked[0].describe())
        urls = [c.url for c in ranked[: max(1, self.engine.variant_tries)]]
        return urls[0], urls[1:]

    async def _load(self, url: str, *, first: bool) -> MediaPlaylist | MasterPlaylist:
        try:
            async with asyncio.timeout(self.engine.request_timeout_secs):
                response = await self.http.get(url, headers=self.source.headers)
        except httpx.ConnectError as err:
            raise _Gone(f"connection failed: {err}") from err
        except TimeoutError as err:
            raise StreamUnavailableError(f"loading {url}: timed out") from err
        except (httpx.HTTPError, httpx.InvalidURL) as err:
            raise StreamUnavailableError(f"loading {url}: {err!r}") from err
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
            else:
                self.behind += 1
                if self.behind < self.engine.restart_reloads:
                    return False  # a stale copy from a lagging edge
                log.warning(
                    "playlist stayed behind %d for %d reloads: stream restarted",
                    self.last_queued,
                    self.behind,
                )
                self._restart()
        self.behind = 0
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
            self.last_queued = segment.sequence
        return True

    def _restart(self) -> None:
        self.last_queued = None
        self.epoch += 1
        self.behind = 0

"""
$description Direct HLS and HTTP-FLV stream URLs.
$platform generic
$url https://cdn.example.com/live/channel.m3u8
$url https://cdn.example.com/live/channel.flv?token=abc
$type live
$metadata title

Direct HLS (`.m3u8`) and HTTP-FLV (`.flv`) stream URLs, for any server that is not a
known platform. There is no platform API to ask, so liveness is read from the stream
itself: an HLS playlist is live while its media sequence advances, an FLV URL is live
while it answers with an FLV header. The title is the stem of the URL's last path
component.

A master playlist is handed to the engine as it is, so the engine picks the variant
with the streamer's `StreamSelection`; liveness is read from the variant the default
selection ranks first (the ranking lives in one place, `activities.hls.select`).

Between broadcasts many servers answer 404/410 or refuse the connection, so those are
offline, with the answer kept as `LiveStatus.error` for the user to see. A host name
that does not resolve is not a server between broadcasts: that is a failed check
(`StreamUnavailableError`), and failing checks in a row put the streamer in the error
backoff (TEMPORAL_DISABLED) with the reason, instead of NOT_LIVE for ever.

A poller that checks the same URL every interval uses `look` instead of `check`:
one request per look, comparing the media sequence with the one it saw last time
(`_generic_look`), instead of fetching again for up to three target durations.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import unquote, urlsplit

import httpx

from activities.contracts import (
    LiveOutcome,
    LiveStatus,
    StreamInfo,
    StreamKind,
    StreamSelection,
)
from activities.errors import ExtractorError, StreamUnavailableError
from activities.hls.playlist import (
    MasterPlaylist,
    MediaPlaylist,
    PlaylistError,
    parse_playlist,
)
from activities.hls.select import candidates_of, rank
from activities.platforms._generic_answers import (
    Offline,
    Unreachable,
    check_code,
    check_status,
    connect_failure,
)
from activities.platforms._generic_look import (
    Fetch,
    HlsMark,
    Step,
    is_master,
    judge,
    scan,
)
from activities.platforms.base import Channel, Extractor, PlatformOptions, answer

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Generic(Extractor):
    """Direct `.m3u8` / `.flv` URLs; the lowest priority, tried after every platform.

    Args:
        http: the worker's shared client.
        options: the common options (nothing here uses them).
        clock: monotonic clock (seconds), replaceable in tests.
        sleep: async sleep, replaceable in tests.
    """

    platform = "generic"
    priority = -1000
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(
            r"https?://[^/?#\s]+/(?:[^?#\s]*/)?(?P<channel>[^/?#\s]+)"
            r"\.(?P<ext>m3u8|flv)(?:\?[^#\s]*)?(?:#\S*)?\Z",
            re.IGNORECASE,
        ),
    }
    STALE_TARGETS = 3.0
    MAX_WAIT_SECS = 20.0
    # every URL is its own server: no platform-wide budget
    max_requests_per_sec = 0.0
    max_concurrent_requests = 64

    def __init__(
        self,
        http: httpx.AsyncClient,
        options: PlatformOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(http, options)
        self._clock = clock
        self._sleep = sleep

    async def check(self, channel: Channel) -> LiveStatus:
        """Live while the stream itself shows it (see the module docstring)."""
        url = channel.url
        try:
            if channel.groups["ext"].lower() == "flv":
                stream = await self._check_flv(url)
            else:
                stream = await self._check_hls(url)
        except Offline as why:
            log.debug("%s is offline: %s", url, why)
            error = str(why) if isinstance(why, Unreachable) else None
            return answer(LiveOutcome.OFFLINE, str(why), error=error)
        return answer(LiveOutcome.LIVE, title=_title_of(url), streams=[stream])

    # --- HLS --------------------------------------------------------------------------

    async def _check_hls(self, url: str) -> StreamInfo:
        media_url = url
        playlist = await self._fetch_playlist(url)
        if isinstance(playlist, MasterPlaylist):
            ranked = rank(candidates_of(playlist), StreamSelection())
            if not ranked:
                raise ExtractorError(f"master playlist {url} has no variants")
            media_url = ranked[0].url
            playlist = await self._fetch_playlist(media_url)
        if isinstance(playlist, MasterPlaylist):
            raise ExtractorError(f"nested master playlists at {url}")
        target = float(playlist.target_duration or 6)
        deadline = self._clock() + min(self.STALE_TARGETS * target, self.MAX_WAIT_SECS)
        first_last = playlist.last_sequence
        # a playlist without ENDLIST may be left over from a crashed encoder: only
        # a media sequence that moves proves someone is still publishing
        while True:
            if playlist.ended:
                raise Offline("playlist has EXT-X-ENDLIST")
            last = playlist.last_sequence
            if last is not None and (first_last is None or last > first_last):
                return StreamInfo(url=url, kind=StreamKind.HLS)
            if self._clock() >= deadline:
                raise Offline(f"media sequence stuck at {first_last}")
            await self._sleep(max(target / 2, 0.1))
            reloaded = await self._fetch_playlist(media_url)
            if not isinstance(reloaded, MediaPlaylist):
                raise ExtractorError(f"{media_url} turned into a master playlist")
            playlist = reloaded

    async def _fetch_playlist(self, url: str) -> MediaPlaylist | MasterPlaylist:
        try:
            response = await self.http.get(url)
        except httpx.ConnectError as err:
            raise connect_failure(url, err) from err
        except httpx.HTTPError as err:
            raise StreamUnavailableError(f"fetching {url} failed: {err!r}") from err
        check_status(response)
        return _parsed(response.text, str(response.url))

    # --- the poller's one-request look ---------------------------------------------

    async def look(
        self, channel: Channel, mark: HlsMark | None, fetch: Fetch | None = None
    ) -> Step:
        """One request: compare the playlist with the previous look's `mark`.

        Args:
            channel: the URL as the matcher read it.
            mark: what the previous look saw (None: the first look).
            fetch: the GET to use (default: the extractor's httpx client).

        Returns:
            The status (no source: the caller picks one), or None with `again_in`
            when one more look is needed, and the mark to pass next time.

        Raises:
            ExtractorError: the URL does not answer with an HLS playlist.
        """
        url = channel.url
        if channel.groups["ext"].lower() == "flv":
            return Step(await self.check(channel), None)
        get = fetch or self._fetch_text
        try:
            media_url = mark.media_url if mark is not None else url
            status, final, text = await get(media_url)
            check_code(status, final)
            if is_master(text):
                media_url = self._variant(text, final)
                status, final, text = await get(media_url)
                check_code(status, final)
        except Offline as why:
            error = str(why) if isinstance(why, Unreachable) else None
            return Step(answer(LiveOutcome.OFFLINE, str(why), error=error), None)
        except ConnectionError as err:
            failure = connect_failure(url, err)
            if isinstance(failure, StreamUnavailableError):
                return Step(answer(LiveOutcome.UNAVAILABLE, str(failure)), mark)
            reason = str(failure)
            return Step(answer(LiveOutcome.OFFLINE, reason, error=reason), None)
        except StreamUnavailableError as err:
            return Step(answer(LiveOutcome.UNAVAILABLE, str(err)), mark)
        verdict, kept, again_in = judge(
            scan(text, final), media_url, mark, self._clock(), self.STALE_TARGETS
        )
        if verdict == "live":
            stream = StreamInfo(url=url, kind=StreamKind.HLS)
            return Step(
                answer(LiveOutcome.LIVE, title=_title_of(url), streams=[stream]), kept
            )
        if verdict == "unsure":
            return Step(None, kept, again_in)
        detail = (
            "playlist has EXT-X-ENDLIST"
            if verdict == "ended"
            else f"media sequence stuck at {kept.last_sequence if kept else None}"
        )
        return Step(answer(LiveOutcome.OFFLINE, detail), kept)

    def _variant(self, text: str, url: str) -> str:
        playlist = _parsed(text, url)
        if not isinstance(playlist, MasterPlaylist):
            raise ExtractorError(f"{url} looked like a master playlist but is not")
        ranked = rank(candidates_of(playlist), StreamSelection())
        if not ranked:
            raise ExtractorError(f"master playlist {url} has no variants")
        return ranked[0].url

    async def _fetch_text(self, url: str) -> tuple[int, str, str]:
        try:
            response = await self.http.get(url)
        except httpx.ConnectError as err:
            raise ConnectionError(str(err)) from err
        except httpx.HTTPError as err:
            raise StreamUnavailableError(f"fetching {url} failed: {err!r}") from err
        return response.status_code, str(response.url), response.text

    # --- FLV --------------------------------------------------------------------------

    async def _check_flv(self, url: str) -> StreamInfo:
        try:
            async with self.http.stream("GET", url) as response:
                check_status(response)
                head = b""
                # an FLV live stream never ends: read the signature and hang up
                async for chunk in response.aiter_bytes():
                    head += chunk
                    if len(head) >= 3:
                        break
        except httpx.ConnectError as err:
            raise connect_failure(url, err) from err
        except httpx.HTTPError as err:
            raise StreamUnavailableError(f"fetching {url} failed: {err!r}") from err
        if not head.startswith(b"FLV"):
            raise Unreachable(f"{url} does not answer with an FLV stream")
        return StreamInfo(url=url, kind=StreamKind.FLV)


def _parsed(text: str, url: str) -> MediaPlaylist | MasterPlaylist:
    try:
        return parse_playlist(text, url)
    except PlaylistError as err:
        raise ExtractorError(str(err)) from err


def _title_of(url: str) -> str:
    return PurePosixPath(unquote(urlsplit(url).path)).stem


__extractor__ = Generic

"""Fresh URLs for a recording whose signed stream URL expires.

Platforms sign stream URLs with a deadline (`StreamSource.expires_at`); past it the
CDN answers 403 (or 410). Rather than end the session there, an engine asks for a
fresh URL of the same stream: it is handed a `Refresh` (the record activity
resolves the same channel again with the streamer's options from the DB, `srec
record` with the command line's) and wraps it in a `SourceRefresher`, which

* runs one refresh at a time: every download that met the 403 awaits the same one,
  and a request that failed on a URL replaced meanwhile gets the new one at once;
* is bounded: at most `RefreshPolicy.max_per_minute` refreshes in any minute, so a
  platform that keeps handing out URLs the CDN refuses is not asked in a loop; past
  that, the engine carries on as if it had no refresh, and ends as it would;
* says when to refresh ahead of the deadline (`due`): a quarter of the URL's
  lifetime before it, at most `lead_secs`, so an engine that can swap URLs while it
  runs (HLS between playlist reloads, ffmpeg by a restart) never meets the 403;
* counts each one (`RecordingStats.url_refreshes`) and logs it (the new host and
  deadline; never the URL, whose token is as good as a password until it expires).

What a refresh may answer: a new source (the engine swaps URL and headers and goes
on in the same file), `StreamUnavailableError` (the channel is offline or gone: the
broadcast is over, `StreamEnded` is raised and the engine ends the recording as
`ended`; a `RateLimitedError` only means "later"), or another `RecorderError`
(no fresh URL this time: logged, asked again at the next need). A fresh source of
another transport cannot continue this recording: the recording ends and the
workflow's next live check picks the stream up. The engines know nothing of
platforms; a `Refresh` is a plain callable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urlsplit

from activities.errors import RateLimitedError, RecorderError, StreamUnavailableError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from activities.contracts import StreamSource
    from activities.engines.base import RecordingStats

log = logging.getLogger(__name__)

Refresh: TypeAlias = "Callable[[StreamSource], Awaitable[StreamSource]]"
"""Resolves the stream of a source again: the current source in, a fresh one out."""

WINDOW_SECS = 60.0
# statuses a CDN answers for an expired or revoked signed URL
EXPIRED_STATUSES = frozenset({403, 410})


@dataclass(frozen=True)
class RefreshPolicy:
    """How often and how early a recording asks for a fresh URL.

    Attributes:
        max_per_minute: refreshes allowed in any 60 s; more are refused (logged).
        lead_secs: refresh at most this long before the URL's deadline...
        lead_fraction: ...and at most this fraction of the URL's lifetime before it.
    """

    max_per_minute: int = 6
    lead_secs: float = 30.0
    lead_fraction: float = 0.25


class StreamEnded(Exception):
    """A refresh found the broadcast over: the recording ends as `ended`."""


class SourceRefresher:
    """The current source of a recording and the one way to replace it.

    Args:
        source: the source the recording started with.
        refresh: resolves a fresh one; None: this recording cannot refresh.
        stats: the recording's counters (`url_refreshes`).
        policy: the bounds.
        clock: monotonic seconds (the rate bound).
        wall: Unix seconds (deadlines).
    """

    def __init__(
        self,
        source: StreamSource,
        refresh: Refresh | None,
        stats: RecordingStats,
        policy: RefreshPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.stats = stats
        self.policy = policy or RefreshPolicy()
        self.generation = 0
        self.ended = False
        self._refresh = refresh
        self._clock = clock
        self._wall = wall
        self._received = wall()
        self._asked: deque[float] = deque()
        self._refused_at: float | None = None
        self._fruitless_at: float | None = None  # an ask that brought nothing new
        self._ahead_ok = True
        self._running: asyncio.Task[StreamSource | None] | None = None
        self._changed = asyncio.Event()

    @property
    def available(self) -> bool:
        """Whether a refresh can be asked for at all."""
        return self._refresh is not None and not self.ended

    def due(self) -> bool:
        """Whether the URL's deadline is close enough to refresh ahead of it."""
        expires = self.source.expires_at
        if not self.available or expires is None or not self._ahead_ok:
            return False
        fruitless = self._fruitless_at
        if fruitless is not None and self._clock() - fruitless < self._spacing():
            return False  # not again so soon: the last ask was refused or failed
        deadline = expires.timestamp()
        lifetime = max(0.0, deadline - self._received)
        lead = min(self.policy.lead_secs, lifetime * self.policy.lead_fraction)
        return self._wall() >= deadline - lead

    async def renew(self, why: str, *, seen: int | None = None) -> StreamSource | None:
        """A fresh source, or None when none can be had now.

        Args:
            why: what made the caller ask (for the log).
            seen: the `generation` the caller's failed request used; when the
                source was replaced since, the current one is returned at once.

        Raises:
            StreamEnded: the broadcast is over (now or at an earlier refresh).
        """
        if self.ended:
            raise StreamEnded(why)
        if seen is not None and seen != self.generation:
            return self.source
        if self._refresh is None:
            return None
        running = self._running
        if running is None:
            running = self._running = asyncio.ensure_future(self._ask(why))
        # shielded: one caller's cancel must not cancel the others' refresh
        fresh = await asyncio.shield(running)
        if self.ended:
            raise StreamEnded(why)
        return fresh

    async def wait_changed(self, generation: int) -> None:
        """Return once the source is no longer `generation` (or the stream ended)."""
        changed = self._changed
        if generation == self.generation and not self.ended:
            await changed.wait()

    async def aclose(self) -> None:
        """Cancel a refresh still running (the recording is over)."""
        running, self._running = self._running, None
        if running is not None and not running.done():
            running.cancel()
            await asyncio.wait({running})

    def _spacing(self) -> float:
        return WINDOW_SECS / max(1, self.policy.max_per_minute)

    async def _ask(self, why: str) -> StreamSource | None:
        fresh = None
        try:
            if self._allowed():
                fresh = await self._fetch(why)
            return fresh
        finally:
            self._running = None
            if fresh is None:
                self._fruitless_at = self._clock()

    def _allowed(self) -> bool:
        now = self._clock()
        while self._asked and now - self._asked[0] >= WINDOW_SECS:
            self._asked.popleft()
        if len(self._asked) < self.policy.max_per_minute:
            self._asked.append(now)
            return True
        if self._refused_at is None or now - self._refused_at >= WINDOW_SECS:
            self._refused_at = now
            log.warning(
                "%d stream URL refreshes in the last minute: no more until %.0f s "
                "from now; the recording goes on with the URL it has",
                len(self._asked),
                WINDOW_SECS - (now - self._asked[0]),
            )
        return False

    async def _fetch(self, why: str) -> StreamSource | None:
        old = self.source
        try:
            fresh = await self._refresh(old) if self._refresh else None
        except RateLimitedError as err:
            log.warning("no fresh stream URL (%s): rate limited: %s", why, err)
            return None
        except StreamUnavailableError as err:
            log.info(
                "stream URL not refreshed (%s): the broadcast is over: %s", why, err
            )
            self._end()
            return None
        except RecorderError as err:
            log.warning("no fresh stream URL (%s): %s", why, err)
            return None
        if fresh is None:
            return None
        if fresh.kind != old.kind:
            log.info(
                "the channel now offers %s, not %s: this recording ends",
                fresh.kind.value,
                old.kind.value,
            )
            self._end()
            return None
        # a refresh ahead of the deadline that brought no later one is not repeated
        self._ahead_ok = (
            fresh.expires_at is None
            or old.expires_at is None
            or fresh.expires_at > old.expires_at
        )
        self.source = fresh
        self._received = self._wall()
        self.generation += 1
        self.stats.url_refreshes += 1
        self._signal()
        log.info(
            "stream URL refreshed (%s): now from %s, %s; %d refresh(es) so far",
            why,
            urlsplit(fresh.url).hostname or "?",
            f"expires {fresh.expires_at:%H:%M:%S}" if fresh.expires_at else "no expiry",
            self.stats.url_refreshes,
        )
        return fresh

    def _end(self) -> None:
        self.ended = True
        self._signal()

    def _signal(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def refreshable(source: StreamSource) -> bool:
    """Whether resolving `source`'s channel again can give a fresh URL: it names a
    channel, and not its own URL (a direct `.m3u8`/`.flv`: asking again tells
    nothing new)."""
    return bool(source.channel_url) and source.channel_url != source.url


def is_expired(status: int) -> bool:
    """Whether an HTTP status is how a CDN refuses an expired signed URL."""
    return status in EXPIRED_STATUSES

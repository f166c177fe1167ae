"""One live check, or one batch of them, as the poller runs it.

A streamer is checked through the platform registry with its validated options:
by the platform's batch call when it has one (the live ones are then resolved one
by one, for their stream), by the generic extractor's one-request `look` for
direct HLS URLs (keeping each URL's last `HlsMark` here), and by `check_live`
otherwise. Every expected failure becomes a `Detected` value; an unexpected one
is logged with its traceback and reported as transient.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from activities.contracts import Detected, LiveOutcome, LiveStatus
from activities.errors import RecorderError, UnsupportedUrlError
from activities.platforms.base import Outcome, with_streams

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import httpx

    from activities.platforms import Channel, Extractor, PlatformRegistry
    from activities.platforms._generic_look import Fetch, HlsMark, Step
    from activities.poll.roster import Entry

log = logging.getLogger(__name__)


@runtime_checkable
class Looks(Protocol):
    """An extractor with a one-request check that remembers the last look."""

    async def look(
        self, channel: Channel, mark: HlsMark | None, fetch: Fetch | None = None
    ) -> Step: ...


@dataclass(frozen=True)
class Found:
    """A check's result: what to tell the workflow, or when to look again."""

    detected: Detected | None
    again_in: float | None = None


@dataclass(frozen=True)
class Prepared:
    """A streamer's extractor, options and channel, built once per roster entry."""

    entry: Entry
    extractor: Extractor
    channel: Channel
    lane: str
    batch_key: str | None  # same key → one batch request may ask for both


def failed(err: BaseException, now: datetime) -> Detected:
    """A check that raised, as a value."""
    kind = type(err).__name__
    outcome = (
        LiveOutcome.NOT_FOUND
        if isinstance(err, UnsupportedUrlError)
        else LiveOutcome.UNAVAILABLE
    )
    message = str(err) or kind
    return Detected(
        outcome=outcome, checked_at=now, error=message, error_type=kind, detail=message
    )


def detected(status: LiveStatus, now: datetime) -> Detected:
    """A live status as the signal payload (no stream list, the picked source)."""
    outcome = status.result
    error = status.error
    if error is None and (outcome.fatal or outcome in _TRANSIENT):
        error = f"{outcome.value}: {status.detail}".rstrip(": ")
    return Detected(
        outcome=outcome,
        checked_at=now,
        title=status.title,
        author=status.author,
        category=status.category,
        avatar_url=status.avatar_url,
        started_at=status.started_at,
        source=status.source if outcome is LiveOutcome.LIVE else None,
        detail=status.detail,
        error=error,
        retry_after_secs=status.retry_after_secs,
    )


_TRANSIENT = (LiveOutcome.RATE_LIMITED, LiveOutcome.UNAVAILABLE)


class Checker:
    """Checks streamers for the poller.

    Args:
        registry: the platform registry.
        http: the httpx client extractors get (the poller's, over aiohttp).
        fetch: the generic fast path's GET (None: through `http`).
        utcnow: the wall clock for `checked_at`.
    """

    def __init__(
        self,
        registry: PlatformRegistry,
        http: httpx.AsyncClient,
        fetch: Fetch | None = None,
        utcnow: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.registry = registry
        self.http = http
        self.fetch = fetch
        self.utcnow = utcnow
        self._prepared: dict[int, Prepared] = {}
        self._marks: dict[int, HlsMark] = {}

    def prepare(self, entry: Entry) -> Prepared:
        """The streamer's extractor and lane (cached while its entry is unchanged).

        Raises:
            UnsupportedUrlError: no platform handles the URL.
        """
        found = self._prepared.get(entry.streamer_id)
        if found is not None and found.entry is entry:
            return found
        if found is not None and found.entry.url != entry.url:
            self._marks.pop(entry.streamer_id, None)
        platform = self.registry.resolve(entry.url).platform
        options = self.registry.options_for(platform, entry.options)
        extractor = self.registry.extractor_for(entry.url, self.http, options)
        channel = type(extractor).channel(entry.url)
        batch_key = None
        if extractor.batch_size > 0 and channel.reference is not None:
            batch_key = json.dumps(dict(entry.options), sort_keys=True, default=str)
        found = Prepared(entry, extractor, channel, extractor.platform, batch_key)
        self._prepared[entry.streamer_id] = found
        return found

    def forget(self, streamer_id: int) -> None:
        self._prepared.pop(streamer_id, None)
        self._marks.pop(streamer_id, None)

    async def check(self, prepared: Prepared) -> Found:
        """Check one streamer; failures are values."""
        sid = prepared.entry.streamer_id
        extractor = prepared.extractor
        try:
            if isinstance(extractor, Looks):
                step = await extractor.look(
                    prepared.channel, self._marks.get(sid), self.fetch
                )
                self._remember(sid, step.mark)
                if step.status is None:
                    return Found(None, step.again_in)
                status = self._with_source(prepared, step.status)
            else:
                status = await extractor.check_live(
                    prepared.entry.url, prepared.entry.selection
                )
        except RecorderError as err:
            return Found(failed(err, self.utcnow()))
        except Exception as err:
            log.exception("checking %s failed", prepared.entry.url)
            return Found(failed(err, self.utcnow()))
        return Found(detected(status, self.utcnow()))

    async def check_batch(self, batch: Sequence[Prepared]) -> dict[int, Found]:
        """Check streamers of one platform and options in one request.

        Returns:
            A result per streamer the platform answered for; the live ones are
            checked again alone, for their stream. Missing ones were not answered.
        """
        first = batch[0].extractor
        try:
            answers = await first.check_batch([p.channel for p in batch])
        except Outcome as found:
            status = found.status()
            return {
                p.entry.streamer_id: Found(detected(status, self.utcnow()))
                for p in batch
            }
        except Exception as err:
            if not isinstance(err, RecorderError):
                log.exception(
                    "batch check of %d %s streamers failed", len(batch), first.platform
                )
            return {
                p.entry.streamer_id: Found(failed(err, self.utcnow())) for p in batch
            }
        results: dict[int, Found] = {}
        for prepared in batch:
            answered = answers.get(prepared.channel.reference or "")
            if answered is None:
                continue
            if answered.result is LiveOutcome.LIVE:
                results[prepared.entry.streamer_id] = await self.check(prepared)
            else:
                results[prepared.entry.streamer_id] = Found(
                    detected(answered, self.utcnow())
                )
        return results

    def _remember(self, streamer_id: int, mark: HlsMark | None) -> None:
        if mark is None:
            self._marks.pop(streamer_id, None)
        else:
            self._marks[streamer_id] = mark

    @staticmethod
    def _with_source(prepared: Prepared, status: LiveStatus) -> LiveStatus:
        if status.result is not LiveOutcome.LIVE or not status.streams:
            return status
        return with_streams(
            status, status.streams, prepared.entry.selection, prepared.channel
        ).model_copy(update={"streams": []})

"""Detection activities: is a channel live, and what should be recorded.

The activity reads the streamer's platform options (cookies, tokens) from the app
DB itself, through an `OptionsProvider`: credentials never travel in activity
inputs, so workflow histories and the Temporal UI never show them.

Options today: one JSON object per streamer (`streamer.platform_options`),
validated by the platform's options model on the way in (API) and out (here). The
configuration issue's levels (global → platform → template → streamer) replace
`DbOptionsProvider` without touching the extractors: they take a validated model.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from sqlmodel import Session
from temporalio import activity

from activities.contracts import (
    ACTIVITY_CHECK_LIVE,
    CheckLiveInput,
    LiveOutcome,
    LiveStatus,
)
from activities.db import crud
from activities.errors import (
    RateLimitedError,
    RecorderError,
    StreamUnavailableError,
    to_application_error,
)
from activities.ownership import Ownership

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx
    import sqlalchemy as sa

    from activities.platforms import PlatformRegistry

log = logging.getLogger(__name__)


class OptionsProvider(Protocol):
    """Where the activity finds a streamer's stored platform options."""

    async def stored_options(self, inp: CheckLiveInput) -> Mapping[str, Any]:
        """The options object stored for the check's streamer ({} when none).

        Raises:
            ApplicationError: `ForeignInstance` when the workflow asking belongs to
                another srec instance (its streamer ids are not ours).
        """
        ...


class DbOptionsProvider:
    """Reads `streamer.platform_options` from the app DB (off the event loop).

    Args:
        db: the app database engine.
        instance_id: its instance id, when the caller already read it.
    """

    def __init__(self, db: sa.Engine, instance_id: str | None = None) -> None:
        self.db = db
        self.owner = Ownership(db, instance_id)

    async def stored_options(self, inp: CheckLiveInput) -> Mapping[str, Any]:
        streamer_id = inp.streamer_id
        if streamer_id is None:
            return {}

        def read() -> Mapping[str, Any]:
            # another instance's streamer 1 is not ours: never hand it our cookies
            self.owner.check(inp)
            with Session(self.db) as session:
                row = crud.get_streamer(session, streamer_id)
                return dict(row.platform_options) if row is not None else {}

        return await asyncio.to_thread(read)


class PlatformActivities:
    """Platform lookups on the io queue.

    Args:
        http: the worker's shared HTTP client, handed to every extractor.
        registry: resolves a channel URL to its platform's extractor.
        options: the streamers' stored platform options (None = defaults only).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        registry: PlatformRegistry,
        options: OptionsProvider | None = None,
    ) -> None:
        self.http = http
        self.registry = registry
        self.options = options

    @activity.defn(name=ACTIVITY_CHECK_LIVE)
    async def check_live(self, inp: CheckLiveInput) -> LiveStatus:
        """Ask the channel's platform whether it is live.

        Args:
            inp: the channel URL, the streamer (for its options) and the selection.

        Returns:
            The live status; offline and the platform's answers (not found,
            banned, …) are values. The offered stream list is left out: only the
            picked `source` goes into workflow history.

        Raises:
            ApplicationError: converted from a RecorderError: an unsupported URL
                (non-retryable), a changed answer, or a passing failure (BENIGN,
                retried; a rate limit after the platform's retry-after).
        """
        try:
            platform = self.registry.resolve(inp.url).platform
            stored: Mapping[str, Any] = {}
            if self.options is not None:
                stored = await self.options.stored_options(inp)
            options = self.registry.options_for(platform, stored)
            extractor = self.registry.extractor_for(inp.url, self.http, options)
            status = await extractor.check_live(inp.url, inp.selection)
            _raise_if_passing(status, inp.url)
        except RecorderError as err:
            raise to_application_error(err) from err
        if status.result.fatal:
            log.warning("%s: %s (%s)", inp.url, status.result.value, status.detail)
        return status.model_copy(update={"streams": []})


def _raise_if_passing(status: LiveStatus, url: str) -> None:
    """A rate limit or an outage is retried by Temporal, not returned."""
    if status.result is LiveOutcome.RATE_LIMITED:
        raise RateLimitedError(
            f"{url}: rate limited: {status.detail}",
            retry_after_secs=status.retry_after_secs,
        )
    if status.result is LiveOutcome.UNAVAILABLE:
        raise StreamUnavailableError(f"{url}: {status.detail}")

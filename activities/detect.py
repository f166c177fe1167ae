"""Detection activities: is a channel live, and what should be recorded.

The activity reads the streamer's platform options (cookies, tokens) from the app
DB itself, through an `OptionsProvider`: credentials never travel in activity
inputs, so workflow histories and the Temporal UI never show them.

The options are merged from the configuration levels (platform → template →
streamer, `activities.config`) and validated by the platform's options model. The
same read tells whether the streamer's configuration changed since its workflow
loaded it (`CheckLiveInput.config_version`): the answer says `config_stale`, and the
workflow reloads, also when the API's signal about the change was lost.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlmodel import Session
from temporalio import activity

from activities.config.resolve import options_of, streamer_config
from activities.config.secrets import application_error, register_options
from activities.contracts import (
    ACTIVITY_CHECK_LIVE,
    CheckLiveInput,
    LiveOutcome,
    LiveStatus,
)
from activities.db.crud_profile import Profile, save_profiles
from activities.errors import (
    RateLimitedError,
    RecorderError,
    StreamUnavailableError,
)
from activities.metrics import LIVE_CHECK_ERRORS, LIVE_CHECK_SECONDS, platform_label
from activities.ownership import Ownership

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx
    import sqlalchemy as sa

    from activities.contracts import OwnedInput
    from activities.platforms import PlatformRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredOptions:
    """What the database holds for a check's streamer.

    Attributes:
        options: the merged platform options, credentials in clear ({}: none).
        version: the streamer's configuration version (None: unknown).
    """

    options: Mapping[str, Any] = field(default_factory=dict)
    version: str | None = None


class OptionsProvider(Protocol):
    """Where the activity finds a streamer's stored platform options."""

    async def lookup(self, inp: CheckLiveInput) -> StoredOptions:
        """The options and configuration version of the check's streamer.

        Raises:
            ApplicationError: `ForeignInstance` when the workflow asking belongs to
                another srec instance (its streamer ids are not ours).
        """
        ...


class DbOptionsProvider:
    """Reads a streamer's merged platform options from the app DB (off the loop).

    Args:
        db: the app database engine.
        instance_id: its instance id, when the caller already read it.
    """

    def __init__(self, db: sa.Engine, instance_id: str | None = None) -> None:
        self.db = db
        self.owner = Ownership(db, instance_id)

    async def lookup(
        self, inp: OwnedInput, streamer_id: int | None = None
    ) -> StoredOptions:
        """Merge the streamer's levels (platform, template, streamer).

        Args:
            inp: the activity's input, checked for ownership first.
            streamer_id: whose options (default: a live check's `streamer_id`).
        """
        sid = streamer_id
        if sid is None and isinstance(inp, CheckLiveInput):
            sid = inp.streamer_id
        if sid is None:
            return StoredOptions()

        def read() -> StoredOptions:
            # another instance's streamer 1 is not ours: never hand it our cookies
            self.owner.check(inp)
            with Session(self.db) as session:
                resolved = streamer_config(session, sid)
            return StoredOptions(
                options=options_of(resolved),
                version=resolved.version if resolved is not None else None,
            )

        return await asyncio.to_thread(read)

    async def stored_options(self, inp: OwnedInput) -> Mapping[str, Any]:
        """The merged options of the input's streamer ({} when none)."""
        return (await self.lookup(inp)).options


class DbProfiles:
    """Writes the title, category and avatar a check found (`crud_profile`).

    Args:
        db: the app database engine.
    """

    def __init__(self, db: sa.Engine) -> None:
        self.db = db

    async def save(self, streamer_id: int, status: LiveStatus) -> None:
        """Keep a clean answer's profile; a failure to write only logs."""
        if status.result not in (LiveOutcome.LIVE, LiveOutcome.OFFLINE):
            return
        if status.error is not None:
            return
        found = Profile.clean(status.title, status.category, status.avatar_url)
        if found.empty:
            return

        def write() -> None:
            with Session(self.db) as db:
                save_profiles(db, {streamer_id: found})

        try:
            await asyncio.to_thread(write)
        except Exception as err:  # never fail a live check for its decoration
            log.warning("could not save streamer %d's profile: %s", streamer_id, err)


class PlatformActivities:
    """Platform lookups on the io queue.

    Args:
        http: the worker's shared HTTP client, handed to every extractor.
        registry: resolves a channel URL to its platform's extractor.
        options: the streamers' stored platform options (None = defaults only).
        profiles: where a streamer's title and avatar are kept (None: nowhere).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        registry: PlatformRegistry,
        options: OptionsProvider | None = None,
        profiles: DbProfiles | None = None,
    ) -> None:
        self.http = http
        self.registry = registry
        self.options = options
        self.profiles = profiles

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
        platform = ""
        try:
            platform = self.registry.resolve(inp.url).platform
            stored = StoredOptions()
            if self.options is not None:
                stored = await self.options.lookup(inp)
            options = self.registry.options_for(platform, stored.options)
            register_options(options)
            extractor = self.registry.extractor_for(
                inp.url, self.http, options, choice=inp.extractor
            )
            with LIVE_CHECK_SECONDS.labels(platform_label(platform)).time():
                status = await extractor.check_live(inp.url, inp.selection)
            _raise_if_passing(status, inp.url)
        except RecorderError as err:
            LIVE_CHECK_ERRORS.labels(platform_label(platform), _outcome(err)).inc()
            converted, cut = application_error(err)
            if cut:  # it quoted a credential: the original must not be the cause
                raise converted from None
            raise converted from err
        if status.result.fatal:
            log.warning("%s: %s (%s)", inp.url, status.result.value, status.detail)
        if self.profiles is not None and inp.streamer_id is not None:
            await self.profiles.save(inp.streamer_id, status)
        stale = None not in (inp.config_version, stored.version) and (
            inp.config_version != stored.version
        )
        return status.model_copy(update={"streams": [], "config_stale": stale})


def _outcome(err: RecorderError) -> str:
    """A failed check's outcome label, as the poller's answers name them."""
    if isinstance(err, RateLimitedError):
        return LiveOutcome.RATE_LIMITED.value
    if isinstance(err, StreamUnavailableError):
        return LiveOutcome.UNAVAILABLE.value
    return "error"


def _raise_if_passing(status: LiveStatus, url: str) -> None:
    """A rate limit or an outage is retried by Temporal, not returned."""
    if status.result is LiveOutcome.RATE_LIMITED:
        raise RateLimitedError(
            f"{url}: rate limited: {status.detail}",
            retry_after_secs=status.retry_after_secs,
        )
    if status.result is LiveOutcome.UNAVAILABLE:
        raise StreamUnavailableError(f"{url}: {status.detail}")

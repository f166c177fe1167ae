"""The live check: what the platform activity is asked and what it answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from activities.contracts.policy import ExtractorChoice
from activities.contracts.streamer import OwnedInput
from activities.contracts.streams import (
    StreamInfo,
    StreamSelection,
    StreamSource,
)


class CheckLiveInput(OwnedInput):
    url: str
    streamer_id: int | None = Field(
        default=None, description="Whose platform options the activity reads (DB)"
    )
    selection: StreamSelection | None = Field(
        default=None, description="Which offered stream to pick (default: the best)"
    )
    extractor: ExtractorChoice | None = Field(
        default=None, description="Who resolves the URL (None: auto)"
    )
    config_version: str | None = Field(
        default=None,
        description="The workflow's `LoadStreamerResult.config_version`: the "
        "activity answers `config_stale` when the database holds another",
    )


class LiveOutcome(StrEnum):
    """What a live check found: a value for every case a platform can answer.

    Fatal outcomes do not change by polling again (the scheduler stops polling until
    the user acts); `rate_limited` and `unavailable` pass (`retry_after_secs`).
    """

    LIVE = "live"
    OFFLINE = "offline"
    NOT_FOUND = "not_found"
    BANNED = "banned"
    REGION_LOCKED = "region_locked"
    PRIVATE = "private"
    AGE_RESTRICTED = "age_restricted"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"

    @property
    def fatal(self) -> bool:
        """Whether polling again is pointless until the user acts."""
        return self in _FATAL


_FATAL = frozenset(
    {"not_found", "banned", "region_locked", "private", "age_restricted"}
)


class LiveStatus(BaseModel):
    """Result of a live check. Offline is a value, not an exception.

    `is_live`, `title` and `source` are what workflows read; every later field has a
    default, so histories recorded before they existed still decode. `outcome` None
    (an old history) means `live` when `is_live`, else `offline`.
    """

    is_live: bool
    title: str = ""
    source: StreamSource | None = Field(
        default=None, description="The stream to record, when live"
    )
    outcome: LiveOutcome | None = Field(default=None, description="What was found")
    detail: str = Field(default="", description="The platform's words, for people")
    retry_after_secs: float | None = Field(default=None, description="Ask again then")
    author: str = Field(default="", description="Streamer's display name")
    category: str = Field(default="", description="Game or area")
    avatar_url: str = ""
    cover_url: str = ""
    viewers: int | None = None
    started_at: datetime | None = Field(default=None, description="Broadcast start")
    error: str | None = Field(
        default=None,
        description="Why the stream could not be reached, when the check counts "
        "that as offline (HTTP 404, connection refused); None for a plain offline",
    )
    streams: list[StreamInfo] = Field(
        default_factory=list,
        description="Every stream on offer (the API and CLI show them; the live-check "
        "activity leaves them out of workflow history and keeps `source`)",
    )
    config_stale: bool = Field(
        default=False,
        description="The streamer's configuration changed since the workflow "
        "loaded it (`CheckLiveInput.config_version`): it reloads",
    )

    @property
    def result(self) -> LiveOutcome:
        """`outcome`, or what an old history's `is_live` meant."""
        if self.outcome is not None:
            return self.outcome
        return LiveOutcome.LIVE if self.is_live else LiveOutcome.OFFLINE

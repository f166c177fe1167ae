"""Request and response models of `/api/streamers/{id}/filters`.

A request body is one filter spec, picked by its `type`. The inputs refuse unknown
fields, so a misspelt one is a 422 rather than a filter that silently ignores it;
a time zone left out is the server's, written into the filter when it is saved.
What the specs cannot say (a time zone that exists, a cron expression or regex that
compiles) the route checks with `activities.filters.check`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from activities.contracts import (
    CategoryFilter,
    CronFilter,
    KeywordFilter,
    RegexFilter,
    TimeWindowFilter,
    Weekday,
)
from activities.contracts.filters import (
    CLOCK_PATTERN,
    CRON_MAX_LENGTH,
    TIMEZONE_MAX_LENGTH,
)

_STRICT = ConfigDict(extra="forbid")
ZONE_DESCRIPTION = (
    "IANA time zone, e.g. Europe/Berlin; the server's local zone when omitted or "
    "null (resolved when saved: the filter always shows its zone)"
)
Zone = Annotated[
    str | None,
    Field(min_length=1, max_length=TIMEZONE_MAX_LENGTH, description=ZONE_DESCRIPTION),
]


class TimeWindowFilterIn(BaseModel):
    """Record only between two clock times, on some days of the week."""

    model_config = _STRICT

    type: Literal["time_window"]
    days_of_week: list[Weekday] = Field(
        default_factory=lambda: list(Weekday),
        min_length=1,
        max_length=7,
        description="The days a window starts on (an overnight window runs into "
        "the next); every day when omitted",
    )
    start_time: str = Field(pattern=CLOCK_PATTERN, description='"HH:MM[:SS]"')
    end_time: str = Field(
        pattern=CLOCK_PATTERN,
        description='"HH:MM[:SS]", not start_time; before it for an overnight window',
    )
    timezone: Zone = None

    def spec(self, local_zone: str) -> TimeWindowFilter:
        """The spec to store, in week order and with its zone filled in."""
        return TimeWindowFilter(
            days_of_week=[d for d in Weekday if d in self.days_of_week],
            start_time=self.start_time,
            end_time=self.end_time,
            timezone=self.timezone or local_zone,
        )


class CronFilterIn(BaseModel):
    """Record only during the minutes a cron expression fires."""

    model_config = _STRICT

    type: Literal["cron"]
    expression: str = Field(
        min_length=1,
        max_length=CRON_MAX_LENGTH,
        description="Five fields: minute hour day-of-month month day-of-week "
        "(names and @daily-style macros allowed); `* 20-23 * * 1-5` is weekdays "
        "20:00-23:59",
    )
    timezone: Zone = None

    def spec(self, local_zone: str) -> CronFilter:
        return CronFilter(
            expression=self.expression.strip(), timezone=self.timezone or local_zone
        )


class KeywordFilterIn(KeywordFilter):
    model_config = _STRICT
    type: Literal["keyword"]

    def spec(self, _local_zone: str) -> KeywordFilter:
        return KeywordFilter.model_validate(self.model_dump())


class CategoryFilterIn(CategoryFilter):
    model_config = _STRICT
    type: Literal["category"]

    def spec(self, _local_zone: str) -> CategoryFilter:
        return CategoryFilter.model_validate(self.model_dump())


class RegexFilterIn(RegexFilter):
    model_config = _STRICT
    type: Literal["regex"]

    def spec(self, _local_zone: str) -> RegexFilter:
        return RegexFilter.model_validate(self.model_dump())


FilterIn = Annotated[
    TimeWindowFilterIn
    | CronFilterIn
    | KeywordFilterIn
    | CategoryFilterIn
    | RegexFilterIn,
    Field(discriminator="type"),
]


class _Row(BaseModel):
    id: int
    streamer_id: int
    created_at: datetime
    updated_at: datetime


class TimeWindowFilterPublic(TimeWindowFilter, _Row):
    pass


class CronFilterPublic(CronFilter, _Row):
    pass


class KeywordFilterPublic(KeywordFilter, _Row):
    pass


class CategoryFilterPublic(CategoryFilter, _Row):
    pass


class RegexFilterPublic(RegexFilter, _Row):
    pass


FilterPublic = Annotated[
    TimeWindowFilterPublic
    | CronFilterPublic
    | KeywordFilterPublic
    | CategoryFilterPublic
    | RegexFilterPublic,
    Field(discriminator="type"),
]

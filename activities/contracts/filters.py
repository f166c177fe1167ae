"""Filter specs: when and what a live streamer may be recorded.

A streamer's filters all have to pass (AND) for a live stream to be recorded; the
first that fails is the reason it is not (`activities.filters.evaluate`). Two kinds
look at the clock (`TimeWindowFilter`, `CronFilter`), three at the stream's title
and category. The streamer workflow carries them in its configuration, so these
models hold their structure only: the API checks time zones, cron expressions and
regexes when a filter is saved (`activities.filters.check`), and a spec that stops
compiling later (a hand-edited row) fails its filter with the reason, never the
workflow.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

# "HH:MM" or "HH:MM:SS", 00:00 to 23:59:59
CLOCK_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$"
KEYWORD_MAX_LENGTH = 200
LIST_MAX_ITEMS = 100
PATTERN_MAX_LENGTH = 1000
TIMEZONE_MAX_LENGTH = 64
CRON_MAX_LENGTH = 200


class FilterType(StrEnum):
    """The kinds of filter (the `type` of a spec)."""

    TIME_WINDOW = "time_window"
    CRON = "cron"
    KEYWORD = "keyword"
    CATEGORY = "category"
    REGEX = "regex"


class Weekday(StrEnum):
    """A day of the week, by its English name (`date.weekday()` order)."""

    MONDAY = "Monday"
    TUESDAY = "Tuesday"
    WEDNESDAY = "Wednesday"
    THURSDAY = "Thursday"
    FRIDAY = "Friday"
    SATURDAY = "Saturday"
    SUNDAY = "Sunday"


class TimeWindowFilter(BaseModel):
    """Passes between two clock times on some days of the week, in a time zone.

    `end_time` before `start_time` is an overnight window: it belongs to the day it
    starts on (Friday 22:00-02:00 runs into Saturday morning).
    """

    type: Literal["time_window"] = "time_window"
    days_of_week: list[Weekday] = Field(
        default_factory=lambda: list(Weekday),
        max_length=7,
        description="The days a window starts on; every day when omitted",
    )
    start_time: str = Field(pattern=CLOCK_PATTERN, description='"HH:MM[:SS]"')
    end_time: str = Field(
        pattern=CLOCK_PATTERN,
        description='"HH:MM[:SS]"; before start_time for an overnight window',
    )
    timezone: str = Field(
        max_length=TIMEZONE_MAX_LENGTH,
        description="IANA time zone the clock times are in, e.g. Europe/Berlin",
    )


class CronFilter(BaseModel):
    """Passes during every minute a cron expression fires, in a time zone.

    `* 20-23 * * 1-5` passes on weekdays from 20:00 to 23:59.
    """

    type: Literal["cron"] = "cron"
    expression: str = Field(
        max_length=CRON_MAX_LENGTH,
        description="Five fields: minute hour day-of-month month day-of-week",
    )
    timezone: str = Field(
        max_length=TIMEZONE_MAX_LENGTH,
        description="IANA time zone the expression is read in, e.g. Asia/Shanghai",
    )


Keyword = Annotated[str, Field(min_length=1, max_length=KEYWORD_MAX_LENGTH)]


class KeywordFilter(BaseModel):
    """Case-insensitive substrings of the title: any excluded one fails, and
    when `include` is not empty one of them must be there."""

    type: Literal["keyword"] = "keyword"
    include: list[Keyword] = Field(
        default_factory=list,
        max_length=LIST_MAX_ITEMS,
        description="The title must hold one of these; empty passes",
    )
    exclude: list[Keyword] = Field(
        default_factory=list,
        max_length=LIST_MAX_ITEMS,
        description="The title must hold none of these (wins over include)",
    )


class CategoryFilter(BaseModel):
    """The stream's category is one of a list (case-insensitive); empty passes."""

    type: Literal["category"] = "category"
    categories: list[Keyword] = Field(default_factory=list, max_length=LIST_MAX_ITEMS)


class RegexFilter(BaseModel):
    """The title matches a regular expression (RE2 syntax: no look-around or
    back-references, and matching time linear in the title's length)."""

    type: Literal["regex"] = "regex"
    pattern: str = Field(min_length=1, max_length=PATTERN_MAX_LENGTH)
    case_insensitive: bool = False
    exclude: bool = Field(default=False, description="Pass when it does NOT match")


FilterSpec = Annotated[
    TimeWindowFilter | CronFilter | KeywordFilter | CategoryFilter | RegexFilter,
    Field(discriminator="type"),
]

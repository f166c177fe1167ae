"""Five-field cron expressions: parsed by croniter, matched on their field sets.

croniter (`croniter.expand`) parses the fields: numbers, ranges, steps, lists, month
and weekday names, `@daily`-style macros, with clear errors. Matching a wall-clock
minute and finding the next one that fires (or does not) is ours, on the expanded
sets, because croniter costs 0.1-0.6 ms a call and steps in wall time; a test holds
`Cron.matches` to croniter's own `match`. `L`, `W`, `H` and `#` are refused.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from croniter import croniter
from croniter.croniter import CroniterError

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Cron:
    """A parsed five-field cron expression; None fields are `*` (any)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int] | None
    months: frozenset[int] | None
    weekdays: frozenset[int] | None  # 0 = Sunday

    def day_matches(self, day: date) -> bool:
        if self.months is not None and day.month not in self.months:
            return False
        dom = self.days is None or day.day in self.days
        dow = self.weekdays is None or day.isoweekday() % 7 in self.weekdays
        if self.days is not None and self.weekdays is not None:
            return dom or dow  # both restricted: either one (Vixie cron, croniter)
        return dom and dow

    def matches(self, wall: datetime) -> bool:
        """Whether the wall-clock minute of `wall` fires."""
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and self.day_matches(wall.date())
        )

    def next_match(self, wall: datetime, limit: datetime) -> datetime | None:
        """The first firing wall minute in [wall, limit), wall minute-aligned."""
        while wall < limit:
            if not self.day_matches(wall.date()):
                wall = datetime.combine(wall.date() + DAY, time())
                continue
            for hour in self.hours:
                if hour < wall.hour:
                    continue
                for minute in self.minutes:
                    if hour > wall.hour or minute >= wall.minute:
                        found = wall.replace(hour=hour, minute=minute)
                        return found if found < limit else None
            wall = datetime.combine(wall.date() + DAY, time())
        return None

    def ever_fires(self) -> bool:
        """Whether it fires at all: in 28 years the calendar repeats itself."""
        start = datetime.combine(date(2000, 1, 1), time())
        return self.next_match(start, start.replace(year=2028)) is not None

    def next_miss(self, wall: datetime, limit: datetime) -> datetime | None:
        """The first wall minute in [wall, limit) that does not fire."""
        full_hour = len(self.minutes) == 60
        full_day = full_hour and len(self.hours) == 24
        while wall < limit:
            if not self.matches(wall):
                return wall
            if full_day:
                wall = datetime.combine(wall.date() + DAY, time())
            elif full_hour:
                wall = wall.replace(minute=0) + timedelta(hours=1)
            else:
                wall += MINUTE
        return None


def _field(values: list[int | str], name: str) -> frozenset[int] | None:
    if values == ["*"]:
        return None
    if not all(isinstance(v, int) for v in values):
        raise ValueError(f"{name}: L, W and H are not supported")
    return frozenset(int(v) for v in values)


@functools.lru_cache(maxsize=1024)
def parse_cron(expression: str) -> Cron:
    """Parse a five-field cron expression (names and @daily-style macros allowed).

    Raises:
        ValueError: not such an expression; the message says why.
    """
    if len(expression.split()) != 5 and not expression.strip().startswith("@"):
        raise ValueError(
            "a cron expression has five fields: minute hour day-of-month month "
            f"day-of-week (got {expression!r})"
        )
    try:
        fields, nth = croniter.expand(expression)
    except CroniterError as err:
        raise ValueError(f"not a cron expression: {expression!r} ({err})") from err
    if len(fields) != 5:
        raise ValueError(f"{expression!r}: five fields, no seconds or years")
    if nth:
        raise ValueError(f"{expression!r}: '#' (nth weekday) is not supported")
    minutes, hours, days, months, weekdays = (
        _field(f, n)
        for f, n in zip(
            fields,
            ("minute", "hour", "day-of-month", "month", "day-of-week"),
            strict=True,
        )
    )
    return Cron(
        minutes=tuple(sorted(minutes)) if minutes is not None else tuple(range(60)),
        hours=tuple(sorted(hours)) if hours is not None else tuple(range(24)),
        days=days,
        months=months,
        weekdays=weekdays,
    )

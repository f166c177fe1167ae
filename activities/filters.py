"""Evaluate a streamer's filters: pure functions a workflow can call.

    passes, reason = evaluate(filters, workflow.now(), status.title, status.category)
    opens = next_open(filters, workflow.now())    # sleep until then when out of it
    closes = next_close(filters, workflow.now())  # stop the recording then

All filters must pass (AND); the first that fails is the reason. Nothing here reads
the clock or does I/O beyond the time zone database: time comes in as `now`, so
the same arguments give the same answer on replay. The schedule (the time-window and
cron filters together) is open when each of them is; `next_open` and `next_close`
give the exact instants it opens and closes (`activities.schedule` says how daylight
saving time is handled), or None when that is more than `HORIZON` away or never.

A spec that does not compile (a time zone, cron expression or regex the API would
refuse, in a row edited by hand) fails its filter with that reason; it never raises.
`check` is what the API runs when a filter is saved.

Regexes use RE2 (google-re2): matching time is linear in the title's length, so no
pattern can hang a workflow task the way a backtracking `re` pattern can.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

import re2

from activities import schedule
from activities.contracts.filters import (
    CategoryFilter,
    CronFilter,
    FilterSpec,
    KeywordFilter,
    RegexFilter,
    TimeWindowFilter,
    Weekday,
)
from activities.cron import parse_cron

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "HORIZON",
    "FilterError",
    "Verdict",
    "check",
    "evaluate",
    "next_close",
    "next_open",
]

HORIZON = timedelta(days=366)
# Rounds of "advance to the latest next opening" before the search gives up; each
# round moves past one window of one filter.
_MAX_ROUNDS = 1000

ScheduleSpec = TimeWindowFilter | CronFilter


class FilterError(ValueError):
    """A spec that cannot be evaluated: which field, and why.

    Args:
        field: the spec's field at fault.
        reason: why.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Verdict(NamedTuple):
    """What `evaluate` found: whether every filter passes, else the first reason."""

    passes: bool
    reason: str | None = None


def _aware(now: datetime) -> datetime:
    """`now` in UTC, which the instant arithmetic of `schedule` works in."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (workflow.now() is)")
    return now.astimezone(UTC)


def _quoted(items: Sequence[str]) -> str:
    return ", ".join(repr(i) for i in items)


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str, case_insensitive: bool) -> Any:
    """The compiled RE2 pattern.

    Raises:
        ValueError: the pattern is not valid RE2 syntax; the message says why.
    """
    options = re2.Options()
    options.case_sensitive = not case_insensitive
    options.log_errors = False  # the error is raised; RE2 would also log it
    try:
        return re2.compile(pattern, options)
    except re2.error as err:
        # RE2 raises its message as bytes
        raw = err.args[0] if err.args else ""
        detail = raw.decode() if isinstance(raw, bytes) else str(raw)
        raise ValueError(f"invalid regex {pattern!r}: {detail}") from err


def check(spec: FilterSpec) -> None:
    """Refuse a spec that cannot be evaluated (the API's save-time check).

    Raises:
        FilterError: names the field and why.
    """
    if isinstance(spec, TimeWindowFilter):
        _field("timezone", _iana_zone, spec.timezone)
        if schedule.start_equals_end(spec):
            raise FilterError("end_time", "equals start_time (an empty window)")
        if not spec.days_of_week:
            raise FilterError("days_of_week", "empty (omit it for every day)")
    elif isinstance(spec, CronFilter):
        _field("timezone", _iana_zone, spec.timezone)
        cron = _field("expression", parse_cron, spec.expression)
        if not cron.ever_fires():
            raise FilterError("expression", f"{spec.expression!r} never fires")
    elif isinstance(spec, RegexFilter):
        _field("pattern", compile_regex, spec.pattern, spec.case_insensitive)


@functools.lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    # the files of the zone database, less `localtime`: a copy of this machine's
    # zone, which another machine's worker would read as its own
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def _iana_zone(name: str) -> None:
    schedule.zone(name)
    if name not in _iana_zones():  # posix/…, right/…: files, not zone names
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. Europe/Berlin)")


def _field(name: str, compile_: Any, *args: Any) -> Any:
    try:
        return compile_(*args)
    except ValueError as err:
        raise FilterError(name, str(err)) from err


# --- evaluation ---------------------------------------------------------------------


def _fails(spec: FilterSpec, now: datetime, title: str, category: str) -> str | None:
    """Why `spec` fails (None: it passes)."""
    if isinstance(spec, TimeWindowFilter):
        if not schedule.window_is_open(spec, now):
            days = (
                "every day"
                if len(set(spec.days_of_week)) == len(Weekday)
                else ", ".join(d.value[:3] for d in spec.days_of_week)
            )
            return (
                f"outside the time window {days} {spec.start_time}-{spec.end_time} "
                f"({spec.timezone})"
            )
    elif isinstance(spec, CronFilter):
        if not schedule.cron_is_open(spec, now):
            return f"outside the cron schedule {spec.expression!r} ({spec.timezone})"
    elif isinstance(spec, KeywordFilter):
        folded = title.casefold()
        excluded = [k for k in spec.exclude if k.casefold() in folded]
        if excluded:
            return f"title {title!r} has the excluded keyword {excluded[0]!r}"
        if spec.include and not any(k.casefold() in folded for k in spec.include):
            return f"title {title!r} has none of the keywords {_quoted(spec.include)}"
    elif isinstance(spec, CategoryFilter):
        wanted = {c.strip().casefold() for c in spec.categories}
        if wanted and category.strip().casefold() not in wanted:
            return f"category {category!r} is not one of {_quoted(spec.categories)}"
    elif isinstance(spec, RegexFilter):
        found = compile_regex(spec.pattern, spec.case_insensitive).search(title)
        if spec.exclude and found is not None:
            return f"title {title!r} matches the excluded regex {spec.pattern!r}"
        if not spec.exclude and found is None:
            return f"title {title!r} does not match the regex {spec.pattern!r}"
    return None


def evaluate(
    filters: Sequence[FilterSpec], now: datetime, title: str = "", category: str = ""
) -> Verdict:
    """Whether a live stream passes every filter at `now`; else the first reason.

    Args:
        filters: the streamer's filters, in their order.
        now: the instant to judge (aware; `workflow.now()` in a workflow).
        title: the stream's title.
        category: the stream's category (game, section).

    Returns:
        `Verdict(True, None)`, or `Verdict(False, reason)` for the first failing
        filter; a filter that cannot be evaluated fails with why.
    """
    now = _aware(now)
    for spec in filters:
        try:
            reason = _fails(spec, now, title, category)
        except ValueError as err:
            reason = f"invalid {spec.type} filter: {err}"
        if reason is not None:
            return Verdict(False, reason)
    return Verdict(True)


def _schedule(filters: Sequence[FilterSpec]) -> list[ScheduleSpec]:
    return [f for f in filters if isinstance(f, TimeWindowFilter | CronFilter)]


def _opens_at(spec: ScheduleSpec, t: datetime, until: datetime) -> datetime | None:
    try:
        if isinstance(spec, TimeWindowFilter):
            return schedule.window_opens_at(spec, t, until)
        return schedule.cron_opens_at(spec, t, until)
    except ValueError:
        return None  # an invalid spec never opens (`evaluate` says why)


def _closes_at(spec: ScheduleSpec, t: datetime, until: datetime) -> datetime | None:
    try:
        if isinstance(spec, TimeWindowFilter):
            return schedule.window_closes_at(spec, t, until)
        return schedule.cron_closes_at(spec, t, until)
    except ValueError:
        return t


def next_open(filters: Sequence[FilterSpec], now: datetime) -> datetime | None:
    """The first instant >= now at which every time-window and cron filter is open.

    Args:
        filters: the streamer's filters; those on title and category are ignored.
        now: the instant to look from (aware).

    Returns:
        `now` when the schedule is open (or there is none), the instant it opens,
        or None when it does not open within `HORIZON` (or ever).
    """
    t = _aware(now)
    until = t + HORIZON
    specs = _schedule(filters)
    for _ in range(_MAX_ROUNDS):
        opens = [_opens_at(spec, t, until) for spec in specs]
        if any(o is None for o in opens):
            return None
        latest = max((o for o in opens if o is not None), default=t)
        if latest == t:
            return t
        t = latest
    return None


def next_close(filters: Sequence[FilterSpec], now: datetime) -> datetime | None:
    """The first instant >= now at which a time-window or cron filter is closed.

    Args:
        filters: the streamer's filters; those on title and category are ignored.
        now: the instant to look from (aware).

    Returns:
        `now` when the schedule is closed, the instant it closes, or None when it
        stays open for `HORIZON` (or has no time-window or cron filter).
    """
    t = _aware(now)
    until = t + HORIZON
    closes = [_closes_at(spec, t, until) for spec in _schedule(filters)]
    return min((c for c in closes if c is not None), default=None)

"""When a time-window or cron filter is open, as exact instants in any time zone.

Pure and deterministic (no clock, no I/O but the time zone database), so a workflow
can call it with `workflow.now()`. `window_opens_at`/`cron_opens_at(spec, t, until)`
give the first instant >= t the filter is open, `*_closes_at` the first instant >= t
it is closed, None when that is beyond `until`; `activities.filters` combines them.

Daylight saving time, as the seed (rust-srec) has it:

* A time window opens the first time the wall clock reaches its start and closes
  the last time the clock reaches its end, so it never closes early: on the night
  the clock falls back, a window that ends in the repeated hour ends in its second
  pass. A start or end the clock skips (spring forward) is the moment of the jump;
  a window that lies wholly in the skipped hour does not open that day.
* A cron filter is open during each real minute whose wall-clock minute fires: a
  repeated minute fires twice, a skipped one never.

Cron expressions are parsed and matched in wall time by `activities.cron`; the
instants are found here, span by span of constant UTC offset.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from activities.contracts.filters import (
    CLOCK_PATTERN,
    CronFilter,
    TimeWindowFilter,
    Weekday,
)
from activities.cron import MINUTE, parse_cron

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
# Offsets are read this far apart: no zone changes its offset twice within it.
_SAMPLE = timedelta(hours=6)
_CLOCK = re.compile(CLOCK_PATTERN)
_WEEKDAYS = list(Weekday)  # date.weekday() order
# A span of constant offset is cut at this length, so a query near `now` never
# scans the months up to the next transition.
_CHUNK = timedelta(days=7)


def zone(name: str) -> ZoneInfo:
    """The time zone of an IANA name.

    Raises:
        ValueError: no such zone.
    """
    try:
        return ZoneInfo(name)
    # a directory ("Europe") or a name too long for the file system is an OSError
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)"
        ) from err


@functools.lru_cache(maxsize=1024)
def clock(text: str) -> time:
    """`HH:MM` or `HH:MM:SS` as a time of day.

    Raises:
        ValueError: not such a time.
    """
    if not isinstance(text, str) or _CLOCK.match(text) is None:
        raise ValueError(f"not a time of day: {text!r} (HH:MM or HH:MM:SS)")
    second = int(text[6:8]) if len(text) == 8 else 0
    return time(int(text[0:2]), int(text[3:5]), second)


def _utc(naive: datetime, tz: ZoneInfo, fold: int) -> datetime:
    return naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _first_reaching(
    naive: datetime, tz: ZoneInfo, lo: datetime, hi: datetime
) -> datetime:
    """The first instant in (lo, hi] whose wall clock is >= `naive` (a skipped time)."""
    while hi - lo > SECOND:
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            mid = lo + SECOND
        if _wall(mid, tz) >= naive:
            hi = mid
        else:
            lo = mid
    return hi


@functools.lru_cache(maxsize=4096)
def boundary(naive: datetime, tz: ZoneInfo, *, latest: bool) -> datetime:
    """The instant the wall clock shows `naive`: the first (or, if `latest`, the
    last) of a repeated time, the jump for a skipped one."""
    first, second = _utc(naive, tz, 0), _utc(naive, tz, 1)
    if first == second:
        return first
    if second > first:  # shown twice: the clock fell back
        return second if latest else first
    # skipped: fold=1 reads it with the offset after the jump (too early) and
    # fold=0 with the one before it (too late); the jump lies between
    return _first_reaching(naive, tz, second, first)


# --- time windows -------------------------------------------------------------------


def _windows(
    spec: TimeWindowFilter, t: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The filter's windows (open, close) by start day, from the day before t's."""
    tz = zone(spec.timezone)
    start, end = clock(spec.start_time), clock(spec.end_time)
    days = {_WEEKDAYS.index(d) for d in spec.days_of_week}
    day = _wall(t, tz).date() - DAY
    while True:
        if day.weekday() in days:
            close_day = day + DAY if end < start else day
            opens = boundary(datetime.combine(day, start), tz, latest=False)
            closes = boundary(datetime.combine(close_day, end), tz, latest=True)
            if opens < closes:
                yield opens, closes
        day += DAY


def window_is_open(spec: TimeWindowFilter, t: datetime) -> bool:
    """Whether t lies in one of the filter's windows."""
    t = t.astimezone(UTC)
    if _never(spec):
        return False
    for opens, closes in _windows(spec, t):
        if opens > t:
            return False
        if closes > t:
            return True
    raise AssertionError("unreachable: the windows never end")


def window_opens_at(
    spec: TimeWindowFilter, t: datetime, until: datetime
) -> datetime | None:
    """The first instant >= t the window is open; None if after `until`."""
    t = t.astimezone(UTC)
    if _never(spec):
        return None
    for opens, closes in _windows(spec, t):
        if opens > until:
            return None
        if closes > t:
            return max(opens, t)
    raise AssertionError("unreachable: the windows never end")


def window_closes_at(
    spec: TimeWindowFilter, t: datetime, until: datetime
) -> datetime | None:
    """The first instant >= t the window is closed; None if after `until`."""
    t = t.astimezone(UTC)
    if _never(spec):
        return t
    current: datetime | None = None
    for opens, closes in _windows(spec, t):
        if current is None:
            if opens > t:
                return t
            if closes > t:
                current = closes
            continue
        if opens > current:
            return current
        current = max(current, closes)  # a fold made this window begin early
        if current > until:
            return None
    raise AssertionError("unreachable: the windows never end")


def start_equals_end(spec: TimeWindowFilter) -> bool:
    return clock(spec.start_time) == clock(spec.end_time)


def _never(spec: TimeWindowFilter) -> bool:
    """An empty window, or no day to open on (the API refuses both)."""
    return start_equals_end(spec) or not spec.days_of_week


# --- cron ---------------------------------------------------------------------------


def _floor_minute(wall: datetime) -> datetime:
    return wall.replace(second=0, microsecond=0)


def _offset(instant: datetime, tz: ZoneInfo) -> timedelta:
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def _spans(
    tz: ZoneInfo, t: datetime, until: datetime
) -> Iterator[tuple[datetime, datetime, timedelta]]:
    """Consecutive spans (begin, end, offset) of constant UTC offset from t to until."""
    begin = t.astimezone(UTC)
    offset = _offset(begin, tz)
    while begin < until:
        end = min(begin + _CHUNK, until)
        probe = begin
        while probe < end:
            step = min(probe + _SAMPLE, end)
            if _offset(step, tz) != offset:
                # the offset changes at a whole second in (probe, step]
                lo = probe.replace(microsecond=0)
                end = _first_offset_change(tz, lo, step, offset)
                break
            probe = step
        yield begin, end, offset
        begin, offset = end, _offset(end, tz)


def _first_offset_change(
    tz: ZoneInfo, lo: datetime, hi: datetime, offset: timedelta
) -> datetime:
    hi = hi.replace(microsecond=0)
    while hi - lo > SECOND:
        mid = (lo + (hi - lo) / 2).replace(microsecond=0)
        if _offset(mid, tz) == offset:
            lo = mid
        else:
            hi = mid
    return hi


def cron_is_open(spec: CronFilter, t: datetime) -> bool:
    return parse_cron(spec.expression).matches(_wall(t, zone(spec.timezone)))


def cron_opens_at(spec: CronFilter, t: datetime, until: datetime) -> datetime | None:
    """The first instant >= t the cron filter is open; None if after `until`."""
    cron, tz = parse_cron(spec.expression), zone(spec.timezone)
    for begin, end, offset in _spans(tz, t, until):
        wall = (begin + offset).replace(tzinfo=None)
        if cron.matches(wall):
            return begin
        limit = (end + offset).replace(tzinfo=None)
        found = cron.next_match(_floor_minute(wall) + MINUTE, limit)
        if found is not None:
            return (found - offset).replace(tzinfo=UTC)
    return None


def cron_closes_at(spec: CronFilter, t: datetime, until: datetime) -> datetime | None:
    """The first instant >= t the cron filter is closed; None if after `until`."""
    cron, tz = parse_cron(spec.expression), zone(spec.timezone)
    for begin, end, offset in _spans(tz, t, until):
        wall = (begin + offset).replace(tzinfo=None)
        limit = (end + offset).replace(tzinfo=None)
        missed = cron.next_miss(_floor_minute(wall), limit)
        if missed is not None:
            return max(begin, (missed - offset).replace(tzinfo=UTC))
    return None

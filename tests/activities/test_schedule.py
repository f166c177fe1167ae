"""The instants a schedule opens and closes: overnight, time zones and DST.

Each DST case names the transition it crosses. Expected instants are written as
wall-clock times (`fold=1` is the second pass of a repeated hour). Beyond the cases,
`next_open`/`next_close` are checked against `evaluate` minute by minute around
every transition, and the cron matcher against croniter's own.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from activities.contracts import CronFilter, FilterSpec, TimeWindowFilter, Weekday
from activities.cron import parse_cron
from activities.filters import HORIZON, evaluate, next_close, next_open

BERLIN = ZoneInfo("Europe/Berlin")  # 2026: 03-29 02:00→03:00, 10-25 03:00→02:00
NEW_YORK = ZoneInfo("America/New_York")  # 2026: 03-08 02:00→03:00, 11-01 02:00→01:00
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # 2026-10-04 02:00→02:30 (half an hour)


def window(
    start: str, end: str, tz: str = "Europe/Berlin", **kw: Any
) -> TimeWindowFilter:
    return TimeWindowFilter(start_time=start, end_time=end, timezone=tz, **kw)


def cron(expression: str, tz: str = "Europe/Berlin") -> CronFilter:
    return CronFilter(expression=expression, timezone=tz)


def at(
    tz: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    """A wall-clock time as its UTC instant: an aware datetime in the second pass
    of a repeated hour compares unequal to every other zone's (PEP 495)."""
    wall = datetime(year, month, day, hour, minute, second, tzinfo=tz, fold=fold)
    return wall.astimezone(UTC)


def is_open(spec: FilterSpec, t: datetime) -> bool:
    return evaluate([spec], t).passes


# --- time windows -------------------------------------------------------------------


def test_a_window_opens_and_closes_on_the_clock() -> None:
    spec = window("20:00", "23:00")
    before = at(BERLIN, 2026, 1, 16, 19, 0)
    assert next_open([spec], before) == at(BERLIN, 2026, 1, 16, 20, 0)
    assert next_close([spec], before) == before  # closed now
    inside = at(BERLIN, 2026, 1, 16, 21, 30, 15)
    assert next_open([spec], inside) == inside
    assert next_close([spec], inside) == at(BERLIN, 2026, 1, 16, 23, 0)
    assert not is_open(spec, at(BERLIN, 2026, 1, 16, 23, 0))  # end is exclusive
    assert is_open(spec, at(BERLIN, 2026, 1, 16, 20, 0))


def test_an_overnight_window_belongs_to_the_day_it_starts() -> None:
    spec = window("22:00", "02:00", days_of_week=[Weekday.FRIDAY])
    friday_night = at(BERLIN, 2026, 1, 16, 23, 0)
    saturday_early = at(BERLIN, 2026, 1, 17, 1, 0)
    assert is_open(spec, friday_night)
    assert is_open(spec, saturday_early)
    assert next_close([spec], friday_night) == at(BERLIN, 2026, 1, 17, 2, 0)
    assert not is_open(spec, at(BERLIN, 2026, 1, 16, 1, 0))  # Thursday's tail
    assert not is_open(spec, at(BERLIN, 2026, 1, 17, 23, 0))  # Saturday night
    assert next_open([spec], saturday_early + timedelta(hours=2)) == at(
        BERLIN, 2026, 1, 23, 22, 0
    )


def test_days_of_week_and_the_zone_decide_together() -> None:
    # 20:00-21:00 in Shanghai on Mondays is 12:00-13:00 UTC
    spec = window("20:00", "21:00", "Asia/Shanghai", days_of_week=[Weekday.MONDAY])
    monday_noon_utc = datetime(2026, 1, 19, 12, 30, tzinfo=UTC)
    assert is_open(spec, monday_noon_utc)
    assert not is_open(spec, monday_noon_utc + timedelta(days=1))
    assert next_close([spec], monday_noon_utc) == datetime(2026, 1, 19, 13, tzinfo=UTC)
    assert next_open([spec], monday_noon_utc + timedelta(hours=1)) == datetime(
        2026, 1, 26, 12, tzinfo=UTC
    )


def test_a_start_the_clock_skips_opens_at_the_jump() -> None:
    spec = window("02:30", "04:00")
    night = at(BERLIN, 2026, 3, 29, 0, 0)
    opens = next_open([spec], night)
    assert opens == at(BERLIN, 2026, 3, 29, 3, 0)  # 02:00 CET became 03:00 CEST
    assert opens == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert next_close([spec], opens) == at(BERLIN, 2026, 3, 29, 4, 0)


def test_a_window_the_clock_skips_does_not_open_that_day() -> None:
    spec = window("02:15", "02:45")
    assert next_open([spec], at(BERLIN, 2026, 3, 29, 0, 0)) == at(
        BERLIN, 2026, 3, 30, 2, 15
    )


def test_a_window_ending_in_the_repeated_hour_ends_in_its_second_pass() -> None:
    spec = window("22:00", "02:30")
    saturday = at(BERLIN, 2026, 10, 24, 23, 0)
    closes = next_close([spec], saturday)
    assert closes == at(BERLIN, 2026, 10, 25, 2, 30, fold=1)
    assert closes == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert is_open(spec, at(BERLIN, 2026, 10, 25, 2, 45))  # first pass: still open


def test_a_window_starting_in_the_repeated_hour_starts_in_its_first_pass() -> None:
    spec = window("02:30", "05:00")
    opens = next_open([spec], at(BERLIN, 2026, 10, 25, 0, 0))
    assert opens == at(BERLIN, 2026, 10, 25, 2, 30)
    assert opens == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert next_close([spec], opens) == at(BERLIN, 2026, 10, 25, 5, 0)


def test_a_half_hour_shift_is_handled_like_an_hour() -> None:
    spec = window("02:10", "03:00", "Australia/Lord_Howe")
    opens = next_open([spec], at(LORD_HOWE, 2026, 10, 4, 0, 0))
    assert opens == at(LORD_HOWE, 2026, 10, 4, 2, 30)  # 02:00 became 02:30
    assert (opens.astimezone(UTC) - at(LORD_HOWE, 2026, 10, 4, 1, 59)).seconds == 60


# --- cron ---------------------------------------------------------------------------


def test_cron_is_open_during_every_minute_it_fires() -> None:
    spec = cron("* 20-23 * * 1-5")
    friday = at(BERLIN, 2026, 1, 16, 19, 0)
    opens = next_open([spec], friday)
    assert opens == at(BERLIN, 2026, 1, 16, 20, 0)
    assert next_close([spec], opens) == at(BERLIN, 2026, 1, 17, 0, 0)
    assert next_open([spec], at(BERLIN, 2026, 1, 17, 0, 0)) == at(
        BERLIN, 2026, 1, 19, 20, 0
    )
    # one firing minute: open from its first second to its last
    once = cron("0 20 * * *")
    assert is_open(once, at(BERLIN, 2026, 1, 16, 20, 0, 59))
    assert next_close([once], at(BERLIN, 2026, 1, 16, 20, 0, 30)) == at(
        BERLIN, 2026, 1, 16, 20, 1
    )


def test_a_minute_the_clock_skips_never_fires() -> None:
    spec = cron("30 2 * * *")
    assert next_open([spec], at(BERLIN, 2026, 3, 29, 0, 0)) == at(
        BERLIN, 2026, 3, 30, 2, 30
    )


def test_a_repeated_minute_fires_twice() -> None:
    spec = cron("30 2 * * *")
    first = next_open([spec], at(BERLIN, 2026, 10, 25, 0, 0))
    assert first == at(BERLIN, 2026, 10, 25, 2, 30)
    second = next_open([spec], next_close([spec], first))  # type: ignore[arg-type]
    assert second == at(BERLIN, 2026, 10, 25, 2, 30, fold=1)
    assert second - first == timedelta(hours=1)


def test_in_the_first_pass_the_second_pass_may_come_first() -> None:
    # at 02:40 CEST, 02:10 CET (half an hour later) is sooner than tomorrow's
    spec = cron("10 2 * * *")
    assert next_open([spec], at(BERLIN, 2026, 10, 25, 2, 40)) == at(
        BERLIN, 2026, 10, 25, 2, 10, fold=1
    )


def test_a_run_ends_where_the_repeated_hour_does_not_fire() -> None:
    spec = cron("30-59 2 * * *")  # 02:30-02:59, but 02:00-02:29 CET does not fire
    assert next_close([spec], at(BERLIN, 2026, 10, 25, 2, 40)) == at(
        BERLIN, 2026, 10, 25, 2, 0, fold=1
    )


def test_a_run_continues_through_the_repeated_hour() -> None:
    spec = cron("* 1-2 * * *", "America/New_York")
    assert next_close([spec], at(NEW_YORK, 2026, 11, 1, 1, 30)) == at(
        NEW_YORK, 2026, 11, 1, 3, 0
    )


def test_a_run_continues_across_the_jump_when_both_sides_fire() -> None:
    both = cron("* 1,3 * * *", "America/New_York")
    assert next_close([both], at(NEW_YORK, 2026, 3, 8, 1, 30)) == at(
        NEW_YORK, 2026, 3, 8, 4, 0
    )
    before = cron("* 1 * * *", "America/New_York")
    assert next_close([before], at(NEW_YORK, 2026, 3, 8, 1, 30)) == at(
        NEW_YORK, 2026, 3, 8, 3, 0
    )


def test_a_half_hour_jump_opens_cron_at_the_jump() -> None:
    spec = cron("* 2 * * *", "Australia/Lord_Howe")
    assert next_open([spec], at(LORD_HOWE, 2026, 10, 4, 1, 50)) == at(
        LORD_HOWE, 2026, 10, 4, 2, 30
    )


def test_always_open_never_closes_and_rare_schedules_are_beyond_the_horizon() -> None:
    now = at(BERLIN, 2026, 1, 16, 19, 0)
    assert next_close([cron("* * * * *")], now) is None
    leap = cron("0 0 29 2 *")
    assert next_open([leap], now) is None  # 2028-02-29 is over a year away
    assert next_open([leap], at(BERLIN, 2027, 6, 1, 0, 0)) == at(
        BERLIN, 2028, 2, 29, 0, 0
    )
    assert HORIZON == timedelta(days=366)


def test_the_schedule_opens_when_every_time_filter_does() -> None:
    # weekday evenings in Berlin AND 22:30-01:00 UTC: in summer (UTC+2) they never
    # meet, in winter (UTC+1) from 23:30 to midnight
    filters: list[FilterSpec] = [
        cron("* 20-23 * * 1-5"),
        window("22:30", "01:00", "UTC"),
    ]
    opens = next_open(filters, at(BERLIN, 2026, 3, 28, 19, 0))
    assert opens == at(BERLIN, 2026, 10, 26, 23, 30)
    assert opens is not None
    assert next_close(filters, opens) == at(BERLIN, 2026, 10, 27, 0, 0)


# --- consistency --------------------------------------------------------------------

AROUND = [
    (BERLIN, datetime(2026, 3, 28, 20, tzinfo=UTC)),
    (BERLIN, datetime(2026, 10, 24, 20, tzinfo=UTC)),
    (NEW_YORK, datetime(2026, 3, 7, 20, tzinfo=UTC)),
    (NEW_YORK, datetime(2026, 10, 31, 20, tzinfo=UTC)),
    (LORD_HOWE, datetime(2026, 10, 3, 10, tzinfo=UTC)),
    (LORD_HOWE, datetime(2026, 4, 4, 10, tzinfo=UTC)),
]
SPECS = [
    ("window", "01:30", "02:45"),
    ("window", "22:00", "02:30"),
    ("window", "02:10", "02:20"),
    ("window", "00:00", "23:59"),
    ("cron", "*/7 1-3 * * *"),
    ("cron", "30-59 1,2 * * *"),
    ("cron", "0,1,2 0-3 * * 0,6"),
]


@pytest.mark.parametrize(("tz", "start"), AROUND, ids=lambda v: str(v))
@pytest.mark.parametrize("shape", SPECS, ids=lambda s: "-".join(s))
def test_next_open_and_close_agree_with_evaluate_minute_by_minute(
    tz: ZoneInfo, start: datetime, shape: tuple[str, ...]
) -> None:
    name = str(tz)
    spec: FilterSpec = (
        window(shape[1], shape[2], name)
        if shape[0] == "window"
        else cron(shape[1], name)
    )
    minutes = [start + timedelta(minutes=i) for i in range(30 * 60)]
    opened = [is_open(spec, m) for m in minutes]
    rng = random.Random(7)
    for i in range(0, 20 * 60, 13):
        t = minutes[i] + timedelta(seconds=rng.randrange(60))
        later = range(i + 1, len(minutes))
        flip = next((minutes[j] for j in later if opened[j] != opened[i]), None)
        if flip is None:
            continue  # beyond the minutes scanned
        want_open = t if opened[i] else flip
        want_close = flip if opened[i] else t
        assert next_open([spec], t) == want_open, t
        assert next_close([spec], t) == want_close, t


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "*/15 9-17 1,15 jan-mar mon-fri",
        "0 0 */1 * 1",
        "5 4 * * 0,7",
        "0 12 13 * 5",
        "@weekly",
        "7-50/6 3,5-9 */3 feb,aug-dec *",
    ],
)
def test_the_cron_matcher_agrees_with_croniter(expression: str) -> None:
    parsed = parse_cron(expression)
    rng = random.Random(expression)
    start = datetime(2024, 1, 1)  # noqa: DTZ001 - wall-clock minutes, no zone
    for _ in range(400):
        wall = start + timedelta(minutes=rng.randrange(3 * 366 * 24 * 60))
        assert parsed.matches(wall) == croniter.match(expression, wall), wall

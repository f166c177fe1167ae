"""Filters: what passes, why not, and the save-time checks (`activities.filters`).

The instants the schedule opens and closes, across daylight saving time, are in
`test_schedule.py`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError

from activities.contracts import (
    CategoryFilter,
    CronFilter,
    FilterSpec,
    KeywordFilter,
    RegexFilter,
    TimeWindowFilter,
)
from activities.filters import Verdict, check, evaluate, next_close, next_open

BERLIN = ZoneInfo("Europe/Berlin")
# a Friday evening in winter
NOW = datetime(2026, 1, 16, 21, 0, tzinfo=BERLIN)
SPECS: TypeAdapter[FilterSpec] = TypeAdapter(FilterSpec)


def window(start: str, end: str, **kw: Any) -> TimeWindowFilter:
    return TimeWindowFilter(
        start_time=start,
        end_time=end,
        timezone=kw.pop("timezone", "Europe/Berlin"),
        **kw,
    )


def passes(spec: FilterSpec, title: str = "", category: str = "") -> bool:
    return evaluate([spec], NOW, title, category).passes


@pytest.mark.parametrize(
    ("spec", "title", "expected"),
    [
        pytest.param(KeywordFilter(), "anything", True, id="empty-passes"),
        pytest.param(KeywordFilter(include=["elden"]), "ELDEN RING", True, id="case"),
        pytest.param(
            KeywordFilter(include=["elden", "dark"]), "Dark Souls", True, id="any"
        ),
        pytest.param(KeywordFilter(include=["elden"]), "Dark Souls", False, id="none"),
        pytest.param(KeywordFilter(include=["elden"]), "", False, id="no-title"),
        pytest.param(KeywordFilter(exclude=["rerun"]), "RERUN: day 1", False, id="ex"),
        pytest.param(
            KeywordFilter(include=["elden"], exclude=["rerun"]),
            "elden ring (rerun)",
            False,
            id="exclude-wins",
        ),
        pytest.param(KeywordFilter(include=["straße"]), "STRASSE", True, id="casefold"),
        pytest.param(KeywordFilter(include=["原神"]), "【原神】直播", True, id="cjk"),
    ],
)
def test_keywords(spec: KeywordFilter, title: str, expected: bool) -> None:
    assert passes(spec, title) is expected


@pytest.mark.parametrize(
    ("categories", "category", "expected"),
    [
        pytest.param([], "Just Chatting", True, id="empty-passes"),
        pytest.param(["just chatting"], "Just Chatting", True, id="case"),
        pytest.param(["Just Chatting"], " Just Chatting ", True, id="spaces"),
        pytest.param(["Just Chatting", "Art"], "Art", True, id="any"),
        pytest.param(["Just"], "Just Chatting", False, id="equality-not-substring"),
        pytest.param(["Art"], "", False, id="no-category"),
    ],
)
def test_categories(categories: list[str], category: str, expected: bool) -> None:
    assert passes(CategoryFilter(categories=categories), "", category) is expected


@pytest.mark.parametrize(
    ("spec", "title", "expected"),
    [
        pytest.param(RegexFilter(pattern=r"^\[EN\]"), "[EN] chill", True, id="match"),
        pytest.param(RegexFilter(pattern=r"^\[EN\]"), "[en] chill", False, id="case"),
        pytest.param(
            RegexFilter(pattern=r"^\[EN\]", case_insensitive=True),
            "[en] chill",
            True,
            id="case-insensitive",
        ),
        pytest.param(
            RegexFilter(pattern="rerun", exclude=True), "rerun", False, id="ex"
        ),
        pytest.param(
            RegexFilter(pattern="rerun", exclude=True), "live", True, id="ex-ok"
        ),
        pytest.param(RegexFilter(pattern=r"day \d+"), "DAY 3", False, id="search"),
        pytest.param(RegexFilter(pattern=r"\p{Han}+"), "原神", True, id="unicode"),
    ],
)
def test_regex(spec: RegexFilter, title: str, expected: bool) -> None:
    assert passes(spec, title) is expected


def test_a_catastrophic_pattern_matches_in_linear_time() -> None:
    # (a+)+$ backtracks exponentially in Python's re; RE2 answers at once
    spec = RegexFilter(pattern="(a+)+$", exclude=True)
    assert passes(spec, "a" * 100_000 + "b") is True


def test_all_must_pass_and_the_first_failure_is_the_reason() -> None:
    filters: list[FilterSpec] = [
        window("20:00", "23:00"),
        KeywordFilter(exclude=["rerun"]),
        CategoryFilter(categories=["Art"]),
    ]
    assert evaluate(filters, NOW, "drawing", "art") == Verdict(True, None)
    verdict = evaluate(filters, NOW, "rerun", "Games")
    assert not verdict.passes
    assert verdict.reason == "title 'rerun' has the excluded keyword 'rerun'"
    passed, reason = evaluate(filters, NOW + timedelta(hours=3), "rerun", "Games")
    assert not passed
    assert reason is not None
    assert reason.startswith("outside the time window")


def test_no_filters_pass() -> None:
    assert evaluate([], NOW) == Verdict(True)
    assert next_open([], NOW) == NOW
    assert next_close([], NOW) is None


def test_content_filters_never_close_the_schedule() -> None:
    only_content: list[FilterSpec] = [
        KeywordFilter(include=["x"]),
        RegexFilter(pattern="y"),
    ]
    assert next_open(only_content, NOW) == NOW
    assert next_close(only_content, NOW) is None


def test_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate([], NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        pytest.param(
            CronFilter(expression="* * * *", timezone="UTC"),
            "five fields",
            id="cron-fields",
        ),
        pytest.param(
            CronFilter(expression="* * * * *", timezone="Mars/Olympus"),
            "unknown time zone",
            id="cron-zone",
        ),
        pytest.param(
            window("20:00", "22:00", timezone="../../etc/passwd"),
            "unknown time zone",
            id="window-zone-path",
        ),
        pytest.param(
            RegexFilter(pattern="(?<=a)b"), "invalid perl operator", id="regex"
        ),
    ],
)
def test_a_spec_that_no_longer_compiles_fails_with_why(
    spec: FilterSpec, reason: str
) -> None:
    verdict = evaluate([spec], NOW, "ab")
    assert not verdict.passes
    assert verdict.reason is not None
    assert reason in verdict.reason
    assert verdict.reason.startswith(f"invalid {spec.type} filter")
    if isinstance(spec, TimeWindowFilter | CronFilter):
        assert next_open([spec], NOW) is None
        assert next_close([spec], NOW) == NOW


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {
                "type": "time_window",
                "start_time": "20:00",
                "end_time": "20:00:00",
                "timezone": "UTC",
            },
            "end_time: equals start_time",
            id="start-equals-end",
        ),
        pytest.param(
            {
                "type": "time_window",
                "start_time": "20:00",
                "end_time": "21:00",
                "timezone": "Europe/Nowhere",
            },
            "timezone: unknown time zone 'Europe/Nowhere'",
            id="window-zone",
        ),
        pytest.param(
            {
                "type": "time_window",
                "start_time": "20:00",
                "end_time": "21:00",
                "timezone": "UTC",
                "days_of_week": [],
            },
            "days_of_week: empty",
            id="no-days",
        ),
        pytest.param(
            {"type": "cron", "expression": "0 0 0 * * *", "timezone": "UTC"},
            "expression: a cron expression has five fields",
            id="cron-seconds",
        ),
        pytest.param(
            {"type": "cron", "expression": "61 * * * *", "timezone": "UTC"},
            "expression: not a cron expression: '61 * * * *'",
            id="cron-range",
        ),
        pytest.param(
            {"type": "cron", "expression": "0 0 L * *", "timezone": "UTC"},
            "expression: day-of-month: L, W and H are not supported",
            id="cron-L",
        ),
        pytest.param(
            {"type": "cron", "expression": "0 0 * * 5#2", "timezone": "UTC"},
            "expression: '0 0 * * 5#2': '#' (nth weekday) is not supported",
            id="cron-nth",
        ),
        pytest.param(
            {"type": "cron", "expression": "0 0 30 2 *", "timezone": "UTC"},
            "expression: '0 0 30 2 *' never fires",
            id="cron-never",
        ),
        pytest.param(
            {"type": "cron", "expression": "* * * * *", "timezone": "Utc/Nope"},
            "timezone: unknown time zone",
            id="cron-zone",
        ),
        pytest.param(
            {"type": "cron", "expression": "* * * * *", "timezone": "Europe"},
            "timezone: unknown time zone 'Europe'",
            id="zone-directory",
        ),
        pytest.param(
            {"type": "cron", "expression": "* * * * *", "timezone": "a" * 64},
            "timezone: unknown time zone",
            id="zone-too-long",
        ),
        pytest.param(
            {"type": "cron", "expression": "* * * * *", "timezone": "right/UTC"},
            "timezone: 'right/UTC' is not an IANA time zone name",
            id="zone-file",
        ),
        pytest.param(
            {"type": "cron", "expression": "* * * * *", "timezone": "localtime"},
            # a copy of this machine's zone where the database has it, else unknown
            "timezone: ",
            id="zone-localtime",
        ),
        pytest.param(
            {"type": "regex", "pattern": "(unclosed"},
            "pattern: invalid regex '(unclosed': missing ): (unclosed",
            id="regex",
        ),
        pytest.param(
            {"type": "regex", "pattern": r"(a)\1"},
            "pattern: invalid regex",
            id="regex-backreference",
        ),
    ],
)
def test_check_refuses_what_cannot_be_evaluated(
    body: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        check(SPECS.validate_python(body))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {"type": "cron", "expression": "0 0 29 2 *", "timezone": "UTC"}, id="leap"
        ),
        pytest.param(
            {"type": "cron", "expression": "@daily", "timezone": "UTC"}, id="macro"
        ),
        pytest.param(
            {
                "type": "cron",
                "expression": "*/15 9-17 1,15 jan-mar mon-fri",
                "timezone": "Asia/Shanghai",
            },
            id="names",
        ),
        pytest.param(
            {
                "type": "time_window",
                "start_time": "22:00",
                "end_time": "02:00:30",
                "timezone": "America/New_York",
                "days_of_week": ["Friday"],
            },
            id="overnight",
        ),
        pytest.param({"type": "regex", "pattern": "(?i)^live"}, id="regex-flags"),
        pytest.param({"type": "keyword"}, id="keyword-empty"),
    ],
)
def test_check_accepts_what_can_be_evaluated(body: dict[str, Any]) -> None:
    check(SPECS.validate_python(body))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {
                "type": "time_window",
                "start_time": "24:00",
                "end_time": "01:00",
                "timezone": "UTC",
            },
            id="hour-24",
        ),
        pytest.param(
            {
                "type": "time_window",
                "start_time": "8:00",
                "end_time": "09:00",
                "timezone": "UTC",
            },
            id="one-digit",
        ),
        pytest.param(
            {
                "type": "time_window",
                "start_time": "08:00",
                "end_time": "09:00",
                "timezone": "UTC",
                "days_of_week": ["Funday"],
            },
            id="weekday",
        ),
        pytest.param({"type": "keyword", "include": [""]}, id="empty-keyword"),
        pytest.param({"type": "regex", "pattern": ""}, id="empty-pattern"),
        pytest.param({"type": "sometimes"}, id="type"),
    ],
)
def test_the_specs_refuse_malformed_fields(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SPECS.validate_python(body)

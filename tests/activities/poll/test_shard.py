"""The shard poller's scheduling, signalling, roster, batches and limits, on a fake
clock with fake platforms and a fake signaller."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import UTC, datetime

import pytest

from activities.contracts import LiveOutcome, PollShardProgress
from activities.errors import ExtractorError
from activities.metrics import REGISTRY
from activities.platforms.base import answer
from activities.poll.schedule import next_slot, phase
from tests.activities.poll.harness import OFFLINE, T0, Harness, live, platform


@pytest.fixture
async def world():
    made: list[Harness] = []

    def make(*extractors, **poller) -> Harness:
        harness = Harness(*extractors, **poller)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        await harness.close()


def single(h: Harness, **kwargs):
    return platform("single", h.script, **kwargs)


# --- scheduling -----------------------------------------------------------------------


async def test_each_streamer_is_checked_once_per_its_interval(world) -> None:
    h = world()
    h.registry.extractors = [single(h)]
    h.add(1, "https://single.test/a", interval=30)
    h.add(2, "https://single.test/b", interval=60)
    h.add(3, "https://single.test/c", interval=90)
    await h.run(400)
    for ref, interval in (("a", 30), ("b", 60), ("c", 90)):
        times = h.script.checks_of(ref)
        assert len(times) >= 400 // interval - 1
        gaps = {round(b - a) for a, b in itertools.pairwise(times)}
        assert gaps == {interval}, ref
        # at its own phase of the interval, to the tick
        first = times[0]
        assert first - next_slot(1 + "abc".index(ref), interval, T0) < 0.5


async def test_checks_spread_over_the_interval(world) -> None:
    h = world()
    h.registry.extractors = [single(h)]
    for sid in range(600):
        h.add(sid, f"https://single.test/s{sid}")
    await h.run(61, step=1.0)
    per_second = Counter(int(t - T0) for t, _, _ in h.script.calls)
    assert sum(per_second.values()) == 600  # each one once in its first interval
    # 10 per second on average: a fixed phase per streamer, no bunching
    assert max(per_second.values()) <= 25
    assert len({round(phase(s, 60), 3) for s in range(600)}) > 590


async def test_a_newcomer_is_checked_at_once_then_on_its_slot(world) -> None:
    h = world(roster_check_secs=5)
    h.registry.extractors = [single(h)]
    h.add(1, "https://single.test/a")
    await h.run(10)
    h.add(2, "https://single.test/b")
    await h.run(6)
    assert len(h.script.checks_of("b")) == 1
    assert h.outcomes(2) == ["offline"]


# --- change-only signalling -----------------------------------------------------------


async def test_only_changes_are_signalled(world) -> None:
    h = world()
    h.registry.extractors = [single(h)]
    h.script.set("a", OFFLINE, OFFLINE, live(), live("renamed"), OFFLINE, OFFLINE)
    h.add(1, "https://single.test/a")
    await h.run(6 * 60)
    assert len(h.script.checks_of("a")) == 6
    assert h.outcomes(1) == ["offline", "live", "offline"]
    went_live = h.told(1)[1]
    assert went_live.title == "on air"
    assert went_live.category == "games"
    assert went_live.source is not None
    assert went_live.source.url == "https://cdn.test/x.m3u8"
    assert went_live.failures == 0


async def test_an_offline_the_projection_already_says_is_not_news(world) -> None:
    h = world()
    h.registry.extractors = [single(h)]
    h.script.set("a", OFFLINE, OFFLINE, live())
    h.script.set("b", OFFLINE)
    h.add(1, "https://single.test/a", settled=True)
    h.add(2, "https://single.test/b", settled=False)  # it shows an error
    await h.run(3 * 60)
    assert h.outcomes(1) == ["live"]
    assert h.outcomes(2) == ["offline"]


async def test_a_restored_progress_is_not_signalled_again(world) -> None:
    h = world()
    h.registry.extractors = [single(h)]
    h.script.set("a", OFFLINE, live())
    h.script.set("b", OFFLINE)
    h.add(1, "https://single.test/a")
    h.add(2, "https://single.test/b")
    h.poller.memory.restore(PollShardProgress(signalled={"offline": [1, 2]}), T0)
    await h.run(120)
    assert h.outcomes(1) == ["live"]
    assert h.outcomes(2) == []


async def test_a_signal_that_failed_is_sent_at_the_next_check(world) -> None:
    h = world()
    h.registry.extractors = [single(h)]
    h.add(1, "https://single.test/a")
    h.refuse = 1
    await h.run(120)
    assert h.outcomes(1) == ["offline"]
    assert len(h.script.checks_of("a")) == 2


async def test_a_persisting_failure_is_repeated_with_its_count(world) -> None:
    h = world(resignal_secs=300)
    h.registry.extractors = [single(h)]
    h.script.set("a", answer(LiveOutcome.UNAVAILABLE, "HTTP 503"))
    h.add(1, "https://single.test/a")
    await h.run(7 * 60)
    told = h.told(1)
    assert [d.repeated for d in told] == [False, True]
    assert told[0].failures == 1
    assert told[0].error == "unavailable: HTTP 503"
    assert told[1].failures >= 5
    assert told[1].failing_since == told[0].failing_since
    assert told[0].transient


async def test_errors_and_fatal_answers_are_values(world) -> None:
    h = world()
    h.registry.extractors = [single(h)]
    h.script.set("a", ExtractorError("missing field data.room"))
    h.script.set("b", answer(LiveOutcome.BANNED, "room 7 is banned"))
    h.add(1, "https://single.test/a")
    h.add(2, "https://single.test/b")
    h.add(3, "https://nowhere.test/c")
    await h.run(61)
    (broken,) = h.told(1)
    assert broken.outcome is LiveOutcome.UNAVAILABLE
    assert broken.error_type == "ExtractorError"
    assert broken.error == "missing field data.room"
    (banned,) = h.told(2)
    assert banned.fatal
    assert banned.error == "banned: room 7 is banned"
    (unsupported,) = h.told(3)
    assert unsupported.outcome is LiveOutcome.NOT_FOUND
    assert unsupported.error_type == "UnsupportedUrlError"


async def test_a_hanging_check_times_out_as_a_transient_failure(world) -> None:
    h = world(check_timeout_secs=0.05)
    h.registry.extractors = [single(h)]
    h.script.set("a", asyncio.Event())
    h.add(1, "https://single.test/a")
    await h.run(61)
    (found,) = h.told(1)
    assert found.outcome is LiveOutcome.UNAVAILABLE
    assert found.error_type == "TimeoutError"


# --- the roster -----------------------------------------------------------------------


async def test_roster_changes_are_followed(world) -> None:
    h = world(roster_check_secs=5)
    h.registry.extractors = [single(h)]
    h.add(1, "https://single.test/a")
    h.add(2, "https://single.test/b")
    await h.run(61)
    assert h.signal_counts() == {1: 1, 2: 1}
    h.remove(2)
    # the workflow projected something (a session ended): tell it afresh
    h.add(1, "https://single.test/a", touched=100)
    await h.run(121)
    assert len(h.script.checks_of("b")) == 1
    assert h.outcomes(1) == ["offline", "offline"]
    # the interval changed: the new cadence applies from now
    h.add(1, "https://single.test/a", interval=20, touched=100)
    before = len(h.script.checks_of("a"))
    await h.run(100)
    assert len(h.script.checks_of("a")) - before >= 4


async def test_roster_is_read_only_when_its_marker_moves(world) -> None:
    h = world(roster_check_secs=5)
    h.registry.extractors = [single(h)]
    reads = 0
    read = h._read

    async def counting():
        nonlocal reads
        reads += 1
        return await read()

    h.poller.read_roster = counting
    h.add(1, "https://single.test/a")
    await h.run(60)
    assert reads == 1
    h.add(2, "https://single.test/b")
    await h.run(10)
    assert reads == 2


# --- batches --------------------------------------------------------------------------


async def test_batch_platforms_are_checked_n_at_a_time_by_options(world) -> None:
    h = world(roster_check_secs=1000)
    batchy = platform("batchy", h.script, batch_size=3, missing=("m",))
    h.registry.extractors = [batchy]
    for n, ref in enumerate(["a", "b", "c", "d", "e", "m"]):
        h.add(n, f"https://batchy.test/{ref}")
    for n, ref in enumerate(["k1", "k2"], start=10):
        h.add(n, f"https://batchy.test/{ref}", options={"cookies": "sid=1"})
    h.script.set("b", live())
    await h.run(1)  # the roster at start: everything due within the interval
    h.poller.schedule = type(h.poller.schedule)()
    for sid in h.entries:
        h.poller.schedule.at(sid, h.clock.now)
    await h.run(1)
    batches = [refs for _, kind, refs in h.script.calls if kind == "batch"]
    assert sorted(len(b) for b in batches) == [2, 3, 3]
    assert {"k1", "k2"} in [set(b) for b in batches]  # other options, own batch
    singles = [refs[0] for _, kind, refs in h.script.calls if kind == "check"]
    # the live one is checked alone for its stream; one the answer left out too
    assert sorted(singles) == ["b", "m"]
    assert h.outcomes(1) == ["live"]
    assert h.told(1)[0].source is not None
    assert h.outcomes(5) == ["offline"]


# --- limits ---------------------------------------------------------------------------


async def test_requests_per_second_are_limited_per_platform(world) -> None:
    h = world(roster_check_secs=1000)
    h.registry.extractors = [single(h, rate=2.0), platform("free", h.script)]
    for sid in range(10):
        h.add(sid, f"https://single.test/s{sid}", interval=3600)
        h.add(100 + sid, f"https://free.test/f{sid}", interval=3600)
    await h.run(0.1)
    for sid in h.entries:
        h.poller.schedule.at(sid, h.clock.now)
    start = h.clock.now
    await h.run(6, step=0.25)
    limited = [t - start for t, _, refs in h.script.calls if refs[0].startswith("s")]
    free = [t - start for t, _, refs in h.script.calls if refs[0].startswith("f")]
    assert len(limited) == 10
    assert sum(1 for t in limited if t < 1.0) <= 4  # a burst of 2, then 2/s
    assert max(limited) >= 3.5
    assert max(free) == 0  # another platform is not held back


async def test_concurrency_is_capped_per_platform(world) -> None:
    h = world(roster_check_secs=1000)
    h.registry.extractors = [single(h, concurrency=2)]
    gate = asyncio.Event()
    for sid in range(6):
        h.add(sid, f"https://single.test/s{sid}")
        h.script.set(f"s{sid}", gate, OFFLINE)
    await h.poller.tick()
    for sid in h.entries:
        h.poller.schedule.at(sid, h.clock.now)
    for _ in range(5):
        await h.poller.tick()
        await asyncio.sleep(0)
    assert h.script.most_in_flight == 2
    gate.set()
    for _ in range(10):
        await h.poller.tick()
        await h.poller.drain()
    assert len(h.script.calls) == 6
    assert h.script.most_in_flight == 2


async def test_retry_after_pauses_the_platform(world) -> None:
    h = world(roster_check_secs=1000)
    h.registry.extractors = [single(h), platform("other", h.script)]
    limited = answer(LiveOutcome.RATE_LIMITED, "HTTP 429", retry_after_secs=90)
    h.script.set("a", limited, OFFLINE)
    h.add(1, "https://single.test/a", interval=10)
    h.add(2, "https://single.test/b", interval=10)
    h.add(3, "https://other.test/c", interval=10)
    await h.run(0.1)
    h.poller.schedule.at(1, h.clock.now)
    await h.run(0.5)
    paused_at = h.clock.now
    await h.run(85)
    during = [t for t, _, refs in h.script.calls if t >= paused_at]
    assert all(refs[0] == "c" for t, _, refs in h.script.calls if t >= paused_at)
    assert len(during) >= 8  # the other platform went on every 10 s
    await h.run(20)
    assert len(h.script.checks_of("a")) >= 2
    assert len(h.script.checks_of("b")) >= 1
    told = h.told(1)
    assert told[0].outcome is LiveOutcome.RATE_LIMITED
    assert told[0].retry_after_secs == 90


# --- metrics --------------------------------------------------------------------------


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_checks_errors_and_detection_delay_are_counted(world) -> None:
    h = world()
    h.registry.extractors = [platform("metered", h.script)]
    started = datetime.fromtimestamp(T0 + 5, UTC)
    went_live = live().model_copy(update={"started_at": started})
    h.script.set("a", OFFLINE, went_live, went_live)
    h.script.set("b", ExtractorError("missing field data.room"))
    before = {
        "checks": sample("srec_live_check_seconds_count", platform="metered"),
        "errors": sample(
            "srec_live_check_errors_total", platform="metered", outcome="unavailable"
        ),
        "delays": sample("srec_detection_delay_seconds_count", platform="metered"),
        "delay_sum": sample("srec_detection_delay_seconds_sum", platform="metered"),
    }
    h.add(1, "https://metered.test/a")
    h.add(2, "https://metered.test/b")
    await h.run(3 * 60)
    checks = len(h.script.checks_of("a")) + len(h.script.checks_of("b"))
    assert checks >= 5
    assert (
        sample("srec_live_check_seconds_count", platform="metered") - before["checks"]
        == checks
    )
    errors = sample(
        "srec_live_check_errors_total", platform="metered", outcome="unavailable"
    )
    assert errors - before["errors"] == len(h.script.checks_of("b"))
    # told live once (the second live answer is no news): from its start to then
    (told,) = [d for d in h.told(1) if d.outcome is LiveOutcome.LIVE]
    delays = sample("srec_detection_delay_seconds_count", platform="metered")
    assert delays - before["delays"] == 1
    delay = sample("srec_detection_delay_seconds_sum", platform="metered")
    assert delay - before["delay_sum"] == pytest.approx(
        (told.checked_at - started).total_seconds()
    )

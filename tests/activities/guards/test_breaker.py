"""Circuit breakers per engine/config, on an injected clock."""

from __future__ import annotations

import pytest

from activities.contracts import EngineKind, StreamKind, StreamSource
from activities.errors import CircuitOpenError
from activities.guards import CircuitBreaker, breaker_key
from activities.guards.breaker import TRIAL_RETRY_SECS
from tests.fakes.clock import FakeClock

KEY = "native:hls:cdn.example.com"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(threshold=3, cooldown_secs=60.0, clock=clock)


def fail(breaker: CircuitBreaker, times: int, key: str = KEY) -> None:
    for _ in range(times):
        breaker.before(key).failed()


def test_the_key_is_engine_transport_and_host() -> None:
    source = StreamSource(url="https://Edge-1.CDN.example/live/a.flv", kind="flv")
    assert breaker_key(EngineKind.FFMPEG, source) == "ffmpeg:flv:edge-1.cdn.example"
    other = StreamSource(url="https://edge-2.cdn.example/a.m3u8", kind=StreamKind.HLS)
    assert breaker_key(EngineKind.FFMPEG, other) != breaker_key(
        EngineKind.FFMPEG, source
    )


def test_opens_after_n_consecutive_failures(breaker, clock) -> None:
    fail(breaker, 2)
    assert breaker.state(KEY) == "closed"
    fail(breaker, 1)
    assert breaker.state(KEY) == "open"
    clock.now += 20
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before(KEY)
    assert caught.value.retry_after_secs == pytest.approx(40.0)
    assert breaker.state("native:hls:elsewhere.example") == "closed"
    breaker.before("native:hls:elsewhere.example").succeeded()  # other keys work


def test_a_success_resets_the_count(breaker) -> None:
    fail(breaker, 2)
    breaker.before(KEY).succeeded()
    fail(breaker, 2)
    assert breaker.state(KEY) == "closed"


def test_attempts_without_a_verdict_do_not_count(breaker) -> None:
    fail(breaker, 2)
    for _ in range(5):
        breaker.before(KEY).finished()  # cancelled, refused by another guard
    assert breaker.state(KEY) == "closed"


def test_half_open_lets_one_trial_through_and_its_success_closes(
    breaker, clock
) -> None:
    fail(breaker, 3)
    clock.now += 60
    assert breaker.state(KEY) == "half-open"
    trial = breaker.before(KEY)
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before(KEY)  # only one attempt while the trial runs
    assert caught.value.retry_after_secs == TRIAL_RETRY_SECS
    trial.succeeded()  # first bytes written
    assert breaker.state(KEY) == "closed"
    breaker.before(KEY).finished()
    trial.finished()


def test_a_failed_trial_reopens_for_a_full_cooldown(breaker, clock) -> None:
    fail(breaker, 3)
    clock.now += 61
    breaker.before(KEY).failed()
    assert breaker.state(KEY) == "open"
    clock.now += 59
    with pytest.raises(CircuitOpenError):
        breaker.before(KEY)
    clock.now += 1
    breaker.before(KEY).succeeded()
    assert breaker.state(KEY) == "closed"


def test_an_abandoned_trial_lets_the_next_caller_try(breaker, clock) -> None:
    fail(breaker, 3)
    clock.now += 60
    breaker.before(KEY).finished()  # e.g. refused a recording slot
    trial = breaker.before(KEY)
    assert trial.trial


def test_a_failure_after_early_success_counts_once(breaker) -> None:
    fail(breaker, 2)
    attempt = breaker.before(KEY)
    attempt.succeeded()
    attempt.succeeded()
    attempt.failed()  # the recording broke after hours: a new run of one
    attempt.failed()
    fail(breaker, 1)
    assert breaker.state(KEY) == "closed"
    fail(breaker, 1)
    assert breaker.state(KEY) == "open"


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(threshold=0)

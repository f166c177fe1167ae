"""The engines' side of URL refresh: one at a time, bounded, counted, ahead of time."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import RecordingStats
from activities.engines.refresh import RefreshPolicy, SourceRefresher, StreamEnded
from activities.errors import (
    ExtractorError,
    RateLimitedError,
    StreamUnavailableError,
)
from tests.fakes.clock import FakeClock

START = 1_700_000_000.0


def source(n: int, expires_in: float | None = None, **kw: object) -> StreamSource:
    expires = (
        datetime.fromtimestamp(START + expires_in, UTC)
        if expires_in is not None
        else None
    )
    return StreamSource.model_validate(
        {
            "url": f"https://cdn{n}.example.com/live.m3u8?token={n}",
            "kind": StreamKind.HLS,
            "headers": {"X-Token": str(n)},
            "expires_at": expires,
            **kw,
        }
    )


class Platform:
    """A refresh hook that hands out numbered sources, or raises what it is told."""

    def __init__(self, expires_in: float | None = None) -> None:
        self.calls = 0
        self.expires_in = expires_in
        self.raises: BaseException | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self, current: StreamSource) -> StreamSource:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.raises is not None:
            raise self.raises
        if self.expires_in is None:
            return source(self.calls)
        # each URL lives `expires_in` longer than the one before
        return source(self.calls, self.expires_in * (self.calls + 1))


def refresher(
    platform: Platform | None,
    first: StreamSource | None = None,
    clock: FakeClock | None = None,
    **policy: object,
) -> SourceRefresher:
    clock = clock or FakeClock()
    return SourceRefresher(
        first or source(0),
        platform,
        RecordingStats(),
        RefreshPolicy(**policy),  # type: ignore[arg-type]
        clock=clock,
        wall=lambda: START + clock(),
    )


async def test_a_refresh_swaps_the_source_and_counts() -> None:
    platform = Platform()
    fresh = refresher(platform)
    got = await fresh.renew("HTTP 403")
    assert got is not None
    assert got.url == "https://cdn1.example.com/live.m3u8?token=1"
    assert fresh.source is got
    assert fresh.generation == 1
    assert fresh.stats.url_refreshes == 1


async def test_concurrent_askers_share_one_refresh() -> None:
    platform = Platform()
    platform.gate = asyncio.Event()
    fresh = refresher(platform)
    askers = [asyncio.create_task(fresh.renew("403", seen=0)) for _ in range(4)]
    await asyncio.sleep(0)
    platform.gate.set()
    got = await asyncio.gather(*askers)
    assert platform.calls == 1
    assert {s.url for s in got if s} == {fresh.source.url}
    # a request that failed on the old URL gets the new one without asking again
    late = await fresh.renew("403", seen=0)
    assert late is fresh.source
    assert platform.calls == 1


async def test_one_askers_cancel_does_not_cancel_the_refresh() -> None:
    platform = Platform()
    platform.gate = asyncio.Event()
    fresh = refresher(platform)
    first = asyncio.create_task(fresh.renew("403"))
    second = asyncio.create_task(fresh.renew("403"))
    await asyncio.sleep(0)
    first.cancel()
    platform.gate.set()
    assert (await second) is not None
    assert fresh.generation == 1


async def test_at_most_n_a_minute(caplog) -> None:
    caplog.set_level(logging.WARNING)
    clock = FakeClock()
    platform = Platform()
    fresh = refresher(platform, clock=clock, max_per_minute=2)
    assert await fresh.renew("a") is not None
    clock.now += 10
    assert await fresh.renew("b") is not None
    clock.now += 10
    assert await fresh.renew("c") is None  # refused, not asked
    assert await fresh.renew("d") is None
    assert platform.calls == 2
    assert sum("refreshes in the last minute" in r.message for r in caplog.records) == 1
    clock.now += 41  # the first one left the minute
    assert await fresh.renew("e") is not None
    assert platform.calls == 3


@pytest.mark.parametrize(
    ("error", "ended"),
    [
        pytest.param(StreamUnavailableError("room 3 is offline"), True, id="offline"),
        pytest.param(
            RateLimitedError("slow down", retry_after_secs=5), False, id="rate-limited"
        ),
        pytest.param(ExtractorError("missing field data"), False, id="changed"),
    ],
)
async def test_what_a_failed_refresh_means(error: Exception, ended: bool) -> None:
    platform = Platform()
    platform.raises = error
    fresh = refresher(platform)
    if ended:
        with pytest.raises(StreamEnded):
            await fresh.renew("403")
        assert fresh.ended
        assert not fresh.available
        with pytest.raises(StreamEnded):  # and stays so, without asking again
            await fresh.renew("403")
        assert platform.calls == 1
    else:
        assert await fresh.renew("403") is None
        assert fresh.available
    assert fresh.generation == 0
    assert fresh.stats.url_refreshes == 0


async def test_another_transport_cannot_continue_the_recording() -> None:
    async def flv_now(current: StreamSource) -> StreamSource:
        return source(1, kind=StreamKind.FLV)

    fresh = SourceRefresher(source(0), flv_now, RecordingStats())
    with pytest.raises(StreamEnded):
        await fresh.renew("403")


async def test_no_hook_no_refresh() -> None:
    fresh = refresher(None)
    assert not fresh.available
    assert await fresh.renew("403") is None
    assert not fresh.due()


async def test_due_a_quarter_of_the_lifetime_before_the_deadline() -> None:
    clock = FakeClock()
    platform = Platform(expires_in=20.0)
    fresh = refresher(platform, source(0, expires_in=20.0), clock)
    clock.now = 14.9
    assert not fresh.due()
    clock.now = 15.0  # 20 s lifetime: 5 s ahead
    assert fresh.due()
    await fresh.renew("deadline")
    assert not fresh.due()


async def test_due_at_most_lead_secs_before_a_long_deadline() -> None:
    clock = FakeClock()
    fresh = refresher(Platform(), source(0, expires_in=3600.0), clock)
    clock.now = 3569.0
    assert not fresh.due()
    clock.now = 3570.0
    assert fresh.due()


async def test_a_refresh_that_brings_no_later_deadline_is_not_repeated_ahead() -> None:
    clock = FakeClock()

    async def same_deadline(current: StreamSource) -> StreamSource:
        return current.model_copy(update={"url": current.url + "&again"})

    fresh = SourceRefresher(
        source(0, expires_in=20.0),
        same_deadline,
        RecordingStats(),
        clock=clock,
        wall=lambda: START + clock(),
    )
    clock.now = 16.0
    assert fresh.due()
    await fresh.renew("deadline")
    clock.now = 100.0
    assert not fresh.due()  # a 403 will still ask
    assert await fresh.renew("403") is not None


async def test_wait_changed_wakes_on_a_new_source_and_on_the_end() -> None:
    platform = Platform()
    fresh = refresher(platform)
    waiter = asyncio.create_task(fresh.wait_changed(0))
    await asyncio.sleep(0)
    assert not waiter.done()
    await fresh.renew("403")
    await asyncio.wait_for(waiter, 1)
    await fresh.wait_changed(0)  # already changed: at once
    platform.raises = StreamUnavailableError("offline")
    ending = asyncio.create_task(fresh.wait_changed(1))
    await asyncio.sleep(0)
    with pytest.raises(StreamEnded):
        await fresh.renew("403")
    await asyncio.wait_for(ending, 1)


async def test_aclose_cancels_a_refresh_in_flight() -> None:
    platform = Platform()
    platform.gate = asyncio.Event()
    fresh = refresher(platform)
    asker = asyncio.create_task(fresh.renew("403"))
    await asyncio.sleep(0)
    await fresh.aclose()
    with pytest.raises(asyncio.CancelledError):
        await asker

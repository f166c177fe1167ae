"""The FLV engine's read pacing: it pauses only once caught up, and never on cancel."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import TYPE_CHECKING

import httpx

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import RecordingStats
from activities.engines.flv import FlvEngine
from tests.fakes.flv_recording import (
    AAC_SEQ,
    AVC_SEQ,
    URL,
    FakeSink,
    av_stream,
    flv_bytes,
    mock_client,
    parse_file,
    plan_in,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

SOURCE = StreamSource(url=URL, kind=StreamKind.FLV)
STREAM = flv_bytes(AVC_SEQ, AAC_SEQ, *av_stream(0, 2))


async def trickle(gap_secs: float, pulls: list[float]) -> AsyncIterator[bytes]:
    """The stream in small pieces, each one `gap_secs` after it is asked for."""
    for i in range(0, len(STREAM), 500):
        pulls.append(time.monotonic())
        await asyncio.sleep(gap_secs)
        yield STREAM[i : i + 500]


async def record(
    tmp_path: Path, body: AsyncIterator[bytes], coalesce_secs: float
) -> tuple[str, FakeSink]:
    sink = FakeSink()
    async with mock_client(lambda _: httpx.Response(200, content=body)) as http:
        reason = await FlvEngine(http, coalesce_secs=coalesce_secs).record(
            SOURCE, plan_in(tmp_path), sink, RecordingStats()
        )
    return reason, sink


async def test_a_read_that_waited_is_followed_by_a_pause(tmp_path: Path) -> None:
    pulls: list[float] = []
    reason, sink = await record(tmp_path, trickle(0.005, pulls), coalesce_secs=0.03)
    assert reason == "ended"
    gaps = [b - a for a, b in itertools.pairwise(pulls)]
    assert min(gaps) >= 0.03
    [closed] = sink.of("closed")
    assert parse_file(closed.path)[1][-1].timestamp > 1900


async def test_bytes_that_are_already_there_are_read_without_pauses(
    tmp_path: Path,
) -> None:
    async def at_once() -> AsyncIterator[bytes]:
        for i in range(0, len(STREAM), 500):
            yield STREAM[i : i + 500]

    started = time.monotonic()
    reason, _ = await record(tmp_path, at_once(), coalesce_secs=30)
    assert reason == "ended"
    assert time.monotonic() - started < 5


async def test_a_cancel_during_a_pause_closes_the_file_at_once(
    tmp_path: Path,
) -> None:
    sink = FakeSink()
    async with mock_client(
        lambda _: httpx.Response(200, content=trickle(0.005, []))
    ) as http:
        task = asyncio.create_task(
            FlvEngine(http, coalesce_secs=30).record(
                SOURCE, plan_in(tmp_path), sink, RecordingStats()
            )
        )
        await asyncio.sleep(0.2)
        started = time.monotonic()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        else:  # pragma: no cover - a failure
            raise AssertionError("the cancel was swallowed")
        assert time.monotonic() - started < 1
    [closed] = sink.of("closed")
    assert closed.path.exists()

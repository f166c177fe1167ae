"""Continuity through what live CDNs do: every variant, every fault, checked with PyAV.

A `LiveOrigin` publishes a real rendition one second at a time (target duration 1 s,
a window of 8) on a virtual clock and misbehaves on schedule. Whatever it does, the
recording must come out as one file holding every segment once, in order: video
timestamps never go back, no gap over 0.5 s, no segment fetched or written twice,
and media covering at least 90 % of the wall time recorded.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import RecordingStats
from activities.engines.hls import HlsEngine
from tests.activities.engines.hls_support import make_plan
from tests.fakes.clock import VirtualClock
from tests.fakes.live_faults import (
    LiveOrigin,
    media_status,
    playlist_status,
    stale,
    stall,
)
from tests.fakes.media_check import video_timeline
from tests.fakes.segment_sink import CheckingSink

if TYPE_CHECKING:
    from pathlib import Path

    from tests.fakes.live_faults import Fault, Variant

END_SECS = 20.0
SCENARIOS: dict[str, list[Fault]] = {
    # the playlist stops advancing for 4 target durations, then jumps ahead
    "stall": [stall(5, 9)],
    # six seconds of reloads answer the window of four seconds earlier
    "older-window": [stale(5, 11, back=4)],
    # every segment answers 503 for five seconds
    "503-burst": [media_status(5, 10, 503)],
    # the playlist answers 404 for three seconds, segments later for two
    "404-bursts": [playlist_status(5, 8, 404), media_status(12, 14, 404)],
    # the last reloads stall; the first fresh one carries ENDLIST
    "stall-then-endlist": [stall(15, 20)],
    # ENDLIST comes while the last segments still answer 503
    "endlist-during-503s": [media_status(17, 22, 503)],
}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("variant", ["ts", "fmp4", "aes"])
async def test_continuous_through_faults(
    tmp_path: Path, live_variants: dict[str, Variant], variant: str, scenario: str
) -> None:
    clock = VirtualClock()
    origin = LiveOrigin(
        live_variants[variant],
        clock=clock,
        end_secs=END_SECS,
        faults=SCENARIOS[scenario],
    )
    sink, stats = CheckingSink(), RecordingStats()
    source = StreamSource(url=origin.url(), kind=StreamKind.HLS)
    async with httpx.AsyncClient(transport=httpx.MockTransport(origin.handle)) as http:
        engine = HlsEngine(http, clock=clock, sleep=clock.sleep)
        reason = await asyncio.wait_for(
            engine.record(source, make_plan(tmp_path), sink, stats), 60
        )
    assert reason == "ended"
    published = origin.published(END_SECS)
    assert sink.markers() == list(range(published))  # each once, in order
    assert sorted(origin.sequences_served()) == list(range(published))
    [recorded] = sink.files()  # the timeline never broke: one file
    assert recorded.path.suffix == f".{live_variants[variant].recorded_ext}"
    timeline = video_timeline([recorded.path])
    assert timeline.largest_gap_secs <= 0.5
    assert timeline.media_secs >= 0.9 * origin.wall_secs()

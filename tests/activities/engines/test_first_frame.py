"""Each segment's start as the native engines report it: the first frame's timestamp
(`first_frame`) and wall clock, what the danmu file of the same index aligns to."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from activities.engines.first_frame import mp4_first_time, ts_first_pts
from tests.activities.engines.hls_support import make_plan, record
from tests.fakes.clock import VirtualClock
from tests.fakes.flv_recording import record_bytes
from tests.fakes.flv_samples import RESOURCES
from tests.fakes.scripted_hls import ScriptedHls, window
from tests.fakes.segment_sink import CheckingSink

if TYPE_CHECKING:
    from pathlib import Path

    from activities.engines.base import SegmentState
    from tests.activities.engines.conftest import HlsMedia


def test_readers_find_each_segments_first_timestamp(hls_media: HlsMedia) -> None:
    ts, fmp4 = hls_media.ts, hls_media.fmp4
    assert fmp4.init is not None
    ts_starts = [ts_first_pts(s) for s in ts.segments]
    mp4_starts = [mp4_first_time(fmp4.init, s) for s in fmp4.segments]
    for starts, durations in ((ts_starts, ts.durations), (mp4_starts, fmp4.durations)):
        assert all(s is not None for s in starts)
        steps = [b - a for a, b in itertools.pairwise(starts)]  # type: ignore[operator]
        # one-second segments, audio and video interleaved from their first frames
        assert steps == pytest.approx(list(durations[:-1]), abs=0.05)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x47" + b"\xff" * 187, id="ts-without-pes"),
        pytest.param(b"not media at all" * 20, id="garbage"),
    ],
)
def test_readers_say_none_when_the_bytes_do_not_tell(data: bytes) -> None:
    assert ts_first_pts(data) is None
    assert mp4_first_time(data, data) is None


class StartSink(CheckingSink):
    """Keeps each opened file's reported start."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[SegmentState] = []

    async def opened(self, segment: SegmentState) -> None:
        self.starts.append(segment)
        await super().opened(segment)


async def test_hls_files_of_one_timeline_tile_the_wall_clock(
    tmp_path: Path, hls_media: HlsMedia
) -> None:
    origin = ScriptedHls()
    for n in range(6):
        origin.file(f"seg{n}.ts", hls_media.ts.segments[n])
    url = origin.playlist("index.m3u8", [window(0, 6, endlist=True)])
    sink = StartSink()
    before = datetime.now(UTC)
    done = await record(
        origin,
        url,
        make_plan(tmp_path, max_duration_secs=2.0),
        VirtualClock(),
        sink=sink,
    )
    assert done.reason == "ended"
    first, *rest = sink.starts
    assert first.started_at is not None
    assert before <= first.started_at <= datetime.now(UTC)
    assert first.media_start_secs == ts_first_pts(hls_media.ts.segments[0])
    for n, segment in enumerate(rest, start=1):
        media = ts_first_pts(hls_media.ts.segments[2 * n])
        assert segment.media_start_secs == media
        assert media is not None
        assert first.media_start_secs is not None
        # arrived in one burst, yet each starts where the media says it does
        step = timedelta(seconds=media - first.media_start_secs)
        assert segment.started_at == first.started_at + step
        assert step.total_seconds() == pytest.approx(2.0 * n, abs=0.05)


async def test_flv_files_report_their_first_tag(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    body = (RESOURCES / "sample.flv").read_bytes()
    _, sink, _ = await record_bytes(tmp_path, body, chunk=4096, max_duration_secs=3)
    opened = [s for kind, s in sink.events if kind == "opened"]
    assert len(opened) == 2
    starts = [s.started_at for s in opened]
    assert all(s is not None and before <= s <= datetime.now(UTC) for s in starts)
    assert starts == sorted(starts)  # type: ignore[type-var]
    # every file's timeline starts at its first tag (the second one rebased)
    assert [s.media_start_secs for s in opened] == [0.0, 0.0]

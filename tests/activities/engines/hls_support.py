"""Running the HLS engine against a scripted origin, for the `test_hls*` modules."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from activities.contracts import StreamKind, StreamSelection, StreamSource
from activities.engines.base import OutputPlan, RecordingStats
from activities.engines.hls import HlsEngine
from activities.media import pyav_check
from tests.fakes.hls_media import check_recording
from tests.fakes.segment_sink import CheckingSink

if TYPE_CHECKING:
    from pathlib import Path

    from tests.fakes.clock import FakeClock
    from tests.fakes.hls_media import Probe, Rendition
    from tests.fakes.scripted_hls import ScriptedHls


def make_plan(tmp_path: Path, **kw: object) -> OutputPlan:
    """Files `out/rec_<index>.<ext>` under `tmp_path`."""
    return OutputPlan(
        path_for=lambda i, ext: tmp_path / "out" / f"rec_{i}.{ext}",
        **kw,  # type: ignore[arg-type]
    )


@dataclass
class Recorded:
    """What one engine run left behind."""

    reason: str
    stats: RecordingStats
    sink: CheckingSink


async def record(
    origin: ScriptedHls,
    url: str,
    plan: OutputPlan,
    clock: FakeClock,
    *,
    sink: CheckingSink | None = None,
    selection: StreamSelection | None = None,
    **engine_kw: object,
) -> Recorded:
    """Run the engine on `url` to its end, on the fake clock."""
    sink = sink or CheckingSink()
    stats = RecordingStats()
    source = StreamSource(
        url=url, kind=StreamKind.HLS, selection=selection or StreamSelection()
    )
    async with origin.client() as http:
        engine = HlsEngine(http, clock=clock, sleep=clock.sleep, **engine_kw)  # type: ignore[arg-type]
        reason = await asyncio.wait_for(engine.record(source, plan, sink, stats), 30)
    return Recorded(reason, stats, sink)


def check_files(
    sink: CheckingSink,
    rendition: Rendition,
    expected: list[list[int]],
    *,
    extinf: float | None = None,
) -> list[Probe]:
    """Each closed file holds exactly the listed segments and plays with PyAV, and
    the streams the engine read from it are those PyAV finds.

    Args:
        sink: what the engine reported.
        rendition: where the segments came from.
        expected: the rendition's segment indices in each file, in order.
        extinf: the playlist's EXTINF of every segment, when it is not the
            rendition's own (a fixture playlist served with real media).

    Returns:
        PyAV's view of each file.
    """
    files = sink.files()
    assert [e.index for e in files] == sorted(e.index for e in files)
    assert len(files) == len(expected), [e.path.name for e in files]
    probes = []
    for event, indices in zip(files, expected, strict=True):
        assert event.path.suffix == f".{rendition.ext}"
        assert event.path.read_bytes() == rendition.joined(*indices)
        listed = [extinf or rendition.durations[i] for i in indices]
        assert event.duration == pytest.approx(sum(listed))
        assert event.streams == pyav_check(event.path).streams
        # each file starts at its first segment; a skipped one shows as a jump
        span = indices[-1] - indices[0] + 1
        probes.append(
            check_recording(
                event.path,
                duration=float(span),
                size=(rendition.width, rendition.height),
            )
        )
    return probes

"""The console display of `srec record`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from activities.engines.base import RecordingStats, SegmentState
from worker.console import Console, ConsoleSink, human_bytes, human_duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


STATS = RecordingStats(bytes_written=3 * 1024**2, media_time_secs=20, segments_closed=1)


def started(
    out: io.StringIO, clock: Clock, *, tty: bool, json: bool = False
) -> Console:
    console = Console(out, clock=clock, tty=tty, json=json)
    console.started(url="http://h/a.m3u8", title="a", kind="hls", engine="native")
    clock.now += 10
    return console


@pytest.mark.parametrize(
    ("size", "text"),
    [
        pytest.param(512, "512 B", id="bytes"),
        pytest.param(1536, "1.5 KiB", id="kib"),
        pytest.param(5 * 1024**3, "5.0 GiB", id="gib"),
        pytest.param(3 * 1024**4, "3072.0 GiB", id="beyond"),
    ],
)
def test_human_bytes(size: int, text: str) -> None:
    assert human_bytes(size) == text


def test_human_duration() -> None:
    assert human_duration(83.9) == "0:01:23"
    assert human_duration(3 * 3600 + 5) == "3:00:05"


async def test_tty_rewrites_the_progress_line_in_place() -> None:
    out, clock = io.StringIO(), Clock()
    console = started(out, clock, tty=True)
    console.progress(STATS)
    console.progress(STATS)
    await ConsoleSink(console).closed(
        SegmentState(index=0, path=Path("/r/a_0.ts"), size_bytes=2048, duration_secs=4)
    )
    text = out.getvalue()
    first, rest = text.split("\n", 1)
    assert first.startswith("recording a (hls, native engine)")
    progress = "recording: 3.0 MiB, media 0:00:20, 1 segment(s), 2.00x"
    # the segment line clears the progress line it replaces
    assert rest == (
        f"\r\x1b[K{progress}\r\x1b[K{progress}"
        "\r\x1b[Ksegment 0: /r/a_0.ts (2.0 KiB, 4.0 s)\n"
    )


async def test_pipe_gets_lines_and_json_gets_objects() -> None:
    out, clock = io.StringIO(), Clock()
    console = started(out, clock, tty=False)
    console.progress(STATS)
    await ConsoleSink(console).closed(SegmentState(index=3, path=Path("/x")))
    console.summary(STATS, "stopped")
    lines = out.getvalue().splitlines()
    assert lines[1] == "recording: 3.0 MiB, media 0:00:20, 1 segment(s), 2.00x"
    assert lines[2] == "segment 3: discarded (empty or under --min-size)"
    assert lines[3] == "stopped: 3.0 MiB, media 0:00:20, 1 segment(s), 2.00x in 0:00:10"

    out = io.StringIO()
    console = started(out, Clock(), tty=True, json=True)
    console.progress(STATS)
    console.summary(STATS, "stream ended")
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["started", "progress", "summary"]
    assert events[1]["speed"] == 2.0
    assert events[2]["reason"] == "stream ended"

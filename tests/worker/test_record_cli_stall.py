"""`srec record` through a live origin whose playlist stalls, and `--stream-timeout`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.fakes.hls_media import render
from tests.fakes.live_faults import LiveOriginServer, Variant, stall
from tests.fakes.media_check import video_timeline
from tests.worker.test_record_cli import Srec, recorded, run_srec

if TYPE_CHECKING:
    from pathlib import Path

# a 12 s stream takes `srec` longer than test_record_cli's patience on a loaded machine
EXIT_SECS = 60


@pytest.fixture(scope="module")
def variant(ffmpeg: Path, tmp_path_factory: pytest.TempPathFactory) -> Variant:
    return Variant("ts", render(ffmpeg, tmp_path_factory.mktemp("ts"), count=20))


def run_until_exit(tmp_path: Path, *args: str) -> Srec:
    srec = Srec(tmp_path, *args)
    try:
        srec.proc.wait(EXIT_SECS)
    finally:
        srec.kill()
    assert "Traceback" not in srec.stderr, srec.stderr
    return srec


def test_a_four_second_stall_is_recorded_through(
    tmp_path: Path, variant: Variant
) -> None:
    out = tmp_path / "out"
    with LiveOriginServer(variant, end_secs=12.0, faults=[stall(4, 8)]) as server:
        srec = run_until_exit(tmp_path, server.url, "--out", str(out))
    assert srec.proc.returncode == 0, srec.stderr
    assert srec.stdout.splitlines()[-1].startswith("stream ended: ")
    [path] = recorded(out)
    timeline = video_timeline([path])
    assert timeline.largest_gap_secs <= 0.5
    assert timeline.media_secs >= 0.9 * server.origin.wall_secs()


def test_stream_timeout_ends_a_longer_stall(tmp_path: Path, variant: Variant) -> None:
    out = tmp_path / "out"
    with LiveOriginServer(variant, end_secs=19.0, faults=[stall(3, 19)]) as server:
        srec = run_until_exit(
            tmp_path, server.url, "--out", str(out), "--stream-timeout", "2s"
        )
        assert not server.ended()
    assert srec.proc.returncode == 0, srec.stderr
    assert srec.stdout.splitlines()[-1].startswith("stream stalled: ")
    [path] = recorded(out)
    assert video_timeline([path]).media_secs >= 3.0


def test_a_stream_timeout_of_zero_is_refused(tmp_path: Path) -> None:
    srec = run_srec(
        tmp_path,
        "http://127.0.0.1:9/x.m3u8",
        *("--stream-timeout", "0", "--out", str(tmp_path / "o")),
    )
    assert srec.proc.returncode == 2
    assert "--stream-timeout must be above 0" in srec.stderr

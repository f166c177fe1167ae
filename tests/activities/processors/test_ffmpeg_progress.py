"""run_ffmpeg's progress: the input is probed only for a job that outlasts a period."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from activities.processors import Tools, ffmpeg
from tests.activities.processors.conftest import Runner

if TYPE_CHECKING:
    from pathlib import Path

# what `-progress pipe:1` writes: a block per period, `progress=end` last; the
# long job's second block waits until the probe has answered
FIRST = "out_time_us=5000000\\nprogress=continue\\n"
LAST = "out_time_us=10000000\\nprogress=end\\n"
LONG = f"printf '{FIRST}'; until [ -e probed ]; do sleep 0.01; done; printf '{LAST}'"
SHORT = f"printf '{LAST}'"


def fake_ffmpeg(tmp_path: Path, script: str) -> Tools:
    exe = tmp_path / "ffmpeg"
    exe.write_text(f"#!/bin/sh\ncd '{tmp_path}'\n{script}\n")
    exe.chmod(0o755)
    return Tools(ffmpeg=exe, rclone=None)


@pytest.mark.parametrize(("script", "probes"), [(LONG, 1), (SHORT, 0)])
async def test_the_input_is_probed_once_the_job_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, probes: int
) -> None:
    probed: list[Path] = []

    async def probe(path: Path) -> float:
        probed.append(path)
        (tmp_path / "probed").touch()
        return 20.0

    monkeypatch.setattr(ffmpeg, "probe_duration", probe)
    run = Runner(root=tmp_path, tools=fake_ffmpeg(tmp_path, script))
    src = tmp_path / "in.ts"

    await ffmpeg.run_ffmpeg(
        run.ctx(), ["-i", str(src)], progress=run.progress, probe=src
    )

    assert probed == [src] * probes
    assert run.reports[-1][0] == pytest.approx(1.0)
    if probes:  # the second block's 10 s of the probed 20
        assert (0.5, "10s of 20s") in run.reports

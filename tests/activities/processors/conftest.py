"""Processor fixtures: small media made by ffmpeg, a recordings root, a step context."""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from activities.pipeline_contracts import PipelineContext
from activities.process import StopTimeouts
from activities.processors import PROCESSORS, StepContext, Tools
from activities.tools import rclone_executable

if TYPE_CHECKING:
    from pathlib import Path

    from activities.pipeline_contracts import StepOutput


@pytest.fixture(scope="session")
def clip(ffmpeg: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of 320x240 H.264 + AAC in MPEG-TS, as a live recording is."""
    path = tmp_path_factory.mktemp("media") / "clip.ts"
    subprocess.run(
        [
            str(ffmpeg), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
            "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


@dataclass
class MemoryLedger:
    done: dict[str, int] = field(default_factory=dict)

    async def uploaded(self, destination: str, size_bytes: int) -> bool:
        return destination in self.done and (
            size_bytes < 0 or self.done[destination] == size_bytes
        )

    async def record(self, destination: str, local_path: str, size_bytes: int) -> None:
        self.done[destination] = size_bytes


@dataclass
class Runner:
    """Runs one processor as the step activity would, recording its progress."""

    root: Path
    tools: Tools
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    reports: list[tuple[float | None, str]] = field(default_factory=list)
    attempt: int = 1

    def ctx(self, trigger: list[Path] | None = None) -> StepContext:
        return StepContext(
            root=self.root,
            context=PipelineContext(
                streamer_id=3,
                streamer="alice",
                platform="faketv",
                session_id=7,
                segment_index=0,
                title="a title",
            ),
            step_id="step",
            attempt=self.attempt,
            trigger=trigger or [],
            tools=self.tools,
            ledger=self.ledger,
            stop=StopTimeouts(interrupt_secs=2, terminate_secs=1, kill_secs=1),
        )

    def progress(self, fraction: float | None, detail: str = "") -> None:
        self.reports.append((fraction, detail))

    async def __call__(
        self,
        name: str,
        inputs: list[Path],
        config: dict[str, Any] | None = None,
        *,
        trigger: list[Path] | None = None,
        log: list[str] | None = None,
    ) -> StepOutput:
        processor = PROCESSORS[name]
        cfg = processor.config_model.model_validate(config or {})
        ctx = self.ctx(trigger)
        out = await processor.run(processor.wanted(inputs), cfg, ctx, self.progress)
        if log is not None:
            log.extend(ctx.log)
        return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "rec"
    path.mkdir()
    return path


@pytest.fixture
def run(root: Path, ffmpeg: Path) -> Runner:
    return Runner(root=root, tools=Tools(ffmpeg=ffmpeg, rclone=rclone_executable()))


@pytest.fixture
def segment(clip: Path, root: Path) -> Path:
    """A copy of the clip as a recorded segment under the root."""
    path = root / "alice" / "alice-0.ts"
    path.parent.mkdir()
    shutil.copyfile(clip, path)
    return path


def top_level_boxes(path: Path) -> list[str]:
    """The types of an MP4 file's top-level boxes, in file order."""
    boxes = []
    with path.open("rb") as fh:
        while header := fh.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", fh.read(8))[0] - 8
            boxes.append(kind.decode())
            fh.seek(size - 8, 1)
    return boxes

"""The shell side of `bench.pipeline`: the segment, its copies, the ffmpeg loop.

`baseline` runs the exact command lines the `remux` processor runs (stream copy to
MP4 with +faststart, progress to a pipe), `slots` at a time by `xargs -P`, each
followed by `rm` of its input as the processor does. `cpu_now` reads the CPU
seconds of this process, its reaped children (ffmpeg) and its live children (the
Temporal dev server).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from activities.processors.ffmpeg import PROGRESS_PERIOD
from activities.processors.remux import RemuxConfig, remux_args

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def children_cpu() -> dict[int, float]:
    """CPU seconds of each live child process (the Temporal dev server)."""
    out: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid():
                out[int(stat.parent.name)] = (
                    int(fields[11]) + int(fields[12])
                ) / CLOCK_TICKS
    return out


def cpu_now() -> tuple[float, float, float]:
    """CPU seconds of this process, its reaped children (ffmpeg) and Temporal."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        me.ru_utime + me.ru_stime,
        kids.ru_utime + kids.ru_stime,
        sum(children_cpu().values()),
    )


def encode(ffmpeg: Path, dest: Path, secs: int) -> None:
    """One segment like a live recording's."""
    subprocess.run(
        [
            str(ffmpeg), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={secs}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={secs}",
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2M", "-g", "60",
            "-c:a", "aac", "-b:a", "128k", "-f", "mpegts", str(dest),
        ],
        check=True,
    )  # fmt: skip


def copies(segment: Path, folder: Path, jobs: int) -> list[Path]:
    folder.mkdir(parents=True)
    out = []
    for i in range(jobs):
        path = folder / f"seg-{i:04d}.ts"
        shutil.copyfile(segment, path)
        out.append(path)
    return out


def command(ffmpeg: Path, src: Path) -> str:
    """The processor's ffmpeg command for `src`, then the input's removal."""
    argv = [
        str(ffmpeg), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-nostats", "-progress", "pipe:1", "-stats_period", PROGRESS_PERIOD,
        *remux_args(src, src.with_suffix(".mp4"), RemuxConfig()),
    ]  # fmt: skip
    return f"{shlex.join(argv)} > /dev/null && rm {shlex.quote(str(src))}"


def baseline(
    ffmpeg: Path, files: list[Path], slots: int, work: Path
) -> tuple[float, float]:
    """Wall seconds of the loop, and the CPU seconds of its ffmpeg and sh."""
    script = work / "commands.txt"
    script.write_text("\n".join(command(ffmpeg, f) for f in files) + "\n")
    started, cpu = time.monotonic(), cpu_now()
    subprocess.run(
        [
            "sh",
            "-c",
            f"xargs -P {slots} -d '\\n' -n 1 sh -c < {shlex.quote(str(script))}",
        ],
        check=True,
    )
    return time.monotonic() - started, cpu_now()[1] - cpu[1]


def check(files: list[Path]) -> None:
    left = [f for f in files if f.exists() or not f.with_suffix(".mp4").is_file()]
    if left:
        raise SystemExit(f"{len(left)} segments were not remuxed, e.g. {left[0]}")

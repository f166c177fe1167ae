"""Running ffmpeg for processors: progress from `-progress pipe:1`, stops that stop.

ffmpeg writes `key=value` lines to stdout every half second (`out_time_us=…`,
`progress=continue|end`); the fraction done is `out_time / duration`, the duration
being the input's (probed with PyAV) or the trimmed length. The program runs in a
`ProcessGroup`, so cancelling the step stops it with the SIGINT → SIGTERM → SIGKILL
ladder.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import av

from activities.process import ProcessGroup
from activities.processors.base import ProcessorError, require

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from activities.processors.base import Progress, StepContext

log = logging.getLogger(__name__)

# ffmpeg's own default is 0.5 s; a second is plenty for a job row
PROGRESS_PERIOD = "1"


def media_duration(path: Path) -> float | None:
    """The duration of a media file in seconds, from its header or an estimate."""
    try:
        with av.open(str(path)) as container:
            if container.duration:
                return float(container.duration) / av.time_base
            spans = [
                float(s.duration * s.time_base)
                for s in container.streams
                if s.duration and s.time_base
            ]
            return max(spans, default=None)
    except (av.error.FFmpegError, OSError) as err:
        log.debug("cannot read the duration of %s: %s", path, err)
        return None


async def probe_duration(path: Path) -> float | None:
    """`media_duration` off the event loop."""
    return await asyncio.to_thread(media_duration, path)


def _out_time(key: str, value: str) -> float | None:
    # out_time_us and (despite its name, also microseconds) out_time_ms
    if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():
        return max(0.0, int(value) / 1_000_000)
    return None


async def run_ffmpeg(
    ctx: StepContext,
    args: Sequence[str],
    *,
    progress: Progress,
    duration_secs: float | None = None,
    probe: Path | None = None,
    what: str = "ffmpeg",
) -> None:
    """Run ffmpeg with `args` (inputs, filters, output) and report its progress.

    Args:
        ctx: the step context (ffmpeg's path, stop timeouts, the job log).
        args: everything after the global options.
        progress: where the fraction done goes.
        duration_secs: the length of the output, for the fraction; None = unknown.
        probe: without `duration_secs`, a file whose duration is measured while
            ffmpeg runs, once it has run a progress period (the probe is not on
            the step's critical path, and a short job never probes).
        what: a short name for messages.

    Raises:
        ProcessorError: ffmpeg is missing or exited non-zero (its stderr tail is
            the message).
    """
    exe = require(ctx.tools.ffmpeg, "ffmpeg", "imageio-ffmpeg")
    argv = [
        str(exe),
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "error",
        "-nostats",
        "-progress",
        "pipe:1",
        "-stats_period",
        PROGRESS_PERIOD,
        *args,
    ]
    # probed only once ffmpeg reports it goes on (after PROGRESS_PERIOD): a short
    # job, most segments' remux, ends before and never opens its input twice
    unknown = probe if duration_secs is None else None
    measuring: asyncio.Future[float | None] | None = None
    async with ProcessGroup(ctx.stop) as group:
        child = await group.spawn(what, argv)
        while raw := await child.stdout.readline():
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            done = _out_time(key, value)
            if unknown is not None and (key, value) == ("progress", "continue"):
                measuring, unknown = (
                    asyncio.ensure_future(probe_duration(unknown)),
                    None,
                )
            if measuring is not None and measuring.done():
                duration_secs, measuring = measuring.result(), None
            if done is not None and duration_secs:
                progress(
                    min(1.0, done / duration_secs),
                    f"{done:.0f}s of {duration_secs:.0f}s",
                )
            elif key == "progress" and value == "end":
                progress(1.0, "done")
        code = await child.wait()
        if measuring is not None:
            await measuring  # a thread cannot be cancelled; it ends soon
        if code != 0:
            ctx.log.extend(child.tail)
            raise ProcessorError(child.describe())

"""burn: draw ASS subtitles (rendered danmaku) into the video with ffmpeg's libass.

It takes the video and the `.ass` file among its inputs (typically from a remux
step and a danmaku step): each video is paired with the subtitle file of the same
stem, or with the only subtitle file there is. The ffmpeg used must be built with
libass (`ffmpeg -filters` lists `ass`); imageio-ffmpeg's static build is.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from activities.pipeline_contracts import Queue, StepOutput
from activities.processors.base import (
    MEDIA_EXTENSIONS,
    Processor,
    ProcessorConfig,
    ProcessorError,
    Progress,
    StepContext,
    check_inputs,
    output_dir,
    part_of,
    write_atomically,
)
from activities.processors.ffmpeg import probe_duration, run_ffmpeg

CODEC = r"^[A-Za-z0-9_-]{1,32}$"
# what ffmpeg says when it was built without libass
NO_LIBASS = "No such filter: 'ass'"


class BurnConfig(ProcessorConfig):
    video_codec: str = Field(default="libx264", pattern=CODEC)
    crf: int = Field(default=23, ge=0, le=63)
    preset: str = Field(default="veryfast", pattern=r"^[a-z]{1,16}$")
    suffix: str = Field(
        default="-danmaku",
        pattern=r"^[A-Za-z0-9_.-]{0,32}$",
        description="Added to the name",
    )
    fonts_dir: str | None = Field(
        default=None,
        max_length=1024,
        description="Extra folder libass reads fonts from (only read, so it may be "
        "anywhere)",
    )
    output_dir: str | None = Field(default=None, max_length=1024)


def filter_path(path: Path) -> str:
    """Quote a path for the filter graph (`ass=filename=...`)."""
    # filter-graph escaping: backslash, quote and the graph's separators
    text = str(path)
    for char in ("\\", "'", ":", ",", ";", "[", "]"):
        text = text.replace(char, "\\" + char)
    return text


def pairs(inputs: list[Path]) -> list[tuple[Path, Path]]:
    """(video, subtitles) pairs: same stem first, else the only subtitle file."""
    videos = [p for p in inputs if p.suffix.lower().lstrip(".") in MEDIA_EXTENSIONS]
    subs = [p for p in inputs if p.suffix.lower() == ".ass"]
    by_stem = {p.stem: p for p in subs}
    out = []
    for video in videos:
        sub = by_stem.get(video.stem) or (subs[0] if len(subs) == 1 else None)
        if sub is None:
            raise ProcessorError(
                f"no subtitle file for {video.name} among the inputs "
                f"({', '.join(p.name for p in subs) or 'none'})"
            )
        out.append((video, sub))
    return out


class Burn(Processor[BurnConfig]):
    name = "burn"
    queue = Queue.CPU
    config_model = BurnConfig
    accepts = MEDIA_EXTENSIONS | {"ass"}

    async def run(
        self,
        inputs: list[Path],
        config: BurnConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        check_inputs(inputs)
        work = pairs(inputs)
        outputs = [
            await self._one(video, sub, config, ctx, part_of(progress, n, len(work)))
            for n, (video, sub) in enumerate(work)
        ]
        return StepOutput(files=[str(p) for p in outputs])

    async def _one(
        self,
        video: Path,
        sub: Path,
        config: BurnConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> Path:
        final = output_dir(ctx, config.output_dir, video.parent) / (
            f"{video.stem}{config.suffix}.mp4"
        )
        graph = f"ass=filename={filter_path(sub)}"
        if config.fonts_dir:
            graph += f":fontsdir={filter_path(Path(config.fonts_dir))}"
        args = ["-i", str(video), "-map", "0:v:0", "-map", "0:a?", "-vf", graph]
        args += ["-c:v", config.video_codec, "-crf", str(config.crf)]
        args += ["-preset", config.preset, "-c:a", "copy", "-movflags", "+faststart"]
        length = await probe_duration(video)

        async def produce(temp: Path) -> None:
            try:
                await run_ffmpeg(
                    ctx, [*args, str(temp)], progress=progress, duration_secs=length
                )
            except ProcessorError as err:
                if NO_LIBASS in str(err):
                    raise ProcessorError(
                        "this ffmpeg has no libass (its `ass` filter is missing): "
                        "install an ffmpeg built with --enable-libass"
                    ) from err
                raise

        return await write_atomically(final, ctx.attempt, produce)

"""thumbnail: one still image of each video, taken by ffmpeg."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from activities.pipeline_contracts import Queue, StepOutput
from activities.processors.base import (
    MEDIA_EXTENSIONS,
    Processor,
    ProcessorConfig,
    Progress,
    StepContext,
    check_inputs,
    output_dir,
    write_atomically,
)
from activities.processors.ffmpeg import probe_duration, run_ffmpeg

# a frame this close to the end may not decode: stay inside the media
END_MARGIN = 0.9


class ThumbnailConfig(ProcessorConfig):
    at_secs: float | None = Field(
        default=None, ge=0, le=7 * 86400, description="Time of the frame; wins"
    )
    at_fraction: float = Field(
        default=0.1, ge=0, le=1, description="Time of the frame as a share of the video"
    )
    width: int = Field(default=640, ge=16, le=7680, description="Pixels; aspect kept")
    format: Literal["jpg", "png", "webp"] = "jpg"
    output_dir: str | None = Field(default=None, max_length=1024)


class Thumbnail(Processor[ThumbnailConfig]):
    name = "thumbnail"
    queue = Queue.CPU
    config_model = ThumbnailConfig
    accepts = MEDIA_EXTENSIONS

    async def run(
        self,
        inputs: list[Path],
        config: ThumbnailConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        check_inputs(inputs)
        outputs: list[str] = []
        for n, src in enumerate(inputs):
            final = output_dir(ctx, config.output_dir, src.parent) / (
                f"{src.stem}.{config.format}"
            )
            length = await probe_duration(src)
            at = config.at_secs
            if at is None:
                at = (length or 0.0) * config.at_fraction
            if length:
                at = min(at, length * END_MARGIN)
            args = ["-ss", f"{at:.3f}", "-i", str(src), "-frames:v", "1"]
            args += ["-vf", f"scale={config.width}:-2", "-update", "1"]
            if config.format == "jpg":
                args += ["-q:v", "3"]

            async def produce(temp: Path, args: list[str] = args) -> None:
                await run_ffmpeg(ctx, [*args, str(temp)], progress=lambda *_: None)

            await write_atomically(final, ctx.attempt, produce)
            outputs.append(str(final))
            progress((n + 1) / len(inputs), final.name)
        return StepOutput(files=outputs)

"""audio: extract the audio track of each video (copied, or encoded)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from activities.pipeline_contracts import Queue, StepOutput
from activities.processors.base import (
    MEDIA_EXTENSIONS,
    Processor,
    ProcessorConfig,
    Progress,
    StepContext,
    check_inputs,
    output_dir,
    part_of,
    write_atomically,
)
from activities.processors.ffmpeg import probe_duration, run_ffmpeg


class AudioConfig(ProcessorConfig):
    codec: Literal["copy", "aac", "libmp3lame", "libopus", "flac"] = Field(
        default="copy", description="copy keeps the stream (AAC for most live streams)"
    )
    format: Literal["m4a", "mp3", "opus", "flac", "mka"] = "m4a"
    bitrate: str | None = Field(default=None, pattern=r"^\d{1,4}[kK]$")
    output_dir: str | None = Field(default=None, max_length=1024)

    @model_validator(mode="after")
    def _bitrate_needs_codec(self) -> AudioConfig:
        if self.codec == "copy" and self.bitrate is not None:
            raise ValueError("bitrate needs a codec, not copy")
        return self


class Audio(Processor[AudioConfig]):
    name = "audio"
    queue = Queue.CPU
    config_model = AudioConfig
    accepts = MEDIA_EXTENSIONS

    async def run(
        self,
        inputs: list[Path],
        config: AudioConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        check_inputs(inputs)
        outputs = [
            await self._one(src, config, ctx, part_of(progress, n, len(inputs)))
            for n, src in enumerate(inputs)
        ]
        return StepOutput(files=[str(p) for p in outputs])

    async def _one(
        self, src: Path, config: AudioConfig, ctx: StepContext, progress: Progress
    ) -> Path:
        final = output_dir(ctx, config.output_dir, src.parent) / (
            f"{src.stem}.{config.format}"
        )
        args = ["-i", str(src), "-map", "0:a:0", "-vn", "-sn", "-dn"]
        args += ["-c:a", config.codec]
        if config.bitrate:
            args += ["-b:a", config.bitrate]
        length = await probe_duration(src)

        async def produce(temp: Path) -> None:
            await run_ffmpeg(
                ctx, [*args, str(temp)], progress=progress, duration_secs=length
            )

        return await write_atomically(final, ctx.attempt, produce)

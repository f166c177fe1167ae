"""remux: change the container (copy), or transcode, with ffmpeg.

Stream copy by default (`video_codec`/`audio_codec` = `copy`); naming an encoder
transcodes, with `crf`, `preset`, `scale` and `fps`. `trim_start_secs` and
`duration_secs` cut. MP4/MOV outputs get `-movflags +faststart`, so the index
(`moov`) sits before the media (`mdat`) and players start at once. The input is
removed once the output is complete (`remove_input`).
"""

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
    finished_before,
    inside,
    output_dir,
    part_of,
    remove_input,
    write_atomically,
)
from activities.processors.ffmpeg import probe_duration, run_ffmpeg

Format = Literal["mp4", "mkv", "mov", "ts", "flv"]
FASTSTART_FORMATS = frozenset({"mp4", "mov"})
CODEC = r"^[A-Za-z0-9_-]{1,32}$"


class RemuxConfig(ProcessorConfig):
    format: Format = Field(default="mp4", description="Output container")
    video_codec: str = Field(
        default="copy", pattern=CODEC, description="copy, or an encoder (libx264, …)"
    )
    audio_codec: str = Field(
        default="copy", pattern=CODEC, description="copy, or an encoder (aac, …)"
    )
    crf: int | None = Field(default=None, ge=0, le=63, description="Quality (x264)")
    preset: str | None = Field(
        default=None, pattern=r"^[a-z]{1,16}$", description="Encoder preset (fast, …)"
    )
    audio_bitrate: str | None = Field(
        default=None, pattern=r"^\d{1,4}[kK]$", description="e.g. 128k"
    )
    scale: str | None = Field(
        default=None,
        pattern=r"^-?\d{1,5}:-?\d{1,5}$",
        description="width:height, -2 keeps the aspect ratio (1280:-2)",
    )
    fps: float | None = Field(default=None, gt=0, le=240)
    trim_start_secs: float | None = Field(default=None, ge=0, le=7 * 86400)
    duration_secs: float | None = Field(default=None, gt=0, le=7 * 86400)
    faststart: bool = Field(default=True, description="moov before mdat (mp4/mov)")
    remove_input: bool = Field(default=True, description="Delete the input on success")
    output_dir: str | None = Field(
        default=None,
        max_length=1024,
        description="Folder under the recordings root (placeholders allowed); "
        "default: the input's folder",
    )

    @model_validator(mode="after")
    def _transcode_options(self) -> RemuxConfig:
        if self.video_codec == "copy" and (
            self.crf is not None
            or self.preset is not None
            or self.scale is not None
            or self.fps is not None
        ):
            raise ValueError("crf, preset, scale and fps need a video_codec, not copy")
        if self.audio_codec == "copy" and self.audio_bitrate is not None:
            raise ValueError("audio_bitrate needs an audio_codec, not copy")
        return self


def remux_args(src: Path, dst: Path, cfg: RemuxConfig) -> list[str]:
    """ffmpeg arguments turning `src` into `dst` as `cfg` says."""
    args: list[str] = []
    if cfg.trim_start_secs:
        args += ["-ss", f"{cfg.trim_start_secs:.3f}"]
    args += ["-i", str(src)]
    if cfg.duration_secs:
        args += ["-t", f"{cfg.duration_secs:.3f}"]
    # data streams (timed ID3 in HLS) do not fit MP4; subtitles only where they can
    args += ["-map", "0:v?", "-map", "0:a?", "-dn"]
    args += ["-c:v", cfg.video_codec, "-c:a", cfg.audio_codec]
    if cfg.crf is not None:
        args += ["-crf", str(cfg.crf)]
    if cfg.preset is not None:
        args += ["-preset", cfg.preset]
    if cfg.audio_bitrate is not None:
        args += ["-b:a", cfg.audio_bitrate]
    filters = []
    if cfg.scale is not None:
        filters.append(f"scale={cfg.scale}")
    if cfg.fps is not None:
        filters.append(f"fps={cfg.fps:g}")
    if filters:
        args += ["-vf", ",".join(filters)]
    if cfg.format in FASTSTART_FORMATS and cfg.faststart:
        args += ["-movflags", "+faststart"]
    return [*args, str(dst)]


class Remux(Processor[RemuxConfig]):
    name = "remux"
    queue = Queue.CPU
    config_model = RemuxConfig
    accepts = MEDIA_EXTENSIONS

    async def run(
        self,
        inputs: list[Path],
        config: RemuxConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        outputs = [
            await self._one(src, config, ctx, part_of(progress, n, len(inputs)))
            for n, src in enumerate(inputs)
        ]
        return StepOutput(files=[str(p) for p in outputs])

    async def _one(
        self, src: Path, config: RemuxConfig, ctx: StepContext, progress: Progress
    ) -> Path:
        final = output_dir(ctx, config.output_dir, src.parent) / (
            f"{src.stem}.{config.format}"
        )
        if finished_before(src, final):
            return final  # an earlier attempt finished, removed the input, then died
        check_inputs([src])
        if config.remove_input:
            inside(ctx.root, src)  # refuse before the work, not after it
        length = config.duration_secs
        if length is None and config.trim_start_secs:
            whole = await probe_duration(src)
            length = max(0.0, whole - config.trim_start_secs) if whole else None

        async def produce(temp: Path) -> None:
            await run_ffmpeg(
                ctx,
                remux_args(src, temp, config),
                progress=progress,
                duration_secs=length,
                probe=src if length is None else None,
                what="ffmpeg remux",
            )

        await write_atomically(final, ctx.attempt, produce)
        if config.remove_input:
            remove_input(src, final)
        return final

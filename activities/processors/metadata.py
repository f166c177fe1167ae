"""metadata: write tags (title, artist, date, comment, …) into media files.

The file is rewritten with stream copy under a temporary name, then renamed over
the original (or beside it, with `output_dir`). Tag values are templates:
`{streamer}`, `{title}`, `{platform}`, `{session_id}`, `{segment_index}` and
strftime codes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from activities.pipeline_contracts import Queue, StepOutput
from activities.processors.base import (
    MEDIA_EXTENSIONS,
    Processor,
    ProcessorConfig,
    Progress,
    StepContext,
    check_inputs,
    inside,
    output_dir,
    render,
    template_values,
    unknown_placeholders,
    write_atomically,
)
from activities.processors.ffmpeg import run_ffmpeg

FASTSTART = frozenset({".mp4", ".mov", ".m4a", ".m4v"})


class MetadataConfig(ProcessorConfig):
    tags: dict[str, str] = Field(
        default_factory=lambda: {"title": "{title}", "artist": "{streamer}"},
        max_length=32,
        description="Tag name -> value template",
    )
    output_dir: str | None = Field(
        default=None, max_length=1024, description="Default: rewrite in place"
    )

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        for key, value in tags.items():
            if not key.isidentifier() or len(key) > 64:
                raise ValueError(f"tag name {key!r} must be a short identifier")
            if len(value) > 1000:
                raise ValueError(f"tag {key} is longer than 1000 characters")
            if unknown := unknown_placeholders(value):
                raise ValueError(f"tag {key} has unknown placeholders: {unknown}")
        return tags


class Metadata(Processor[MetadataConfig]):
    name = "metadata"
    queue = Queue.IO
    config_model = MetadataConfig
    accepts = MEDIA_EXTENSIONS | {"m4a", "mp3", "opus", "flac", "mka"}

    async def run(
        self,
        inputs: list[Path],
        config: MetadataConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        check_inputs(inputs)
        values = template_values(ctx.context, for_path=False)
        outputs: list[str] = []
        for n, src in enumerate(inputs):
            final = output_dir(ctx, config.output_dir, src.parent) / src.name
            if final == src.absolute():
                inside(ctx.root, src)  # rewritten in place: it must be ours
            args = ["-i", str(src), "-map", "0", "-c", "copy"]
            for key, value in config.tags.items():
                args += ["-metadata", f"{key}={render(value, values, ctx.started)}"]
            if src.suffix.lower() in FASTSTART:
                args += ["-movflags", "+faststart"]

            async def produce(temp: Path, args: list[str] = args) -> None:
                await run_ffmpeg(ctx, [*args, str(temp)], progress=lambda *_: None)

            await write_atomically(final, ctx.attempt, produce)
            outputs.append(str(final))
            progress((n + 1) / len(inputs), final.name)
        return StepOutput(files=outputs)

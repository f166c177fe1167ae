"""danmaku: render danmaku XML files into ASS subtitles (our own renderer)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

from pydantic import Field

from activities.pipeline_contracts import Queue, StepOutput
from activities.processors.base import (
    Processor,
    ProcessorConfig,
    ProcessorError,
    Progress,
    StepContext,
    check_inputs,
    output_dir,
    write_atomically,
)
from activities.processors.danmaku_render import Layout, RenderStats, parse, render


class DanmakuConfig(ProcessorConfig):
    width: int = Field(
        default=1920, ge=16, le=7680, description="Video width (PlayResX)"
    )
    height: int = Field(default=1080, ge=16, le=4320, description="PlayResY")
    font: str = Field(default="sans-serif", min_length=1, max_length=100)
    font_size: float = Field(
        default=48.0, ge=4, le=400, description="Pixels of a normal (size 25) comment"
    )
    scroll_secs: float = Field(default=10.0, ge=1, le=60, description="Time to cross")
    fixed_secs: float = Field(default=5.0, ge=1, le=60, description="Top/bottom time")
    opacity: float = Field(default=0.8, ge=0, le=1)
    scroll_area: float = Field(
        default=1.0, gt=0, le=1, description="Share of the height scrolling may use"
    )
    outline: float = Field(default=1.5, ge=0, le=10)
    bold: bool = False
    overflow: Literal["drop", "overlap"] = Field(
        default="drop", description="A comment with no free lane is dropped or overlaps"
    )
    time_offset_secs: float = Field(default=0.0, ge=-86400, le=86400)
    output_dir: str | None = Field(default=None, max_length=1024)

    def layout(self) -> Layout:
        return Layout(
            **self.model_dump(exclude={"output_dir"}),
        )


def convert(src: Path, dest: Path, layout: Layout) -> RenderStats:
    """Render the danmaku XML `src` into the ASS file `dest`."""
    stats = RenderStats()
    try:
        with src.open("rb") as raw, dest.open("w", encoding="utf-8-sig") as out:
            render(parse(raw, stats), layout, out, stats)
    except SyntaxError as err:  # ElementTree's ParseError
        raise ProcessorError(f"{src.name} is not danmaku XML: {err}") from err
    return stats


class Danmaku(Processor[DanmakuConfig]):
    name = "danmaku"
    queue = Queue.CPU
    config_model = DanmakuConfig
    accepts = frozenset({"xml"})

    async def run(
        self,
        inputs: list[Path],
        config: DanmakuConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        check_inputs(inputs)
        outputs: list[str] = []
        layout = config.layout()
        for n, src in enumerate(inputs):
            final = output_dir(ctx, config.output_dir, src.parent) / f"{src.stem}.ass"
            stats = RenderStats()

            async def produce(temp: Path, src: Path = src) -> None:
                nonlocal stats
                stats = await asyncio.to_thread(convert, src, temp, layout)

            await write_atomically(final, ctx.attempt, produce)
            ctx.log.append(
                f"{src.name}: {stats.rendered} comments rendered, "
                f"{stats.dropped} dropped (no free lane), {stats.skipped} skipped"
                + (", file was truncated" if stats.truncated else "")
            )
            outputs.append(str(final))
            progress((n + 1) / len(inputs), final.name)
        return StepOutput(files=outputs)

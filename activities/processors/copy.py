"""copy: copy or move files into a folder under the recordings root."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Literal

from pydantic import Field

from activities.pipeline_contracts import Queue, StepOutput
from activities.processors.base import (
    Processor,
    ProcessorConfig,
    Progress,
    StepContext,
    check_inputs,
    inside,
    output_dir,
    write_atomically,
)


class CopyConfig(ProcessorConfig):
    mode: Literal["copy", "move"] = "copy"
    output_dir: str = Field(
        min_length=1,
        max_length=1024,
        description="Folder under the recordings root (placeholders allowed)",
    )


class Copy(Processor[CopyConfig]):
    name = "copy"
    queue = Queue.IO
    config_model = CopyConfig

    async def run(
        self,
        inputs: list[Path],
        config: CopyConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        outputs: list[str] = []
        for n, src in enumerate(inputs):
            final = output_dir(ctx, config.output_dir, src.parent) / src.name
            if config.mode == "move" and not src.exists() and final.is_file():
                outputs.append(str(final))  # moved by an earlier attempt
                continue
            check_inputs([src])
            if final == src.absolute():
                outputs.append(str(final))
                continue
            if config.mode == "move":
                inside(ctx.root, src)
                if await asyncio.to_thread(_same_device, src, final.parent):
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(src, final)
                    outputs.append(str(final))
                    continue

            async def produce(temp: Path, src: Path = src) -> None:
                await asyncio.to_thread(shutil.copyfile, src, temp)

            await write_atomically(final, ctx.attempt, produce)
            if config.mode == "move":
                src.unlink(missing_ok=True)
            outputs.append(str(final))
            progress((n + 1) / len(inputs), final.name)
        return StepOutput(files=outputs)


def _same_device(src: Path, folder: Path) -> bool:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return src.stat().st_dev == probe.stat().st_dev

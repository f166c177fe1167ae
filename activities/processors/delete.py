"""delete: remove files the pipeline produced or was given, never anything else.

It deletes its inputs (the outputs of the steps it depends on) and, with
`targets: trigger|both`, the pipeline's own input files: nothing a user could name
by path, and only inside the recordings root. Deleting is idempotent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from activities.pipeline_contracts import Queue, StepOutput
from activities.processors.base import (
    Processor,
    ProcessorConfig,
    Progress,
    StepContext,
    inside,
)


class DeleteConfig(ProcessorConfig):
    targets: Literal["inputs", "trigger", "both"] = Field(
        default="inputs",
        description="inputs: what the dependencies produced; trigger: the "
        "pipeline's own files",
    )
    extensions: list[str] | None = Field(
        default=None,
        max_length=32,
        description="Only files with these extensions (no dot); default all",
    )


class Delete(Processor[DeleteConfig]):
    name = "delete"
    queue = Queue.IO
    config_model = DeleteConfig

    async def run(
        self,
        inputs: list[Path],
        config: DeleteConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        chosen: list[Path] = []
        if config.targets in ("inputs", "both"):
            chosen += inputs
        if config.targets in ("trigger", "both"):
            chosen += ctx.trigger
        if config.extensions is not None:
            wanted = {e.lower().lstrip(".") for e in config.extensions}
            chosen = [p for p in chosen if p.suffix.lower().lstrip(".") in wanted]
        unique = list(dict.fromkeys(inside(ctx.root, p) for p in chosen))
        for n, path in enumerate(unique):
            existed = path.exists()
            path.unlink(missing_ok=True)
            ctx.log.append(f"deleted {path}" if existed else f"{path} was already gone")
            progress((n + 1) / len(unique), path.name)
        return StepOutput()

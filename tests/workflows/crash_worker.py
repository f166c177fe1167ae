"""A step worker that dies mid-step, for the crash test (run as a subprocess).

    python -m tests.workflows.crash_worker <address> <queue> <db-url> <root> <dir>

It serves `pipeline.run_step` with the `crashy` processor (`CrashyProcessor`), which
writes half of its output under the temporary name and, the first time only (a
marker file in <dir> remembers), kills its own process with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import ClassVar

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.db import make_engine
from activities.pipeline import PipelineActivities
from activities.pipeline_contracts import Queue, StepOutput
from activities.processors import (
    Processor,
    ProcessorConfig,
    Progress,
    StepContext,
    Tools,
)
from activities.processors.base import write_atomically


class CrashyConfig(ProcessorConfig):
    pass


class CrashyProcessor(Processor[CrashyConfig]):
    """Copies each input to `<stem>.out`; dies halfway the first time ever."""

    name = "crashy"
    queue: ClassVar[Queue] = Queue.CPU
    config_model = CrashyConfig

    def __init__(self, state: Path) -> None:
        self.state = state

    async def run(
        self,
        inputs: list[Path],
        config: CrashyConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        outputs = []
        for src in inputs:
            final = src.with_suffix(".out")

            async def produce(temp: Path, src: Path = src, final: Path = final) -> None:
                data = src.read_bytes()
                temp.write_bytes(data[: len(data) // 2])
                marker = self.state / "crashed"
                if not marker.exists():
                    marker.touch()
                    os.kill(os.getpid(), signal.SIGKILL)
                temp.write_bytes(data)
                with (self.state / "effects").open("a") as fh:
                    fh.write(f"{final.name} by attempt {ctx.attempt}\n")

            outputs.append(str(await write_atomically(final, ctx.attempt, produce)))
        return StepOutput(files=outputs)


async def serve(address: str, queue: str, db_url: str, root: str, state: str) -> None:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    acts = PipelineActivities(
        make_engine(db_url),
        Path(root),
        tools=Tools(),
        processors={"crashy": CrashyProcessor(Path(state))},
        progress_every=0.1,
    )
    async with Worker(client, task_queue=queue, activities=[acts.run_step]):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(*sys.argv[1:6]))

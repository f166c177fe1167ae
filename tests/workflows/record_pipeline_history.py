"""Record one segment `PipelineWorkflow` history for the replay tests.

    .venv/bin/python -m tests.workflows.record_pipeline_history SHAPE OUT.json

Runs this checkout's `PipelineWorkflow` on the time-skipping test server with the
real run and job rows (SQLite) around a fake processor (`pipeline_fakes`), as a
segment's run (`seg`, a session and an index, so the triggers' `after_run` runs),
into one of two shapes:

* `complete`: one step, run to its end (the events, the rows, the pair check);
* `running`: cut off while its step runs, as a run is when its worker is upgraded.

`tests/workflows/test_record_history.py` records both with today's code and replays
them, so the recorder keeps working.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory

from tests.temporal import start_time_skipping_server
from tests.workflows.pipeline_fakes import Harness, harness

STEP = "remux"
TASK = "EVENT_TYPE_WORKFLOW_TASK_"
SHAPES = ("complete", "running")


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(400):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the run never reached its shape")


def waiting(history: WorkflowHistory) -> bool:
    """No workflow task open: the last one completed (markers and commands may
    follow it), and the workflow waits on its step."""
    tasks = [e for e in history.events if EventType.Name(e.event_type).startswith(TASK)]
    return bool(tasks) and tasks[-1].HasField(
        "workflow_task_completed_event_attributes"
    )


async def _run(h: Harness, shape: str) -> WorkflowHistory:
    if shape == "running":
        h.world.gates[STEP] = asyncio.Event()
    inp = h.pipeline((STEP, [])).model_copy(update={"kind": "seg"})
    handle: WorkflowHandle[Any, Any] = await h.start(inp)
    if shape == "complete":
        await handle.result()
        return await handle.fetch_history()

    async def step_runs() -> bool:
        history = await handle.fetch_history()
        return h.world.calls[STEP] == 1 and waiting(history)

    await _until(step_runs)
    history = await handle.fetch_history()
    await handle.terminate("recorded")
    return history


async def record(shape: str) -> WorkflowHistory:
    """Run one segment pipeline into `shape` on a time-skipping server of its own."""
    env = await start_time_skipping_server()
    async with env:
        with tempfile.TemporaryDirectory() as tmp:
            async with harness(env, Path(tmp)) as h:
                return await _run(h, shape)


async def _main(shape: str, out: Path) -> None:
    history = await record(shape)
    out.write_text(history.to_json())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("shape", choices=SHAPES)
    parser.add_argument("out", type=Path)
    parsed = parser.parse_args()
    asyncio.run(_main(parsed.shape, parsed.out))

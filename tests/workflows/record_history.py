"""Record a StreamerWorkflow history for the replay tests (run by hand, not by pytest).

    .venv/bin/python -m tests.workflows.record_history tests/resources/histories/X.json

Runs the workflow of this checkout on the time-skipping test server with the fake
activities of `tests.workflows.fakes` through one whole session: idle (NOT_LIVE),
live, a recording that closes two segments, the stream's end, the grace window, the
session's close and the continue-as-new. The history of that first run is written as
JSON (`WorkflowHistory.to_json`). Recorded before a change to the workflow, it lets
`test_replay.py` prove that running workflows still replay after it.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.worker import Worker

from activities import contracts as c
from tests.temporal import start_time_skipping_server
from tests.workflows.fakes import FakeActivities
from tests.workflows.test_streamer import (
    config,
    eventually,
    segments_closed,
    state_is,
)
from workflows.streamer import StreamerWorkflow

if TYPE_CHECKING:
    from temporalio.testing import WorkflowEnvironment


async def record() -> str:
    """Run one session; return the first run's history as JSON."""
    env = await start_time_skipping_server()
    async with env:
        world = FakeActivities(configs={1: config()}, version="v1")
        workers = [
            Worker(
                env.client,
                task_queue=c.WORKFLOW_TASK_QUEUE,
                workflows=[StreamerWorkflow],
            ),
            Worker(
                env.client,
                task_queue=c.IO_TASK_QUEUE,
                activities=world.all(),
                max_heartbeat_throttle_interval=timedelta(milliseconds=200),
            ),
            Worker(
                env.client,
                task_queue=c.CPU_TASK_QUEUE,
                activities=[world.probe_segment],
            ),
        ]
        async with workers[0], workers[1], workers[2]:
            handle = await env.client.start_workflow(
                StreamerWorkflow.run,
                c.StreamerWorkflowInput(streamer_id=1),
                id=f"{c.streamer_workflow_id(1)}-{uuid.uuid4()}",
                task_queue=c.WORKFLOW_TASK_QUEUE,
            )
            await eventually(lambda: state_is(handle, c.StreamerState.NOT_LIVE))
            await eventually(lambda: world.checks >= 1)
            await handle.signal(c.SIGNAL_CONFIG_CHANGED)
            await eventually(lambda: world.loads >= 2)
            world.version = "v2"  # changed again, and this signal was lost
            await handle.signal(c.SIGNAL_CHECK_NOW)
            await eventually(lambda: world.loads >= 3)
            world.live = True
            await handle.signal(c.SIGNAL_CHECK_NOW)
            await eventually(lambda: state_is(handle, c.StreamerState.LIVE))
            await eventually(
                lambda: segments_closed(handle, world.segments_per_recording)
            )
            world.live = False
            world.stream_end.set()
            await eventually(lambda: not world.stream_end.is_set())
            await env.sleep(70)  # past the 60 s grace window
            await eventually(lambda: len(world.closed) == 1)
            await eventually(
                lambda: _continued(handle.id, handle.first_execution_run_id, env)
            )
            history = await env.client.get_workflow_handle(
                handle.id, run_id=handle.first_execution_run_id
            ).fetch_history()
            await env.client.get_workflow_handle(handle.id).terminate("recorded")
    return history.to_json()


async def _continued(
    workflow_id: str, first_run: str | None, env: WorkflowEnvironment
) -> bool:
    desc = await env.client.get_workflow_handle(workflow_id).describe()
    return bool(desc.run_id != first_run)


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(asyncio.run(record()))

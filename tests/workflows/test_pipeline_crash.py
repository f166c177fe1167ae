"""A worker killed mid-step: the step runs again on another worker, its effect once."""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.db import crud_pipeline, make_engine
from activities.pipeline import PipelineActivities
from activities.pipeline_contracts import (
    PipelineGraph,
    PipelineInput,
    Queue,
    ResolvedStep,
    StepStatus,
)
from activities.processors import Tools
from tests.workflows.crash_worker import CrashyProcessor
from tests.workflows.event_fakes import DbEvents
from tests.workflows.pipeline_fakes import migrated_db
from workflows.pipeline import PipelineWorkflow

if TYPE_CHECKING:
    from collections.abc import Callable

    from temporalio.testing import WorkflowEnvironment

REPO = Path(__file__).parents[2]


async def _worker_lost(env: WorkflowEnvironment, handle: Any) -> None:
    """Fail the dead worker's attempt, as its heartbeat timeout would.

    The test server does not skip time while an attempt is open, so waiting for the
    real timeout would take its full length; what follows it (a retry of the same
    step on a live worker) is the same.
    """
    desc = await handle.describe()
    (pending,) = desc.raw_description.pending_activities
    attempt = env.client.get_async_activity_handle(
        workflow_id=handle.id, run_id=desc.run_id, activity_id=pending.activity_id
    )
    await attempt.fail(ApplicationError("heartbeat timeout: the worker died"))


async def test_a_step_whose_worker_dies_runs_again_once(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    root, state = tmp_path / "rec", tmp_path / "state"
    root.mkdir()
    state.mkdir()
    src = root / "seg.ts"
    src.write_bytes(b"0123456789" * 1000)
    url = f"sqlite:///{migrated_db(tmp_path)}"
    engine = make_engine(url)
    acts = PipelineActivities(
        engine,
        root,
        tools=Tools(),
        processors={"crashy": CrashyProcessor(state)},
        progress_every=0.1,
    )
    wf_q, io_q, cpu_q = (f"crash-{n}-{tmp_path.name}" for n in ("wf", "io", "cpu"))
    address = env.client.service_client.config.target_host
    argv = [sys.executable, "-m", "tests.workflows.crash_worker", address, cpu_q]
    doomed = await asyncio.create_subprocess_exec(
        *argv, url, str(root), str(state), cwd=REPO
    )
    inp = PipelineInput(
        kind="test",
        steps=[ResolvedStep(id="copy", processor="crashy", queue=Queue.CPU)],
        inputs=[str(src)],
        cpu_queue=cpu_q,
        io_queue=io_q,
    )
    store: list[Callable[..., Any]] = [acts.begin_run, acts.mark_steps, acts.finish_run]
    events = DbEvents(engine)
    try:
        with ThreadPoolExecutor(4) as pool:
            async with (
                Worker(
                    env.client,
                    task_queue=wf_q,
                    workflows=[PipelineWorkflow],
                    activities=[*store, events.record_event],
                    activity_executor=pool,
                ),
                Worker(
                    env.client,
                    task_queue=io_q,
                    activities=store,
                    activity_executor=pool,
                ),
                events.worker(env.client),
            ):
                handle = await env.client.start_workflow(
                    PipelineWorkflow.run,
                    inp,
                    id=f"pipeline-test-crash-{tmp_path.name}",
                    task_queue=wf_q,
                )
                # the subprocess takes the step and kills itself halfway through
                assert await asyncio.wait_for(doomed.wait(), 60) == -9
                assert (state / "crashed").exists()
                await _worker_lost(env, handle)
                async with Worker(
                    env.client, task_queue=cpu_q, activities=[acts.run_step]
                ):
                    result: PipelineGraph = await handle.result()
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()

    assert result.status == "COMPLETED"
    out = root / "seg.out"
    assert out.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in root.iterdir()) == ["seg.out", "seg.ts"]
    assert (state / "effects").read_text() == "seg.out by attempt 2\n"
    with Session(engine) as db:
        run = crud_pipeline.get_run_by_workflow(db, handle.id)
        assert run is not None
        assert run.id is not None
        (job,) = crud_pipeline.jobs_of_run(db, run.id)
    assert (job.status, job.attempt) == (StepStatus.COMPLETED, 2)
    engine.dispose()

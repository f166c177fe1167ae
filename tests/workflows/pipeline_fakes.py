"""Fake processors for pipeline workflow tests, and a harness running the real
`PipelineWorkflow` and `PipelineActivities` (job rows in SQLite) around them."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlmodel import Session
from temporalio import activity
from temporalio.worker import Worker

from activities.contracts import ACTIVITY_AFTER_RUN, AfterRunInput, AfterRunResult
from activities.db import crud_pipeline, make_engine, migrate
from activities.pipeline import PipelineActivities
from activities.pipeline_contracts import (
    PipelineContext,
    PipelineInput,
    Queue,
    ResolvedStep,
    StepOutput,
)
from activities.processors import Processor, ProcessorConfig, ProcessorError, Tools
from tests.workflows.event_fakes import DbEvents
from workflows.pipeline import PipelineWorkflow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from temporalio.testing import WorkflowEnvironment

    from activities.db import PipelineJob
    from activities.processors import Progress, StepContext


class FakeConfig(ProcessorConfig):
    pass


@dataclass
class World:
    """What the fake processors do, per step id: fail, wait, report progress."""

    calls: Counter[str] = field(default_factory=Counter)
    inputs: dict[str, list[str]] = field(default_factory=dict)
    fail: dict[str, str] = field(default_factory=dict)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    progress: dict[str, float] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    after_runs: list[AfterRunInput] = field(default_factory=list)

    @activity.defn(name=ACTIVITY_AFTER_RUN)
    async def after_run(self, inp: AfterRunInput) -> AfterRunResult:
        """The triggers' pair check of a segment run: only counted here."""
        self.after_runs.append(inp)
        return AfterRunResult()


class Fake(Processor[FakeConfig]):
    """Outputs `<step>.out`; fails, waits or reports progress as `world` says."""

    name = "fake"
    queue: ClassVar[Queue] = Queue.CPU
    config_model = FakeConfig

    def __init__(self, world: World) -> None:
        self.world = world

    async def run(
        self,
        inputs: list[Path],
        config: FakeConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        world, sid = self.world, ctx.step_id
        world.calls[sid] += 1
        world.inputs[sid] = [p.name for p in inputs]
        if sid in world.progress:
            progress(world.progress[sid], "halfway")
        gate = world.gates.get(sid)
        try:
            if gate is not None:
                await gate.wait()
        except asyncio.CancelledError:
            world.cancelled.append(sid)
            raise
        if sid in world.fail:
            raise ProcessorError(world.fail[sid])
        return StepOutput(files=[f"/rec/{sid}.out"])


class FakeIo(Fake):
    name = "fake-io"
    queue = Queue.IO


@dataclass
class Harness:
    env: WorkflowEnvironment
    world: World
    db: Any
    wf_queue: str
    cpu_queue: str
    io_queue: str
    events: DbEvents

    def pipeline(
        self, *steps: tuple[str, list[str]], io: frozenset[str] = frozenset()
    ) -> PipelineInput:
        return PipelineInput(
            kind="test",
            steps=[
                ResolvedStep(
                    id=sid,
                    processor="fake-io" if sid in io else "fake",
                    queue=Queue.IO if sid in io else Queue.CPU,
                    depends_on=deps,
                )
                for sid, deps in steps
            ],
            inputs=["/rec/seg0.ts"],
            context=PipelineContext(streamer="alice", session_id=7, segment_index=0),
            cpu_queue=self.cpu_queue,
            io_queue=self.io_queue,
        )

    async def start(self, inp: PipelineInput) -> Any:
        return await self.env.client.start_workflow(
            PipelineWorkflow.run,
            inp,
            id=f"pipeline-test-{uuid.uuid4().hex[:8]}",
            task_queue=self.wf_queue,
        )

    def jobs(self, workflow_id: str) -> dict[str, PipelineJob]:
        with Session(self.db) as db:
            run = crud_pipeline.get_run_by_workflow(db, workflow_id)
            assert run is not None
            assert run.id is not None
            return {j.step_id: j for j in crud_pipeline.jobs_of_run(db, run.id)}

    def run_row(self, workflow_id: str) -> Any:
        with Session(self.db) as db:
            return crud_pipeline.get_run_by_workflow(db, workflow_id)


def migrated_db(folder: Path) -> Path:
    """A migrated SQLite file, to be copied by each test (migrating takes a while)."""
    path = folder / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@contextlib.asynccontextmanager
async def harness(
    env: WorkflowEnvironment, tmp_path: Path, template: Path | None = None
) -> AsyncIterator[Harness]:
    """Workers for the workflow and both step queues, on fresh queue names."""
    db_path = tmp_path / "srec.db"
    if template is not None:
        shutil.copyfile(template, db_path)
    engine = make_engine(f"sqlite:///{db_path}")
    if template is None:
        migrate(engine)
    world = World()
    acts = PipelineActivities(
        engine,
        tmp_path,
        tools=Tools(),
        processors={"fake": Fake(world), "fake-io": FakeIo(world)},
        progress_every=0.05,
    )
    wf, cpu, io = (f"q-{uuid.uuid4().hex[:8]}" for _ in range(3))
    h = Harness(env, world, engine, wf, cpu, io, DbEvents(engine))
    methods: list[Callable[..., Any]] = [
        acts.begin_run,
        acts.run_step,
        acts.mark_steps,
        acts.finish_run,
    ]
    fast = timedelta(milliseconds=100)
    with ThreadPoolExecutor(8) as pool:
        workers = [
            Worker(
                env.client,
                task_queue=h.wf_queue,
                workflows=[PipelineWorkflow],
                activities=[*methods, world.after_run, h.events.record_event],
                activity_executor=pool,
            ),
            *(
                Worker(
                    env.client,
                    task_queue=q,
                    activities=methods,
                    activity_executor=pool,
                    max_heartbeat_throttle_interval=fast,
                    default_heartbeat_throttle_interval=fast,
                )
                for q in (h.cpu_queue, h.io_queue)
            ),
            h.events.worker(env.client),
        ]
        async with contextlib.AsyncExitStack() as stack:
            for w in workers:
                await stack.enter_async_context(w)
            yield h
    engine.dispose()

"""A harness for the trigger tests: the real triggers, planner, `PipelineWorkflow`
and `SessionCompleteWorkflow` (rows in SQLite) around fake processors.

The fakes write `<input name>.<processor>.out` beside each input; `fake-video`
takes video files and removes them (as remux does), `fake-xml` takes danmu files,
`fake-any` takes every file. A processor waits while `world.gates` holds a closed
event for its input's name, so a test decides when a segment's run finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlmodel import Session
from temporalio import activity
from temporalio.worker import Worker

from activities.contracts import MediaStream, RunKind, trigger_workflow_id
from activities.db import (
    Streamer,
    StreamSession,
    crud,
    crud_danmu,
    crud_pipeline,
    crud_sessions,
    make_engine,
)
from activities.engines.base import SegmentState
from activities.pipeline import PipelineActivities
from activities.pipeline_contracts import Queue, StepOutput
from activities.pipeline_triggers import PipelineTriggers, TriggerActivities
from activities.processors import Processor, ProcessorConfig, Tools
from activities.processors.base import MEDIA_EXTENSIONS
from activities.segments import SegmentRows
from activities.triggers import Planner
from tests.workflows.event_fakes import DbEvents
from tests.workflows.trigger_parent import (
    CloseThenContinueWorkflow,
    RecordSessionInput,
    RecordSessionWorkflow,
)
from workflows.pipeline import PipelineWorkflow
from workflows.session_complete import SessionCompleteWorkflow

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    import sqlalchemy as sa
    from temporalio.testing import WorkflowEnvironment

    from activities.db import PipelineRun
    from activities.processors import Progress, StepContext

VIDEO = [MediaStream(kind="video", codec="h264")]


class FakeConfig(ProcessorConfig):
    pass


@dataclass
class World:
    calls: Counter[str] = field(default_factory=Counter)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    inputs: dict[str, list[str]] = field(default_factory=dict)


class FileFake(Processor[FakeConfig]):
    name: ClassVar[str] = "fake-any"
    queue: ClassVar[Queue] = Queue.CPU
    config_model = FakeConfig
    removes = False

    def __init__(self, world: World) -> None:
        self.world = world

    async def run(
        self,
        inputs: list[Path],
        config: FakeConfig,
        ctx: StepContext,
        progress: Progress,
    ) -> StepOutput:
        del config, progress
        if not inputs:
            return StepOutput()
        key = f"{ctx.context.segment_index}:{ctx.step_id}"
        self.world.calls[key] += 1
        self.world.inputs[key] = sorted(p.name for p in inputs)
        for path in inputs:
            gate = self.world.gates.get(path.name)
            if gate is not None:
                await gate.wait()
        outputs = []
        for path in inputs:
            out = path.with_name(f"{path.name}.{self.name}.out")
            out.write_text("done")
            outputs.append(str(out))
            if self.removes:
                path.unlink()
        return StepOutput(files=outputs)


class VideoFake(FileFake):
    name = "fake-video"
    accepts = MEDIA_EXTENSIONS
    removes = True


class XmlFake(FileFake):
    name = "fake-xml"
    queue = Queue.IO
    accepts = frozenset({"xml"})


def step(sid: str, processor: str, *deps: str) -> dict[str, Any]:
    return {"id": sid, "processor": processor, "depends_on": list(deps)}


def spec(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"steps": list(steps)}


@dataclass
class Harness:
    env: WorkflowEnvironment
    world: World
    db: sa.Engine
    root: Path
    triggers: PipelineTriggers
    wf_queue: str
    session_id: int = 0
    streamer_id: int = 0

    def configure(self, **pipelines: dict[str, Any]) -> None:
        """Set the streamer's pipelines (the streamer level of the config)."""
        with Session(self.db) as db:
            row = crud.get_streamer(db, self.streamer_id)
            assert row is not None
            row.settings = dict(pipelines)
            db.add(row)
            db.commit()

    def sink(self, announce: Callable[..., Any] | None = None) -> SegmentRows:
        async def quiet(_: object) -> None:
            return None

        return SegmentRows(self.db, self.session_id, announce or quiet, self.triggers)

    async def record_segment(self, index: int, rows: SegmentRows | None = None) -> Path:
        """Write video `index` and close it through the recording sink."""
        rows = rows or self.sink()
        path = self.root / f"seg{index}.ts"
        path.write_bytes(b"x" * 100)
        state = SegmentState(index=index, path=path, size_bytes=100, streams=VIDEO)
        state.started_at = datetime.now(UTC)
        await rows.opened(state)
        await rows.closed(state)
        return path

    async def close_danmu(self, index: int) -> Path:
        """Write danmu file `index` and close it as the danmu activity does."""
        path = self.root / f"seg{index}.xml"
        path.write_text("<i></i>")

        def write() -> Any:
            with Session(self.db) as db:
                crud_danmu.begin_file(
                    db,
                    session_id=self.session_id,
                    index=index,
                    file_path=str(path),
                    started_at=datetime.now(UTC),
                )
                plan = self.triggers.plan_file(
                    db, RunKind.DANMU, self.session_id, index, str(path)
                )
                crud_danmu.close_file(
                    db, session_id=self.session_id, index=index, message_count=1
                )
                return plan

        plan = await asyncio.to_thread(write)
        await self.triggers.file_closed(self.session_id, index, plan)
        return path

    def close_session(self) -> None:
        with Session(self.db) as db:
            crud_sessions.close_session(db, self.session_id, datetime.now(UTC))

    def run(self, kind: RunKind, index: int | None = None) -> PipelineRun | None:
        with Session(self.db) as db:
            return crud_pipeline.get_run_by_workflow(
                db, trigger_workflow_id(kind, self.session_id, index)
            )

    async def result(self, kind: RunKind, index: int | None = None) -> Any:
        wid = trigger_workflow_id(kind, self.session_id, index)
        return await self.env.client.get_workflow_handle(wid).result()


def new_streamer(db: sa.Engine) -> tuple[int, int]:
    with Session(db) as s:
        streamer = crud.create_streamer(
            s,
            Streamer(
                name="alice", url="https://example.invalid/alice", platform="generic"
            ),
        )
        assert streamer.id is not None
        # run ids name the session: a fresh id per test on the module's server
        session = StreamSession(
            id=uuid.uuid4().int % 10**9,
            streamer_id=streamer.id,
            title="live",
            start_time=datetime.now(UTC),
        )
        s.add(session)
        s.commit()
        assert session.id is not None
        return streamer.id, session.id


@contextlib.asynccontextmanager
async def harness(
    env: WorkflowEnvironment, tmp_path: Path, template: Path
) -> AsyncIterator[Harness]:
    """Workers for the workflows and both step queues, on fresh queue names."""
    db_path = tmp_path / "srec.db"
    shutil.copyfile(template, db_path)
    engine = make_engine(f"sqlite:///{db_path}")
    root = tmp_path / "rec"
    root.mkdir()
    world = World()
    fakes: dict[str, Processor[Any]] = {
        f.name: f for f in (FileFake(world), VideoFake(world), XmlFake(world))
    }
    wf, cpu, io = (f"q-{uuid.uuid4().hex[:8]}" for _ in range(3))
    planner = Planner(root, processors=fakes, cpu_queue=cpu, io_queue=io)
    triggers = PipelineTriggers(
        engine, planner, client=lambda: env.client, task_queue=wf
    )
    h = Harness(env, world, engine, root, triggers, wf)
    h.streamer_id, h.session_id = new_streamer(engine)
    steps = PipelineActivities(engine, root, tools=Tools(), processors=fakes)
    trig = TriggerActivities(triggers)

    @activity.defn(name="test.record_segments")
    async def record_segments(inp: RecordSessionInput) -> int:
        rows = h.sink()
        for index in range(inp.segments):
            await h.record_segment(index, rows)
        return inp.segments

    events = DbEvents(engine)
    local: list[Callable[..., Any]] = [
        steps.begin_run,
        steps.mark_steps,
        steps.finish_run,
        trig.after_run,
        trig.session_check,
        events.record_event,
    ]
    with ThreadPoolExecutor(8) as pool:
        workers = [
            Worker(
                env.client,
                task_queue=wf,
                workflows=[
                    PipelineWorkflow,
                    SessionCompleteWorkflow,
                    CloseThenContinueWorkflow,
                    RecordSessionWorkflow,
                ],
                activities=[*local, record_segments],
                activity_executor=pool,
            ),
            *(
                Worker(
                    env.client,
                    task_queue=q,
                    activities=[steps.run_step],
                    activity_executor=pool,
                )
                for q in (cpu, io)
            ),
            events.worker(env.client),
        ]
        async with contextlib.AsyncExitStack() as stack:
            for w in workers:
                await stack.enter_async_context(w)
            yield h
    engine.dispose()

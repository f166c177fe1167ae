"""Pipeline triggers: which run a closed file, a finished pair or a session starts.

`Planner` decides, from the rows and the streamer's effective configuration
(`activities.config.resolve`), and writes the run row (PENDING) of each run it
plans; `PipelineTriggers` starts the planned runs with idempotent ids
(`activities.contracts.trigger_workflow_id`), outside any streamer workflow's
history. Rules:

* A closed, valid video segment gets `pipeline-seg-<s>-<n>` and a closed danmu file
  `pipeline-danmu-<s>-<n>` when a segment pipeline is configured and one of its root
  steps takes the file (`Processor.accepts`): remux or thumbnail roots leave danmu
  files alone, a danmaku → ASS root leaves videos alone, upload or execute roots
  take both. The run row is written before the segment (or danmu) row is closed,
  so whoever sees a closed file without a run row knows that none is coming.
* Pair N (`pipeline-pair-<s>-<n>`) is due when a paired pipeline is configured,
  video N is closed and valid, danmu N is closed, and each side's segment run is
  COMPLETED or was never due. Each side checks after writing its own end (the
  file's row, or its run's row): whichever finishes last sees both done. Both may;
  the idempotent id makes the second start a no-op. A failed side run holds its
  pair back until it is retried and completes.
* A pair's inputs are what its sides left: each side's run inputs and the files its
  completed steps wrote, those that still exist (a remux that removed its input
  hands over its MP4), or the file itself when it had no run.

A run whose pipeline no longer validates (a step preset changed since it was
saved) gets a FAILED run row with the problems, never silence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from activities.config.resolve import streamer_config
from activities.contracts import (
    CPU_TASK_QUEUE,
    IO_TASK_QUEUE,
    RunKind,
    trigger_workflow_id,
)
from activities.db import crud_danmu, crud_pipeline, crud_sessions, crud_triggers
from activities.db.crud_pipeline import get_run_by_workflow
from activities.pipeline_contracts import (
    PipelineContext,
    PipelineInput,
    ResolvedStep,
    RunStatus,
)
from activities.pipeline_validate import check_pipeline
from activities.processors import PROCESSORS, Registry

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlmodel import Session

    from activities.contracts import RecordingPolicy
    from activities.db import PipelineRun, Segment
    from activities.db.tables_danmu import DanmuFile
    from activities.pipeline_contracts import PipelineSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPlan:
    """A run to start: its id and input (its row is written, PENDING)."""

    workflow_id: str
    pipeline: PipelineInput


@dataclass(frozen=True)
class About:
    """What every run of a session shares: the streamer's policy, the context."""

    policy: RecordingPolicy
    context: PipelineContext


def takes(steps: Iterable[ResolvedStep], path: str, processors: Registry) -> bool:
    """Whether a root step of the pipeline would process the file at `path`."""
    for step in steps:
        processor = processors.get(step.processor)
        if not step.depends_on and processor and processor.wanted([Path(path)]):
            return True
    return False


def existing(files: Iterable[str]) -> list[str]:
    """The files that are still there, each once, in order."""
    return [f for f in dict.fromkeys(files) if Path(f).is_file()]


def input_of(run: PipelineRun) -> PipelineInput:
    """The input a run row was planned with (to start a PENDING run again)."""
    return PipelineInput(
        kind=run.kind,
        steps=[ResolvedStep.model_validate(s) for s in run.steps],
        inputs=list(run.inputs),
        context=PipelineContext.model_validate(run.context),
        cpu_queue=run.queues.get("cpu", CPU_TASK_QUEUE),
        io_queue=run.queues.get("io", IO_TASK_QUEUE),
    )


class Planner:
    """Decides the runs a trigger starts and writes their rows (sync: a thread).

    Args:
        root: the recordings root (output folders are checked against it).
        processors: the processor registry (tests pass fakes).
        cpu_queue: the task queue of CPU steps.
        io_queue: the task queue of IO steps.
    """

    def __init__(
        self,
        root: Path,
        *,
        processors: Registry = PROCESSORS,
        cpu_queue: str = CPU_TASK_QUEUE,
        io_queue: str = IO_TASK_QUEUE,
    ) -> None:
        self.root = root
        self.processors = processors
        self.cpu_queue = cpu_queue
        self.io_queue = io_queue

    def about(self, db: Session, session_id: int) -> About | None:
        """The session's streamer policy and context (None: either is gone)."""
        session = crud_sessions.get_session(db, session_id)
        if session is None:
            return None
        resolved = streamer_config(db, session.streamer_id)
        if resolved is None:
            return None
        config = resolved.config
        return About(
            config.policy,
            PipelineContext(
                streamer_id=config.streamer_id,
                streamer=config.name,
                platform=config.platform,
                session_id=session_id,
                title=session.title,
            ),
        )

    def file_closed(
        self, db: Session, kind: RunKind, session_id: int, index: int, path: str
    ) -> RunPlan | None:
        """The segment run of a video (`SEGMENT`) or danmu (`DANMU`) file, if due."""
        about = self.about(db, session_id)
        if about is None or about.policy.segment_pipeline is None:
            return None
        return self._plan(
            db,
            kind,
            about.policy.segment_pipeline,
            [path],
            about.context.model_copy(update={"segment_index": index}),
            take=path,
        )

    def pair(self, db: Session, session_id: int, index: int) -> RunPlan | None:
        """Pair `index`'s run if it is due now (see the module docstring)."""
        about = self.about(db, session_id)
        if about is None or about.policy.paired_pipeline is None:
            return None
        return self.pair_of(
            db,
            about,
            index,
            crud_sessions.get_segment(db, session_id, index),
            crud_danmu.get_file(db, session_id, index),
        )

    def pair_of(
        self,
        db: Session,
        about: About,
        index: int,
        segment: Segment | None,
        danmu: DanmuFile | None,
    ) -> RunPlan | None:
        """`pair` with the rows already read."""
        spec = about.policy.paired_pipeline
        if spec is None or segment is None or danmu is None:
            return None
        if segment.completed_at is None or not segment.valid or danmu.closed_at is None:
            return None
        session_id = segment.session_id
        files: list[str] = []
        for kind, original in (
            (RunKind.SEGMENT, segment.file_path),
            (RunKind.DANMU, danmu.file_path),
        ):
            run = get_run_by_workflow(db, trigger_workflow_id(kind, session_id, index))
            if run is not None and run.status != RunStatus.COMPLETED:
                return None
            files += crud_triggers.files_of_run(db, run) if run else [original]
        context = about.context.model_copy(update={"segment_index": index})
        return self._plan(db, RunKind.PAIR, spec, existing(files), context)

    def session_run(self, db: Session, session_id: int) -> RunPlan | None:
        """The session run, with every file the session's runs left, by index."""
        about = self.about(db, session_id)
        if about is None or about.policy.session_pipeline is None:
            return None
        runs = {
            r.workflow_id: r
            for r in crud_triggers.session_runs(db, session_id, list(RunKind))
        }
        by_index: dict[int, list[tuple[RunKind, str]]] = {}
        for seg in crud_sessions.list_segments(db, session_id):
            if seg.valid:
                by_index.setdefault(seg.index, []).append(
                    (RunKind.SEGMENT, seg.file_path)
                )
        for f in crud_danmu.list_files(db, session_id):
            by_index.setdefault(f.index, []).append((RunKind.DANMU, f.file_path))
        files: list[str] = []
        for index in sorted(by_index):
            for kind, original in by_index[index]:
                run = runs.get(trigger_workflow_id(kind, session_id, index))
                files += crud_triggers.files_of_run(db, run) if run else [original]
            pair = runs.get(trigger_workflow_id(RunKind.PAIR, session_id, index))
            if pair is not None:
                files += crud_triggers.files_of_run(db, pair)
        return self._plan(
            db,
            RunKind.SESSION,
            about.policy.session_pipeline,
            existing(files),
            about.context,
        )

    def _plan(
        self,
        db: Session,
        kind: RunKind,
        spec: PipelineSpec,
        inputs: list[str],
        context: PipelineContext,
        *,
        take: str | None = None,
    ) -> RunPlan | None:
        assert context.session_id is not None
        workflow_id = trigger_workflow_id(
            kind, context.session_id, context.segment_index
        )
        found = get_run_by_workflow(db, workflow_id)
        if found is not None:  # planned before: start it again only if it never ran
            if found.status != RunStatus.PENDING:
                return None
            return RunPlan(workflow_id, input_of(found))
        steps, problems = check_pipeline(
            spec,
            root=self.root,
            step_presets=crud_pipeline.step_presets(db),
            processors=self.processors,
        )
        if problems:
            if kind == RunKind.DANMU:
                return None  # said once, on the video's run
            error = "the configured pipeline does not validate: " + "; ".join(
                ".".join(x for x in (p.step, p.field) if x) + f": {p.message}"
                for p in problems
            )
            log.warning("%s not started: %s", workflow_id, error)
            crud_triggers.refuse_run(
                db,
                workflow_id,
                kind=kind.value,
                context=context.model_dump(mode="json"),
                inputs=inputs,
                error=error,
            )
            return None
        if take is not None and not takes(steps, take, self.processors):
            return None
        inp = PipelineInput(
            kind=kind.value,
            steps=steps,
            inputs=inputs,
            context=context,
            cpu_queue=self.cpu_queue,
            io_queue=self.io_queue,
        )
        crud_pipeline.create_run(db, workflow_id, inp)
        return RunPlan(workflow_id, inp)

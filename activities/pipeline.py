"""Pipeline activities: the run and job rows, and running one step's processor.

`run_step` is registered on both the CPU and the IO queue; the workflow sends each
step to the queue its processor names. While a step runs, a reporter task
heartbeats every `progress_every` seconds (details: the progress), writes the
progress to the job row when it changed, and signals the workflow when it crosses a
tenth, so the run's graph query shows it without a history event per update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from pydantic import ValidationError
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db import crud_pipeline
from activities.engines.base import finish_uncancelled
from activities.errors import RecorderError, to_application_error
from activities.pipeline_contracts import (
    ACTIVITY_BEGIN_RUN,
    ACTIVITY_FINISH_RUN,
    ACTIVITY_MARK_STEPS,
    ACTIVITY_RUN_STEP,
    ERROR_PROCESSOR_CONFIG,
    ERROR_UNKNOWN_PROCESSOR,
    SIGNAL_STEP_PROGRESS,
    BeginRunInput,
    BeginRunResult,
    Done,
    FinishRunInput,
    MarkStepsInput,
    RunStepInput,
    StepOutput,
    StepProgress,
    StepStatus,
)
from activities.process import StopTimeouts
from activities.processors import PROCESSORS, Registry, StepContext, Tools

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from types import TracebackType

    import sqlalchemy as sa

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECS = 2.0
SIGNAL_STEPS = 10  # the workflow hears of progress at each tenth
SIGNAL_TIMEOUT_SECS = 5.0


class DbLedger:
    """`UploadLedger` over the `pipeline_upload` table."""

    def __init__(self, db: sa.Engine, job_id: int) -> None:
        self.db = db
        self.job_id = job_id

    async def uploaded(self, destination: str, size_bytes: int) -> bool:
        def read() -> bool:
            with Session(self.db) as db:
                return crud_pipeline.upload_done(db, destination, size_bytes)

        return await asyncio.to_thread(read)

    async def record(self, destination: str, local_path: str, size_bytes: int) -> None:
        def write() -> None:
            with Session(self.db) as db:
                crud_pipeline.record_upload(
                    db, destination, local_path, size_bytes, self.job_id
                )

        await finish_uncancelled(asyncio.to_thread(write))


class StepReporter:
    """A running step's progress: heartbeats, the job row, workflow signals.

    Processors call it (`Progress`); its task never blocks on the DB or Temporal:
    a row write or a signal in flight is not waited for by the next heartbeat.
    """

    def __init__(
        self,
        db: sa.Engine,
        inp: RunStepInput,
        every_secs: float,
        started: asyncio.Future[None],
    ) -> None:
        self.db = db
        self.started = started
        self.inp = inp
        self.every_secs = every_secs
        self.fraction: float | None = None
        self.detail = ""
        self._written: tuple[float | None, str] = (None, "")
        self._signalled = 0
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def __call__(self, fraction: float | None, detail: str = "") -> None:
        if fraction is not None:
            fraction = min(1.0, max(0.0, fraction))
        self.fraction, self.detail = fraction, detail[:500]

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._beat())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._pending:
            # a late progress write must not land after the job's final row
            await asyncio.wait(list(self._pending), timeout=SIGNAL_TIMEOUT_SECS)

    async def _beat(self) -> None:
        while True:
            # not at once: a step shorter than a period (a remux by stream copy of
            # a short segment) costs the server no heartbeat call
            await asyncio.sleep(self.every_secs)
            activity.heartbeat(self.fraction, self.detail)
            now = (self.fraction, self.detail)
            # progress goes on the row once the row says RUNNING
            if now != self._written and not self._pending and self.started.done():
                self._written = now
                self._spawn(asyncio.to_thread(self._write, *now))
            bucket = int((self.fraction or 0.0) * SIGNAL_STEPS)
            if bucket > self._signalled:
                self._signalled = bucket
                self._spawn(self._signal())

    def _spawn(self, aw: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(aw)
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("progress report failed: %s", task.exception())

    def _write(self, fraction: float | None, detail: str) -> None:
        with Session(self.db) as db:
            crud_pipeline.set_job_progress(db, self.inp.job_id, fraction, detail)

    async def _signal(self) -> None:
        handle = activity.client().get_workflow_handle(self.inp.workflow_id)
        await asyncio.wait_for(
            handle.signal(
                SIGNAL_STEP_PROGRESS,
                StepProgress(
                    step_id=self.inp.step.id, progress=self.fraction, detail=self.detail
                ),
            ),
            SIGNAL_TIMEOUT_SECS,
        )


class PipelineActivities:
    """Activities of `PipelineWorkflow`.

    Args:
        db: the app database engine.
        root: the recordings root (processors write nowhere else).
        tools: ffmpeg and rclone.
        processors: the processor registry (tests pass fakes).
        stop: how programs are stopped when a step is cancelled.
        progress_every: seconds between heartbeats and progress writes.
    """

    def __init__(
        self,
        db: sa.Engine,
        root: Path,
        *,
        tools: Tools,
        processors: Registry = PROCESSORS,
        stop: StopTimeouts | None = None,
        progress_every: float = PROGRESS_EVERY_SECS,
    ) -> None:
        self.db = db
        self.root = root
        self.tools = tools
        self.processors = processors
        self.stop = stop or StopTimeouts()
        self.progress_every = progress_every

    @activity.defn(name=ACTIVITY_BEGIN_RUN)
    def begin_run(self, inp: BeginRunInput) -> BeginRunResult:
        """Mark the run running and create (or reset) a job row per step."""
        with Session(self.db) as db:
            run, jobs = crud_pipeline.begin_run(db, inp.workflow_id, inp.pipeline)
            assert run.id is not None
            return BeginRunResult(run_id=run.id, job_ids=jobs)

    @activity.defn(name=ACTIVITY_MARK_STEPS)
    def mark_steps(self, inp: MarkStepsInput) -> Done:
        """Write step states only the workflow knows (cancelled, timed out)."""
        with Session(self.db) as db:
            crud_pipeline.mark_jobs(db, inp.run_id, inp.marks)
        return Done()

    @activity.defn(name=ACTIVITY_FINISH_RUN)
    def finish_run(self, inp: FinishRunInput) -> Done:
        """Write the settled run's status and its steps' final states."""
        with Session(self.db) as db:
            crud_pipeline.finish_run(db, inp.run_id, inp.status, inp.error, inp.marks)
        return Done()

    @activity.defn(name=ACTIVITY_RUN_STEP)
    async def run_step(self, inp: RunStepInput) -> StepOutput:
        """Run one step's processor on its inputs, keeping its job row current.

        Raises:
            ApplicationError: the processor failed (non-retryable when the cause is
                permanent: bad config, missing input, a program's error).
        """
        processor = self.processors.get(inp.step.processor)
        if processor is None:
            raise await self._failed(
                inp,
                f"unknown processor {inp.step.processor!r}",
                ERROR_UNKNOWN_PROCESSOR,
            )
        try:
            config = processor.config_model.model_validate(inp.step.config)
        except ValidationError as err:
            raise await self._failed(
                inp, f"bad config: {err}", ERROR_PROCESSOR_CONFIG
            ) from err
        # the RUNNING row is written while the processor starts: the CPU slot this
        # attempt holds is not spent waiting for the DB
        attempt = activity.info().attempt
        started = asyncio.ensure_future(asyncio.to_thread(self._start, inp, attempt))
        ctx = StepContext(
            root=self.root,
            context=inp.context,
            step_id=inp.step.id,
            attempt=attempt,
            trigger=[Path(p) for p in inp.trigger],
            tools=self.tools,
            ledger=DbLedger(self.db, inp.job_id),
            stop=self.stop,
            started=inp.started or datetime.now(UTC),
        )
        inputs = processor.wanted(Path(p) for p in inp.inputs)
        if len(inputs) < len(inp.inputs):
            ctx.log.append(
                f"{len(inp.inputs) - len(inputs)} input(s) are not for {processor.name}"
            )
        async with StepReporter(self.db, inp, self.progress_every, started) as reporter:
            try:
                output = await processor.run(inputs, config, ctx, reporter)
            except asyncio.CancelledError:
                # a worker shutting down hands the step to another worker: not cancelled
                if not activity.is_worker_shutdown():
                    await finish_uncancelled(
                        self._finish(
                            inp,
                            started,
                            StepStatus.CANCELLED,
                            ctx.log,
                            error="cancelled",
                        )
                    )
                raise
            except RecorderError as err:
                await self._finish(
                    inp, started, StepStatus.FAILED, ctx.log, error=str(err)
                )
                raise to_application_error(err) from err
            except OSError as err:
                # disk full, permissions: worth another attempt
                await self._finish(
                    inp, started, StepStatus.FAILED, ctx.log, error=str(err)
                )
                raise ApplicationError(f"{type(err).__name__}: {err}") from err
        await self._finish(inp, started, StepStatus.COMPLETED, ctx.log, output=output)
        return output

    def _start(self, inp: RunStepInput, attempt: int) -> None:
        with Session(self.db) as db:
            crud_pipeline.start_job(
                db, inp.job_id, inp.inputs, temporal_attempt=attempt
            )

    async def _finish(
        self,
        inp: RunStepInput,
        started: asyncio.Future[None] | None,
        status: StepStatus,
        lines: list[str],
        *,
        error: str | None = None,
        output: StepOutput | None = None,
    ) -> None:
        def write() -> None:
            with Session(self.db) as db:
                crud_pipeline.finish_job(
                    db, inp.job_id, status, output=output, error=error, log=lines
                )

        if started is not None:
            await started  # RUNNING first, then how it ended
        await asyncio.to_thread(write)

    async def _failed(
        self, inp: RunStepInput, message: str, kind: str
    ) -> ApplicationError:
        await self._finish(inp, None, StepStatus.FAILED, [], error=message)
        return ApplicationError(message, type=kind, non_retryable=True)

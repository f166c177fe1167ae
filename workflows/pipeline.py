"""PipelineWorkflow: run a DAG of processor steps, one activity each.

Roots start with the trigger's files; a step starts when every step it depends on
completed, with their outputs (fan-in); several may wait on one (fan-out). A failed
step cancels its dependents and fails the run with its error; independent branches
run to their end. `retry` re-runs failed and cancelled steps with the completed ones'
outputs; `cancel` stops steps; a Temporal cancel stops them all; `graph` shows each
step's state and progress. Once nothing runs, the run row is written, a triggered
run checks its pair (`pipeline_after`), and the workflow returns the graph or fails
on purpose (`PipelineFailed`/`PipelineCancelled`, the graph as details). A retry
after that is a new execution of the id (`pipeline-<kind>-<key>`) with `carried`.
A run begun since `PATCH_LEAN_RUN` writes its events as local activities and asks
no other patch: a segment's run is one of thousands, each event an srec-io task.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities import pipeline_contracts as p
    from activities import pipeline_dag as dag
    from activities.pipeline import PipelineActivities
    from workflows import pipeline_options as o
    from workflows.pipeline_after import after_run

from workflows.pipeline_notify import PipelineEvents, store

if TYPE_CHECKING:
    from temporalio.workflow import ActivityHandle

S = p.StepStatus
LIVE = {S.PENDING, S.RUNNING}


@workflow.defn(name=p.PIPELINE_WORKFLOW_TYPE)
class PipelineWorkflow:
    @workflow.init
    def __init__(self, inp: p.PipelineInput) -> None:
        # built here, not in run, so a query or update that comes first finds it
        self._inp, self._state, self._started = inp, dag.RunState(inp), workflow.now()
        self._handles: dict[str, ActivityHandle[p.StepOutput]] = {}
        self._cancelling: set[str] = set()
        self._run_id, self._changed = 0, False

    @workflow.run
    async def run(self, inp: p.PipelineInput) -> p.PipelineGraph:
        # one patch marker for today's shape: events as local activities, no
        # marker per feature (runs begun before it replay the older commands)
        lean = workflow.patched(o.PATCH_LEAN_RUN)
        self._events = PipelineEvents(inp, local=lean)  # issue 13's events
        begun = await store(
            PipelineActivities.begin_run,
            p.BeginRunInput(workflow_id=workflow.info().workflow_id, pipeline=inp),
        )
        self._run_id, self._jobs = begun.run_id, begun.job_ids
        self._events.started()
        try:
            await self._settle()
        except asyncio.CancelledError:
            self._cancel(dag.select(self._state.status(), None, LIVE))
            await self._settle()
            raise
        await after_run(inp, lean=lean)  # the pair check, the session's wake-up
        graph = self.graph()
        await self._events.finished(graph)
        if graph.status != p.RunStatus.COMPLETED:
            failed = graph.status == p.RunStatus.FAILED
            raise ApplicationError(
                graph.error or "cancelled",
                graph,
                type=p.ERROR_PIPELINE_FAILED if failed else p.ERROR_PIPELINE_CANCELLED,
                non_retryable=True,
            )
        return graph

    async def _settle(self) -> None:
        """Drive until nothing runs, write the run; again if a retry came meanwhile."""
        while True:
            await self._drive()
            graph = self.graph()
            finished = p.FinishRunInput(
                run_id=self._run_id,
                status=graph.status,
                error=graph.error,
                marks=self._state.take_marks(),
            )
            await store(PipelineActivities.finish_run, finished)
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not dag.ready(self._state.deps, self._state.status()):
                return

    async def _drive(self) -> None:
        state = self._state
        while True:
            for sid in dag.blocked(state.deps, state.status()):
                state.set(sid, S.CANCELLED, "a step it depends on did not complete")
            if state.marks and self._handles:
                marks = p.MarkStepsInput(run_id=self._run_id, marks=state.take_marks())
                await store(PipelineActivities.mark_steps, marks)
            for sid in dag.ready(state.deps, state.status()):
                self._launch(state.steps[sid])
            if not self._handles:
                return
            self._changed = False
            await workflow.wait_condition(lambda: self._changed)

    def _launch(self, step: p.ResolvedStep) -> None:
        cpu = step.queue == p.Queue.CPU
        inputs = dag.gather_inputs(
            step.depends_on, self._state.outputs(), self._inp.inputs
        )
        handle = workflow.start_activity_method(
            PipelineActivities.run_step,
            p.RunStepInput(
                workflow_id=workflow.info().workflow_id,
                job_id=self._jobs[step.id],
                step=step,
                inputs=inputs,
                trigger=self._inp.inputs,
                context=self._inp.context,
                started=self._started,
            ),
            task_queue=self._inp.cpu_queue if cpu else self._inp.io_queue,
            start_to_close_timeout=o.CPU_STEP_TIMEOUT if cpu else o.IO_STEP_TIMEOUT,
            heartbeat_timeout=o.STEP_HEARTBEAT_TIMEOUT,
            retry_policy=o.STEP_RETRY,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        self._handles[step.id] = handle
        self._state.running(step.id)
        asyncio.create_task(self._watch(step.id, handle))  # noqa: RUF006 (in _handles)

    async def _watch(self, sid: str, handle: ActivityHandle[p.StepOutput]) -> None:
        try:
            self._state.done(sid, await handle)
        except ActivityError as err:
            cause = err.cause
            if sid in self._cancelling or isinstance(cause, CancelledError):
                self._state.set(sid, S.CANCELLED, "cancelled")
            else:
                text = cause.message if isinstance(cause, ApplicationError) else ""
                self._state.set(sid, S.FAILED, text or str(cause or err))
        finally:
            self._cancelling.discard(sid)
            del self._handles[sid]
            self._changed = True

    def _cancel(self, targets: list[str]) -> None:
        for sid in targets:
            if sid in self._handles:
                self._cancelling.add(sid)
                self._handles[sid].cancel()
            else:
                self._state.set(sid, S.CANCELLED, "cancelled")
        self._changed = True

    @workflow.query(name=p.QUERY_PIPELINE_GRAPH)
    def graph(self) -> p.PipelineGraph:
        """The run's steps with their states, progress, errors and outputs."""
        return self._state.graph(workflow.info().workflow_id, self._run_id)

    @workflow.signal(name=p.SIGNAL_STEP_PROGRESS)
    def step_progress(self, inp: p.StepProgress | None = None) -> None:
        if inp is not None:
            self._state.progress(inp)

    @workflow.update(name=p.UPDATE_PIPELINE_RETRY)
    def retry(self, inp: p.RetryInput) -> p.StepsChanged:
        """Re-run failed/cancelled steps (and what they cancelled) with kept outputs."""
        again = dag.to_retry(self._state.deps, self._state.status(), inp.step_ids)
        for sid in again:
            self._state.reset(sid)
        self._changed = True
        return p.StepsChanged(step_ids=again)

    @retry.validator
    def _check_retry(self, inp: p.RetryInput) -> None:
        if not dag.to_retry(self._state.deps, self._state.status(), inp.step_ids):
            raise ValueError("no failed or cancelled step to retry")

    @workflow.update(name=p.UPDATE_PIPELINE_CANCEL)
    def cancel(self, inp: p.CancelInput) -> p.StepsChanged:
        """Stop running steps and drop pending ones (their dependents follow)."""
        targets = dag.select(self._state.status(), inp.step_ids, LIVE)
        self._cancel(targets)
        return p.StepsChanged(step_ids=targets)

    @cancel.validator
    def _check_cancel(self, inp: p.CancelInput) -> None:
        if not dag.select(self._state.status(), inp.step_ids, LIVE):
            raise ValueError("no pending or running step to cancel")

"""The pipeline workflow's notification events (issue 13), and its row writes.

`PipelineEvents` emits `pipeline_started` once the run row exists and
`pipeline_completed` or `pipeline_failed` once the run has settled (a cancelled run
is the user's own doing: no event), each keyed by the workflow's id and run, so a
replay or a retried activity does not repeat it and a retry of a closed run (a new
execution of the same id) reports again. Behind the `pipeline-events` patch: runs
that passed these points before it replay without the commands. A run of today's
shape (`local`, see `workflows.pipeline`) records them as local activities and
asks no patch.

`store` runs one of the run's row writes as a local activity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import pipeline_contracts as p
    from activities.events import EventType
    from workflows import pipeline_options as o

from workflows.notify import EventEmitter

if TYPE_CHECKING:
    from collections.abc import Callable

    from activities.pipeline import PipelineActivities

PATCH_PIPELINE_EVENTS = "pipeline-events"

I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


async def store(method: Callable[[PipelineActivities, I], R], arg: I) -> R:
    """A run or job row write: local, as it needs no task-queue round trip (half
    the server's CPU)."""
    return await workflow.execute_local_activity_method(
        method,
        arg,
        start_to_close_timeout=o.PIPELINE_STORE_TIMEOUT,
        retry_policy=o.PIPELINE_STORE_RETRY,
    )


class PipelineEvents:
    """The events of one pipeline run (see the module docstring)."""

    def __init__(self, inp: p.PipelineInput, *, local: bool) -> None:
        self._inp = inp
        self._local = local
        self._emitter = EventEmitter(local=local)

    def _emit(self, kind: EventType, summary: str, detail: str = "") -> None:
        if not (self._local or workflow.patched(PATCH_PIPELINE_EVENTS)):
            return
        ctx = self._inp.context
        self._emitter.emit(
            kind,
            f"{workflow.info().run_id}/{kind.value}",
            summary=summary[:1000],
            streamer_id=ctx.streamer_id,
            streamer_name=ctx.streamer[:255],
            session_id=ctx.session_id,
            title=ctx.title[:1000],
            subject=workflow.info().workflow_id[:4096],
            detail=detail[:4000],
        )

    def _what(self) -> str:
        ctx, kind = self._inp.context, self._inp.kind
        part = f" segment {ctx.segment_index}" if ctx.segment_index is not None else ""
        who = f"{ctx.streamer}: " if ctx.streamer else ""
        return f"{who}{kind}{part} pipeline"

    def started(self) -> None:
        """The run row is written: the steps start."""
        summary = f"{self._what()} started ({len(self._inp.steps)} steps)"
        self._emit(EventType.PIPELINE_STARTED, summary)

    async def finished(self, graph: p.PipelineGraph) -> None:
        """The run settled: completed or failed (then its error); wait for both."""
        if graph.status == p.RunStatus.COMPLETED:
            self._emit(EventType.PIPELINE_COMPLETED, f"{self._what()} completed")
        elif graph.status == p.RunStatus.FAILED:
            error = graph.error or "a step failed"
            summary = f"{self._what()} failed: {error}"
            self._emit(EventType.PIPELINE_FAILED, summary, error)
        await self._emitter.drain()

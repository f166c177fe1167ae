"""Tiny parent workflows for the trigger tests (a module of their own: the sandbox
re-imports a workflow's module, and test modules import much a workflow may not).

* `CloseThenContinueWorkflow` stands in for the streamer workflow at a session's
  close: it starts the session's waiter with the one call the streamer workflow
  makes, then continues as new, and its next run ends at once.
* `RecordSessionWorkflow` stands in for the streamer workflow while it records:
  it runs one recording activity and waits for it, as the streamer does.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import RecordingPolicy
    from workflows.session_complete import start_session_pipeline


class CloseInput(BaseModel):
    session_id: int
    policy: RecordingPolicy
    continued: bool = False


@workflow.defn(name="CloseThenContinueWorkflow")
class CloseThenContinueWorkflow:
    @workflow.run
    async def run(self, inp: CloseInput) -> bool:
        if inp.continued:
            return True
        started = await start_session_pipeline(inp.session_id, inp.policy)
        workflow.continue_as_new(inp.model_copy(update={"continued": True}))
        return started  # pragma: no cover (continue_as_new raises)


class RecordSessionInput(BaseModel):
    session_id: int
    segments: int


@workflow.defn(name="RecordSessionWorkflow")
class RecordSessionWorkflow:
    @workflow.run
    async def run(self, inp: RecordSessionInput) -> int:
        closed: int = await workflow.execute_activity(
            "test.record_segments",
            inp,
            result_type=int,
            start_to_close_timeout=timedelta(minutes=20),
        )
        return closed

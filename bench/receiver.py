"""A stand-in streamer workflow that only receives `detected` signals.

Until the streamer workflow is rewritten to wait on the poller, the monitoring
benchmark (and the takeover test) register this class under the streamer workflow's
type name: it waits, keeps every `detected` payload's outcome with the workflow
time it arrived (the workflow task's start, i.e. when the worker saw it), and
answers the `detections` query. It runs no activity and never continues as new:
a few hundred signals of history at most in a benchmark run.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c

QUERY_DETECTIONS = "detections"


class Detection(BaseModel):
    outcome: c.LiveOutcome
    received_at: datetime
    checked_at: datetime
    repeated: bool = False
    error: str | None = None


class Detections(BaseModel):
    items: list[Detection]


@workflow.defn(name=c.STREAMER_WORKFLOW_TYPE)
class DetectionReceiver:
    """Collects `detected` signals (see the module docstring)."""

    def __init__(self) -> None:
        self._items: list[Detection] = []
        self._stop = False

    @workflow.run
    async def run(self, inp: c.StreamerWorkflowInput) -> c.StreamerWorkflowResult:
        del inp
        await workflow.wait_condition(lambda: self._stop)
        return c.StreamerWorkflowResult(reason="stopped")

    @workflow.signal(name=c.SIGNAL_DETECTED)
    def detected(self, inp: c.Detected | None = None) -> None:
        if inp is not None:
            self._items.append(
                Detection(
                    outcome=inp.outcome,
                    received_at=workflow.now(),
                    checked_at=inp.checked_at,
                    repeated=inp.repeated,
                    error=inp.error,
                )
            )

    @workflow.signal(name=c.SIGNAL_STOP)
    def stop(self, inp: c.SignalInput | None = None) -> None:
        del inp
        self._stop = True

    @workflow.query(name=QUERY_DETECTIONS)
    def detections(self) -> Detections:
        return Detections(items=list(self._items))

"""A v1 streamer workflow as the previous release ran it, for the migration test.

The frozen v1 code (`workflows.legacy.streamer_v1`) under the streamer workflow's
type name, never continuing as new onto v2: a worker running this stands in for a
worker of the previous release. In a module of its own: the workflow sandbox
re-imports the module a workflow is defined in.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c

from workflows.legacy.streamer_v1 import LegacyStreamer


class _Unmigrating(LegacyStreamer):
    def _migrate(self) -> bool:
        return False


@workflow.defn(name=c.STREAMER_WORKFLOW_TYPE)
class PreviousReleaseWorkflow:
    """What the previous release registered as `StreamerWorkflow`."""

    def __init__(self) -> None:
        self._impl = _Unmigrating()

    @workflow.run
    async def run(self, inp: c.StreamerWorkflowInput) -> c.StreamerWorkflowResult:
        return await self._impl.run(inp)

    @workflow.signal(name=c.SIGNAL_CHECK_NOW)
    def check_now(self, inp: c.SignalInput | None = None) -> None:
        self._impl.check_now(inp)

    @workflow.query(name=c.QUERY_STATE)
    def state(self) -> c.StateQueryResult:
        return self._impl.state()

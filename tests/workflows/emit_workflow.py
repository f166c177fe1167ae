"""A workflow that emits one transition's event twice, as a buggy decision would.

In a module of its own: the workflow sandbox re-imports the module a workflow is
defined in, and a test module imports much that a workflow may not.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.events import EventType
    from workflows.notify import EventEmitter


@workflow.defn(name="EmitTwiceWorkflow")
class EmitTwiceWorkflow:
    @workflow.run
    async def run(self, streamer_id: int) -> None:
        emitter = EventEmitter()
        for _ in range(2):
            emitter.emit(
                EventType.STREAM_ONLINE,
                "session-1/stream_online",
                summary="alice is live",
                streamer_id=streamer_id,
                streamer_name="alice",
                session_id=1,
            )
        await emitter.drain()

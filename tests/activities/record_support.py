"""What the record activity's tests share: a stand-in for the streamer workflow
that keeps the `segment_closed` signals it gets, and the activity's input and rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session
from temporalio import workflow

from activities.contracts import (
    SIGNAL_SEGMENT_CLOSED,
    RecordInput,
    SegmentClosed,
    StreamSource,
)
from activities.db import crud_sessions
from tests.activities.collecting import (
    collecting,
    queried_until,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import sqlalchemy as sa
    from temporalio.client import WorkflowHandle
    from temporalio.testing import WorkflowEnvironment

SESSION = 11


@workflow.defn(sandboxed=False)
class SegmentCollector:
    """Stands in for the streamer workflow: keeps every `segment_closed` it gets."""

    def __init__(self) -> None:
        self.closed: list[SegmentClosed] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal(name=SIGNAL_SEGMENT_CLOSED)
    def segment_closed(self, inp: SegmentClosed | None = None) -> None:
        if inp is not None:
            self.closed.append(inp)

    @workflow.query
    def segments(self) -> list[SegmentClosed]:
        return self.closed


class Collector:
    """A running `SegmentCollector`: its id, and the signals it has kept."""

    def __init__(self, handle: WorkflowHandle[SegmentCollector, None]) -> None:
        self.handle = handle

    @property
    def workflow_id(self) -> str:
        return self.handle.id

    async def wait_for(self, n: int, limit_secs: float = 10.0) -> list[SegmentClosed]:
        return await queried_until(
            self.handle,
            SegmentCollector.segments,
            lambda got: len(got) >= n,
            limit_secs,
        )


async def start_collector(env: WorkflowEnvironment) -> AsyncIterator[Collector]:
    """Run a `SegmentCollector` for one test (a fixture's body)."""
    async for handle in collecting(env, SegmentCollector, SegmentCollector.run):
        yield Collector(handle)


def record_input(source: StreamSource, workflow_id: str, **kw: Any) -> RecordInput:
    """The input of a recording of streamer 1's session `SESSION`."""
    return RecordInput(
        streamer_id=1,
        streamer_name="alice",
        platform="generic",
        session_id=SESSION,
        session_start=datetime.now(UTC),
        title="test stream",
        source=source,
        workflow_id=workflow_id,
        **kw,
    )


def rows(db: sa.Engine, session_id: int = SESSION) -> list[tuple[int, int, bool]]:
    """(index, size, completed) of each segment row of the session."""
    with Session(db) as s:
        return [
            (r.index, r.size_bytes, r.completed_at is not None)
            for r in crud_sessions.list_segments(s, session_id)
        ]

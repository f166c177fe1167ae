"""The recording activity behind its guards: write gate, breaker and slots.

A scripted engine stands in for the real ones: these tests are about what happens
around the engine, not inside it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session
from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.contracts import (
    ERROR_ENGINE_CIRCUIT_OPEN,
    ERROR_NO_RECORDING_SLOT,
    ERROR_OUTPUT_PATH_INACCESSIBLE,
    EVENT_OUTPUT_PATH_INACCESSIBLE,
    SIGNAL_CHECK_NOW,
    SIGNAL_RECORDING_WAIT,
    EngineKind,
    Priority,
    RecordingWait,
    RecordInput,
    SignalInput,
    StreamKind,
    StreamSource,
    WaitReason,
)
from activities.db import crud, crud_guards, crud_sessions, make_engine, migrate
from activities.engines.base import SegmentState
from activities.errors import OutputPathInaccessibleError, RecorderProcessError
from activities.guards import (
    CircuitBreaker,
    RecordingSlots,
    WriteGate,
    check_now_signaller,
)
from activities.record import RecordingActivities
from tests.activities.collecting import collecting

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    import sqlalchemy as sa
    from temporalio.testing import WorkflowEnvironment

    from activities.engines.base import (
        Engine,
        OutputPlan,
        RecordingStats,
        SegmentSink,
    )
    from activities.engines.refresh import Refresh

SESSION = 7
SOURCE = StreamSource(url="https://cdn.example.com/live/a.m3u8", kind=StreamKind.HLS)


class ScriptedEngine:
    """Writes `segments` small files through the sink, then raises `error`."""

    def __init__(
        self,
        *,
        segments: int = 1,
        error: BaseException | None = None,
        during: Callable[[], None] | None = None,
    ) -> None:
        self.segments = segments
        self.error = error
        self.during = during
        self.calls = 0

    async def record(
        self,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
        *,
        refresh: Refresh | None = None,
    ) -> str:
        self.calls += 1
        if self.during is not None:
            self.during()
        for index in range(plan.start_index, plan.start_index + self.segments):
            path = plan.path_for(index, "ts")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x" * 100)
            segment = SegmentState(index=index, path=path)
            await sink.opened(segment)
            segment.size_bytes = 100
            stats.bytes_written += 100
            await sink.progressed(segment)
            await sink.closed(segment)
            stats.segments_closed += 1
            stats.next_index = index + 1
        if self.error is not None:
            raise self.error
        return "ended"


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def make(db, root: Path, engine: Engine, **guards) -> RecordingActivities:
    return RecordingActivities(
        {EngineKind.NATIVE: {StreamKind.HLS: engine}},
        root,
        db,
        heartbeat_interval_secs=0.05,
        **guards,
    )


def record_input(workflow_id: str = "streamer-1", **kw) -> RecordInput:
    return RecordInput(
        streamer_id=1,
        streamer_name="alice",
        platform="generic",
        session_id=SESSION,
        session_start=datetime.now(UTC),
        title="t",
        source=SOURCE,
        workflow_id=workflow_id,
        **kw,
    )


async def refusal(acts: RecordingActivities, inp: RecordInput) -> ApplicationError:
    # no client: signals to the workflow are logged and skipped
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(acts.record_stream, inp)
    return caught.value


def rows(db: sa.Engine) -> list[tuple[int, int, bool]]:
    with Session(db) as s:
        return [
            (r.index, r.size_bytes, r.completed_at is not None)
            for r in crud_sessions.list_segments(s, SESSION)
        ]


def add_open_row(db: sa.Engine, path: Path, size: int) -> None:
    """A segment a killed worker left open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"y" * size)
    with Session(db) as s:
        crud_sessions.begin_segment(s, session_id=SESSION, index=0, file_path=str(path))
        crud_sessions.record_segment_progress(
            s,
            session_id=SESSION,
            index=0,
            size_bytes=size,
            duration_secs=2.0,
            resume_marker=None,
        )


async def _count(items: Awaitable[list[Any]], n: int) -> bool:
    return len(await items) >= n


async def until(check: Callable[[], Any], within: float = 10.0) -> None:
    """Wait (in real time) until `check()` (maybe a coroutine) is truthy."""
    async with asyncio.timeout(within):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.02)


def slot_rows(db: sa.Engine) -> list[tuple[str, str]]:
    with Session(db) as s:
        return [(r.holder, r.state) for r in crud_guards.list_recording_slots(s)]


# --- write gate ---------------------------------------------------------------------


async def test_enospc_while_recording_trips_the_gate_and_keeps_what_was_written(
    db, tmp_path
) -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    engine = ScriptedEngine(segments=1, error=full)
    acts = make(db, tmp_path / "rec", engine)
    error = await refusal(acts, record_input())
    assert error.type == ERROR_OUTPUT_PATH_INACCESSIBLE
    assert error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=30)
    assert rows(db) == [(0, 100, True)]  # the closed file stays, announced
    with Session(db) as s:
        assert len(crud.list_events(s, kind=EVENT_OUTPUT_PATH_INACCESSIBLE)) == 1
    assert acts.breaker.state("native:hls:cdn.example.com") == "closed"

    again = await refusal(acts, record_input("streamer-2"))  # refused up front
    assert again.type == ERROR_OUTPUT_PATH_INACCESSIBLE
    assert engine.calls == 1
    assert acts.active_recordings == 0


async def test_a_degraded_root_refuses_before_settling_any_file(db, tmp_path) -> None:
    root = tmp_path / "rec"
    ghost = root / "alice" / "a_0.ts"
    add_open_row(db, ghost, 100)
    ghost.unlink()  # as if the mount had vanished: settling would drop the row
    engine = ScriptedEngine()
    acts = make(db, root, engine)
    await acts.gate.trip(OSError(errno.ESTALE, "Stale file handle"), "streamer-9")
    error = await refusal(acts, record_input())
    assert error.type == ERROR_OUTPUT_PATH_INACCESSIBLE
    assert 0 < error.next_retry_delay.total_seconds() <= 30  # type: ignore[union-attr]
    assert rows(db) == [(0, 100, False)]  # left for when the root is back
    assert engine.calls == 0


async def test_an_oserror_outside_the_root_is_the_engines_failure(db, tmp_path) -> None:
    missing = FileNotFoundError(errno.ENOENT, "No such file", "/usr/bin/ffmpeg")
    acts = make(
        db,
        tmp_path / "rec",
        ScriptedEngine(segments=0, error=missing),
        breaker=CircuitBreaker(threshold=1),
    )
    with pytest.raises(FileNotFoundError):
        await ActivityEnvironment().run(acts.record_stream, record_input())
    with Session(db) as s:
        assert crud_guards.list_degraded_roots(s) == []
    assert acts.breaker.state("native:hls:cdn.example.com") == "open"


# --- circuit breaker ----------------------------------------------------------------


async def test_consecutive_engine_failures_open_the_breaker(db, tmp_path) -> None:
    engine = ScriptedEngine(segments=0, error=RecorderProcessError("bad stream"))
    acts = make(
        db,
        tmp_path / "rec",
        engine,
        breaker=CircuitBreaker(threshold=2, cooldown_secs=60),
    )
    for _ in range(2):
        assert (await refusal(acts, record_input())).type == "RecorderProcessError"
    error = await refusal(acts, record_input())
    assert error.type == ERROR_ENGINE_CIRCUIT_OPEN
    assert error.non_retryable
    assert 59 < error.next_retry_delay.total_seconds() <= 60  # type: ignore[union-attr]
    assert engine.calls == 2


async def test_written_bytes_close_a_half_open_breaker(db, tmp_path) -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=1, cooldown_secs=60, clock=lambda: now[0])
    breaker.before("native:hls:cdn.example.com").failed()
    now[0] = 61.0
    engine = ScriptedEngine(segments=1)
    acts = make(db, tmp_path / "rec", engine, breaker=breaker)
    result = await ActivityEnvironment().run(acts.record_stream, record_input())
    assert result.segments_closed == 1
    assert breaker.state("native:hls:cdn.example.com") == "closed"


# --- recording slots ----------------------------------------------------------------


async def test_a_recording_holds_a_slot_and_gives_it_back(db, tmp_path) -> None:
    seen: list[list[tuple[str, str]]] = []
    engine = ScriptedEngine(during=lambda: seen.append(slot_rows(db)))
    acts = make(db, tmp_path / "rec", engine, slots=RecordingSlots(db, capacity=1))
    await ActivityEnvironment().run(acts.record_stream, record_input())
    assert seen == [[("streamer-1", "held")]]
    assert slot_rows(db) == []


async def test_no_free_slot_refuses_after_settling_the_last_attempt(
    db, tmp_path
) -> None:
    root = tmp_path / "rec"
    add_open_row(db, root / "alice" / "a_0.ts", 100)
    slots = RecordingSlots(db, capacity=1, poll_secs=0.02, wait_secs=0.1)
    other = await slots.acquire("streamer-2", Priority.NORMAL)
    engine = ScriptedEngine()
    acts = make(db, root, engine, slots=slots)
    error = await refusal(acts, record_input())
    assert error.type == ERROR_NO_RECORDING_SLOT
    assert error.non_retryable
    assert rows(db) == [(0, 100, True)]  # recorded data is never held hostage
    assert engine.calls == 0
    await other.release()


async def test_cancelling_a_slot_wait_gives_up_the_queue_place(db, tmp_path) -> None:
    slots = RecordingSlots(db, capacity=1, poll_secs=0.02, wait_secs=30)
    other = await slots.acquire("streamer-2", Priority.NORMAL)
    acts = make(db, tmp_path / "rec", ScriptedEngine(), slots=slots)
    env = ActivityEnvironment()
    task = asyncio.create_task(env.run(acts.record_stream, record_input()))
    await until(lambda: slots.waiting)
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert slot_rows(db) == [("streamer-2", "held")]
    await other.release()


# --- the workflow hears about the wait ----------------------------------------------


@workflow.defn(sandboxed=False)
class WaitCollector:
    """Stands in for the streamer workflow: keeps every `recording_wait`."""

    def __init__(self) -> None:
        self.waits: list[RecordingWait] = []
        self.woken: list[str] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal(name=SIGNAL_RECORDING_WAIT)
    def recording_wait(self, inp: RecordingWait | None = None) -> None:
        if inp is not None:
            self.waits.append(inp)

    @workflow.signal(name=SIGNAL_CHECK_NOW)
    def check_now(self, inp: SignalInput | None = None) -> None:
        self.woken.append(inp.reason if inp else "")

    @workflow.query
    def seen(self) -> list[RecordingWait]:
        return self.waits

    @workflow.query
    def wakes(self) -> list[str]:
        return self.woken


@pytest.fixture
async def collector(env: WorkflowEnvironment) -> AsyncIterator[str]:
    async for handle in collecting(env, WaitCollector, WaitCollector.run):
        yield handle.id


async def seen(env: WorkflowEnvironment, workflow_id: str) -> list[RecordingWait]:
    handle = env.client.get_workflow_handle(workflow_id)
    return await handle.query(WaitCollector.seen)


async def test_a_slot_wait_is_signalled_to_the_workflow(
    env, collector, db, tmp_path
) -> None:
    slots = RecordingSlots(db, capacity=1, poll_secs=0.05, wait_secs=30)
    other = await slots.acquire("streamer-2", Priority.NORMAL)
    acts = make(db, tmp_path / "rec", ScriptedEngine(), slots=slots)
    task = asyncio.create_task(
        ActivityEnvironment(client=env.client).run(
            acts.record_stream, record_input(collector)
        )
    )
    await until(lambda: seen(env, collector))
    [waiting] = await seen(env, collector)
    assert waiting.waiting_for == WaitReason.RECORDING_SLOT
    assert "place 1" in waiting.detail
    await other.release()
    result = await asyncio.wait_for(task, 10)
    assert result.segments_closed == 1
    await until(lambda: _count(seen(env, collector), 2))
    assert (await seen(env, collector))[1].waiting_for is None


async def test_a_retry_after_a_refusal_announces_its_start(
    env, collector, db, tmp_path
) -> None:
    acts = make(db, tmp_path / "rec", ScriptedEngine())
    inp = record_input(collector, announce_start=True)
    await ActivityEnvironment(client=env.client).run(acts.record_stream, inp)
    await until(lambda: seen(env, collector))
    [started] = await seen(env, collector)
    assert started.waiting_for is None


async def test_a_recovered_root_wakes_its_blocked_workflows_through_temporal(
    env, collector, db, tmp_path
) -> None:
    blocker = tmp_path / "mnt"
    blocker.write_text("not a directory")
    gate = WriteGate(
        db,
        blocker / "rec",
        cooldown_secs=0.0,
        signaller=check_now_signaller(lambda: env.client),
    )
    with pytest.raises(OutputPathInaccessibleError):
        await gate.check(collector)
    with pytest.raises(OutputPathInaccessibleError):
        await gate.check("streamer-gone")  # a workflow that no longer runs
    blocker.unlink()
    await gate.check("streamer-3")  # probes, heals, wakes the others
    handle = env.client.get_workflow_handle(collector)
    await until(lambda: handle.query(WaitCollector.wakes))
    assert await handle.query(WaitCollector.wakes) == ["output root recovered"]


def test_gate_default_is_the_recordings_dir(db, tmp_path) -> None:
    acts = make(db, tmp_path / "rec", ScriptedEngine())
    assert isinstance(acts.gate, WriteGate)
    assert acts.gate.root == tmp_path / "rec"
    assert acts.slots is None  # no global limit unless the worker sets one


# --- worker shutdown --------------------------------------------------------------


class BlockingEngine:
    """Opens a segment, writes to it, then waits until the attempt is stopped."""

    def __init__(self) -> None:
        self.recording = asyncio.Event()

    async def record(
        self,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
        *,
        refresh: Refresh | None = None,
    ) -> str:
        path = plan.path_for(plan.start_index, "ts")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 100)
        segment = SegmentState(index=plan.start_index, path=path, size_bytes=100)
        await sink.opened(segment)
        stats.bytes_written += 100
        self.recording.set()
        try:
            await asyncio.Event().wait()
        finally:
            await sink.closed(segment)
        return "ended"


@workflow.defn(sandboxed=False)
class RecordOnce:
    @workflow.run
    async def run(self, inp: RecordInput) -> None:
        await workflow.execute_activity(
            "record.record_stream",
            inp,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(minutes=1),
        )


async def test_a_worker_shutdown_is_one_info_line_not_a_warning_traceback(
    env, db, tmp_path, caplog
) -> None:
    engine = BlockingEngine()
    acts = make(db, tmp_path / "rec", engine)
    queue = f"tq-{uuid.uuid4()}"
    caplog.set_level(logging.DEBUG, logger="temporalio")
    worker = Worker(
        env.client,
        task_queue=queue,
        workflows=[RecordOnce],
        activities=[acts.record_stream],
        workflow_runner=UnsandboxedWorkflowRunner(),
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
    async with worker:
        handle = await env.client.start_workflow(
            RecordOnce.run,
            record_input(f"record-once-{uuid.uuid4()}"),
            id=f"record-once-{uuid.uuid4()}",
            task_queue=queue,
        )
        await asyncio.wait_for(engine.recording.wait(), 10)
    await handle.terminate()
    assert rows(db) == [(0, 100, True)]  # the file was finalised
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in loud if r.exc_info or "WorkerShutdown" in r.getMessage()]
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("stopped for the worker's shutdown" in m for m in said), said

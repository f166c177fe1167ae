"""The recording activity: runs an engine, keeps segment rows current, heartbeats.

Before the engine runs, the guards of `activities.guards` have their say, in this
order: the output-root write gate (a degraded root refuses at once, before anything
touches its files), settling what a crashed attempt left (so data already recorded
is closed and announced even when the attempt is then refused), the engine's
circuit breaker, and a global recording slot (waited for, heartbeating). An
`OSError` that the gate recognises as the root's fault (ENOSPC, EROFS, ENOENT under
the root, …), raised by settling or by the engine, trips the gate. Refusals reach
the workflow as non-retryable `ApplicationError`s with `next_retry_delay`.

Durability rests on the segment rows: the engine reports a byte count only after the
bytes are flushed, and the row stores it with the resume marker. A retry (after a
crash, kill -9 or a worker restart) first settles what the previous attempt left:
each open file is cut back to its row's size, completed and announced, or removed when
nothing in it was confirmed. Then recording continues at the next index, right after
the last media position written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.service import RPCError

from activities.contracts import (
    SIGNAL_RECORDING_WAIT,
    SIGNAL_SEGMENT_CLOSED,
    RecordingWait,
    RecordInput,
    RecordProgress,
    RecordResult,
    SegmentClosed,
    WaitReason,
)
from activities.db import crud
from activities.engines.base import (
    DropSmallSegments,
    OutputPlan,
    RecordingStats,
    SegmentState,
    finish_uncancelled,
    plan_for,
)
from activities.errors import RecorderError, to_application_error
from activities.guards import CircuitBreaker, WriteGate, breaker_key
from activities.naming import NameFields

if TYPE_CHECKING:
    from collections.abc import Awaitable

    import sqlalchemy as sa

    from activities.db.crud_guards import SlotAnswer
    from activities.engines.base import Engine, EngineTable
    from activities.guards import Attempt, RecordingSlots, SlotLease

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_SECS = 3.0
SIGNAL_RPC_TIMEOUT = timedelta(seconds=10)


async def _signal(workflow_id: str, name: str, payload: object, what: str) -> None:
    """Signal the workflow; a failure is only logged (rows rule, not signals)."""
    try:
        handle = activity.client().get_workflow_handle(workflow_id)
        await handle.signal(name, payload, rpc_timeout=SIGNAL_RPC_TIMEOUT)
    except (RPCError, RuntimeError, TimeoutError) as err:
        log.warning("could not signal %s %s: %s", workflow_id, what, err)


async def _signal_closed(workflow_id: str, closed: SegmentClosed) -> None:
    """Tell the workflow a segment closed."""
    what = f"for segment {closed.session_id}/{closed.index}"
    await _signal(workflow_id, SIGNAL_SEGMENT_CLOSED, closed, what)


@dataclass
class _Attempt:
    """What the heartbeat task of one attempt reports and keeps alive."""

    stats: RecordingStats
    breaker: Attempt | None = None
    lease: SlotLease | None = None


@dataclass
class _Resume:
    closed: list[SegmentClosed]
    last_index: int | None
    marker: int | None


class _DbSink:
    """Mirrors an engine's files into segment rows and signals each closed one."""

    def __init__(self, db: sa.Engine, session_id: int, workflow_id: str) -> None:
        self.db = db
        self.session_id = session_id
        self.workflow_id = workflow_id

    async def opened(self, segment: SegmentState) -> None:
        await finish_uncancelled(asyncio.to_thread(self._begin, segment))

    async def progressed(self, segment: SegmentState) -> None:
        await finish_uncancelled(asyncio.to_thread(self._progress, segment))

    async def closed(self, segment: SegmentState) -> None:
        if segment.size_bytes == 0:
            # the engine removed an empty file; forget its row
            await finish_uncancelled(asyncio.to_thread(self._drop, segment))
            return
        await finish_uncancelled(asyncio.to_thread(self._complete, segment))
        await _signal_closed(
            self.workflow_id,
            SegmentClosed(
                session_id=self.session_id,
                index=segment.index,
                file_path=str(segment.path),
                size_bytes=segment.size_bytes,
                duration_secs=segment.duration_secs,
            ),
        )

    def _begin(self, segment: SegmentState) -> None:
        with Session(self.db) as db:
            crud.begin_segment(
                db,
                session_id=self.session_id,
                index=segment.index,
                file_path=str(segment.path),
            )

    def _progress(self, segment: SegmentState) -> None:
        with Session(self.db) as db:
            crud.record_segment_progress(
                db,
                session_id=self.session_id,
                index=segment.index,
                size_bytes=segment.size_bytes,
                duration_secs=segment.duration_secs,
                resume_marker=segment.resume_marker,
            )

    def _complete(self, segment: SegmentState) -> None:
        with Session(self.db) as db:
            crud.complete_segment(
                db,
                session_id=self.session_id,
                index=segment.index,
                size_bytes=segment.size_bytes,
                duration_secs=segment.duration_secs,
                resume_marker=segment.resume_marker,
            )

    def _drop(self, segment: SegmentState) -> None:
        with Session(self.db) as db:
            crud.delete_segment(db, self.session_id, segment.index)


class RecordingActivities:
    """Records streams into segment files (io queue).

    Args:
        engines: the engines on offer, by engine kind and transport.
        recordings_dir: root directory of all recordings.
        db: the app database engine (segment rows).
        heartbeat_interval_secs: how often progress is heartbeated.
        slots: the global recording slots; None = no global limit.
        breaker: the engine circuit breakers (default: a fresh one).
        gate: the write gate of `recordings_dir` (default: one that wakes blocked
            workflows through the running activity's client).
    """

    def __init__(
        self,
        engines: EngineTable,
        recordings_dir: Path,
        db: sa.Engine,
        *,
        heartbeat_interval_secs: float = HEARTBEAT_INTERVAL_SECS,
        slots: RecordingSlots | None = None,
        breaker: CircuitBreaker | None = None,
        gate: WriteGate | None = None,
    ) -> None:
        self.engines = engines
        self.recordings_dir = recordings_dir
        self.db = db
        self.heartbeat_interval_secs = heartbeat_interval_secs
        self.slots = slots
        self.breaker = breaker or CircuitBreaker()
        self.gate = gate or WriteGate(db, recordings_dir)
        self._active = 0

    @property
    def active_recordings(self) -> int:
        """How many `record_stream` activities are running in this worker."""
        return self._active

    @activity.defn(name="record.record_stream")
    async def record_stream(self, inp: RecordInput) -> RecordResult:
        """Record one stream of a session until it ends, stalls or is cancelled.

        Args:
            inp: the session, its stream source and how to cut the output.

        Returns:
            Counters of this attempt and why the recording stopped.

        Raises:
            ApplicationError: `WorkerShutdown` (retryable) when the worker stops,
                `UnsupportedStreamKind` (non-retryable), a guard's refusal
                (`NoRecordingSlot`, `EngineCircuitOpen`, `OutputPathInaccessible`:
                non-retryable, with `next_retry_delay`), or a converted
                RecorderError from the engine.
            asyncio.CancelledError: when the activity is cancelled, after the
                current file was closed.
        """
        engine = self.engines.get(inp.policy.engine, {}).get(inp.source.kind)
        if engine is None:
            raise ApplicationError(
                f"the {inp.policy.engine} engine cannot record {inp.source.kind} "
                "streams here",
                type="UnsupportedStreamKind",
                non_retryable=True,
            )
        self._active += 1
        run = _Attempt(stats=RecordingStats(next_index=inp.start_index))
        # from the start: a slot wait heartbeats too, and cancellation comes that way
        heartbeat_task = asyncio.create_task(self._heartbeat(run))
        try:
            reason = await self._run(self._guarded(inp, engine, run))
        except RecorderError as err:
            raise to_application_error(err) from err
        finally:
            heartbeat_task.cancel()
            self._active -= 1
        stats = run.stats
        return RecordResult(
            next_index=stats.next_index,
            segments_closed=stats.segments_closed,
            bytes_written=stats.bytes_written,
            media_time_secs=stats.media_time_secs,
            reason=reason,
        )

    async def _guarded(self, inp: RecordInput, engine: Engine, run: _Attempt) -> str:
        """Pass the guards, settle the last attempt, then record."""
        await self.gate.check(inp.workflow_id)
        try:
            resume = await finish_uncancelled(
                asyncio.to_thread(self._settle, inp.session_id)
            )
        except OSError as err:
            if not self.gate.owns(err):
                raise
            raise await self.gate.trip(err, inp.workflow_id) from err
        for closed in resume.closed:
            await _signal_closed(inp.workflow_id, closed)
        start_index = inp.start_index
        if resume.last_index is not None:
            start_index = max(start_index, resume.last_index + 1)
        run.stats.next_index = start_index
        attempt = run.breaker = self.breaker.before(
            breaker_key(inp.policy.engine, inp.source)
        )
        try:
            await self._take_slot(inp, run)
            try:
                # the streamer's preferences pick among a master playlist's variants
                source = inp.source.model_copy(
                    update={"selection": inp.policy.selection}
                )
                reason = await engine.record(
                    source,
                    self._plan(inp, start_index, resume.marker),
                    DropSmallSegments(
                        _DbSink(self.db, inp.session_id, inp.workflow_id),
                        inp.policy.min_segment_size_bytes,
                    ),
                    run.stats,
                )
            except OSError as err:
                if not self.gate.owns(err):
                    attempt.failed()
                    raise
                raise await self.gate.trip(err, inp.workflow_id) from err
            except RecorderError:
                attempt.failed()
                raise
            attempt.succeeded()
            return reason
        finally:
            attempt.finished()
            lease, run.lease = run.lease, None
            if lease is not None:
                await lease.release()

    async def _take_slot(self, inp: RecordInput, run: _Attempt) -> None:
        """Hold a slot in `run.lease` (waiting if need be); announce the start."""
        waited = False

        async def on_wait(answer: SlotAnswer) -> None:
            nonlocal waited
            waited = True
            detail = f"{answer.held} slots taken, place {answer.position} in queue"
            await _signal(
                inp.workflow_id,
                SIGNAL_RECORDING_WAIT,
                RecordingWait(waiting_for=WaitReason.RECORDING_SLOT, detail=detail),
                "that it waits for a slot",
            )

        if self.slots is not None:
            run.lease = await self.slots.acquire(
                inp.workflow_id, inp.priority, on_wait=on_wait
            )
        if waited or inp.announce_start:
            lease = run.lease
            detail = f"got a {lease.kind} slot" if lease else "guards passed"
            await _signal(
                inp.workflow_id,
                SIGNAL_RECORDING_WAIT,
                RecordingWait(waiting_for=None, detail=detail),
                "that the recording starts",
            )

    def _plan(
        self, inp: RecordInput, start_index: int, marker: int | None
    ) -> OutputPlan:
        fields = NameFields(
            streamer=inp.streamer_name,
            title=inp.title,
            platform=inp.platform,
            streamer_id=inp.streamer_id,
            session_id=inp.session_id,
        )
        return plan_for(
            self.recordings_dir,
            inp.policy,
            fields,
            start_index=start_index,
            resume_marker=marker,
        )

    async def _run(self, recording: Awaitable[str]) -> str:
        """Await the attempt; on worker shutdown stop it cleanly, then say so."""
        task = asyncio.ensure_future(recording)
        shutdown_task = asyncio.ensure_future(activity.wait_for_worker_shutdown())
        try:
            await asyncio.wait(
                {task, shutdown_task}, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            await _stop(task)
            raise
        finally:
            shutdown_task.cancel()
        if not task.done():
            await _stop(task)
            activity.logger.info(
                "recording stopped for the worker's shutdown: its file is "
                "finalised, and it resumes on the next worker"
            )
            # BENIGN: the SDK would log a retryable failure at WARNING with a
            # traceback, for what is an orderly stop
            raise ApplicationError(
                "worker shutting down",
                type="WorkerShutdown",
                category=ApplicationErrorCategory.BENIGN,
            )
        return task.result()

    async def _heartbeat(self, run: _Attempt) -> None:
        while True:
            stats = run.stats
            if run.breaker is not None and stats.bytes_written > 0:
                run.breaker.succeeded()  # the engine works: close its breaker now
            if run.lease is not None:
                run.lease.renew_if_due()
            activity.heartbeat(
                RecordProgress(
                    next_index=stats.next_index,
                    bytes_written=stats.bytes_written,
                    media_time_secs=stats.media_time_secs,
                    segments_closed=stats.segments_closed,
                )
            )
            await asyncio.sleep(self.heartbeat_interval_secs)

    def _settle(self, session_id: int) -> _Resume:
        """Close out the files an earlier attempt of this session left open."""
        closed: list[SegmentClosed] = []
        with Session(self.db) as db:
            for row in crud.open_segments(db, session_id):
                path = Path(row.file_path)
                size = row.size_bytes
                if size > 0 and path.is_file():
                    actual = path.stat().st_size
                    if actual < size:
                        log.warning(
                            "%s holds %d bytes, its row promised %d", path, actual, size
                        )
                        size = actual
                    # bytes past the row's size were never confirmed: cut them off
                    with path.open("r+b") as handle:
                        handle.truncate(size)
                if size > 0 and path.is_file():
                    crud.complete_segment(
                        db,
                        session_id=session_id,
                        index=row.index,
                        size_bytes=size,
                        duration_secs=row.duration_secs,
                        resume_marker=row.resume_marker,
                    )
                    closed.append(
                        SegmentClosed(
                            session_id=session_id,
                            index=row.index,
                            file_path=str(path),
                            size_bytes=size,
                            duration_secs=row.duration_secs,
                        )
                    )
                    log.info(
                        "settled segment %d/%d at %d bytes", session_id, row.index, size
                    )
                else:
                    path.unlink(missing_ok=True)
                    crud.delete_segment(db, session_id, row.index)
                    log.info("removed empty segment %d/%d", session_id, row.index)
            last = crud.last_segment(db, session_id)
            if last is None:
                return _Resume(closed=closed, last_index=None, marker=None)
            return _Resume(
                closed=closed, last_index=last.index, marker=last.resume_marker
            )


async def _stop(task: asyncio.Future[str]) -> None:
    """Cancel the engine and wait while it finalises its file."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        try:
            await task
        except RecorderError as err:
            log.warning("engine failed while stopping: %s", err)

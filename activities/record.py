"""The recording activity: runs an engine, keeps segment rows current, heartbeats.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.contracts import (
    SIGNAL_SEGMENT_CLOSED,
    RecordInput,
    RecordProgress,
    RecordResult,
    SegmentClosed,
)
from activities.db import crud
from activities.engines.base import (
    DropSmallSegments,
    OutputPlan,
    RecordingStats,
    SegmentState,
    finish_uncancelled,
)
from activities.errors import RecorderError, to_application_error
from activities.naming import NameFields, segment_path

if TYPE_CHECKING:
    from collections.abc import Awaitable

    import sqlalchemy as sa

    from activities.engines.base import EngineTable

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_SECS = 3.0
SIGNAL_RPC_TIMEOUT = timedelta(seconds=10)


async def _signal_closed(workflow_id: str, closed: SegmentClosed) -> None:
    """Tell the workflow a segment closed; a failure is only logged (rows rule)."""
    try:
        handle = activity.client().get_workflow_handle(workflow_id)
        await handle.signal(
            SIGNAL_SEGMENT_CLOSED, closed, rpc_timeout=SIGNAL_RPC_TIMEOUT
        )
    except (RPCError, RuntimeError, TimeoutError) as err:
        log.warning(
            "could not signal %s for segment %d/%d: %s",
            workflow_id,
            closed.session_id,
            closed.index,
            err,
        )


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
    """

    def __init__(
        self,
        engines: EngineTable,
        recordings_dir: Path,
        db: sa.Engine,
        *,
        heartbeat_interval_secs: float = HEARTBEAT_INTERVAL_SECS,
    ) -> None:
        self.engines = engines
        self.recordings_dir = recordings_dir
        self.db = db
        self.heartbeat_interval_secs = heartbeat_interval_secs
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
                `UnsupportedStreamKind` (non-retryable), or a converted
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
        try:
            resume = await finish_uncancelled(
                asyncio.to_thread(self._settle, inp.session_id)
            )
            for closed in resume.closed:
                await _signal_closed(inp.workflow_id, closed)
            start_index = inp.start_index
            if resume.last_index is not None:
                start_index = max(start_index, resume.last_index + 1)
            policy = inp.policy
            # the streamer's preferences pick among a master playlist's variants
            source = inp.source.model_copy(update={"selection": policy.selection})
            fields = NameFields(
                streamer=inp.streamer_name,
                title=inp.title,
                platform=inp.platform,
                streamer_id=inp.streamer_id,
                session_id=inp.session_id,
            )

            def path_for(index: int, ext: str) -> Path:
                return segment_path(
                    self.recordings_dir,
                    policy.filename_template,
                    fields,
                    created=datetime.now(UTC),
                    index=index,
                    ext=ext,
                )

            plan = OutputPlan(
                path_for=path_for,
                start_index=start_index,
                max_duration_secs=policy.max_segment_duration_secs,
                max_size_bytes=policy.max_segment_size_bytes,
                resume_marker=resume.marker,
                container=policy.container,
            )
            stats = RecordingStats(next_index=start_index)
            sink = DropSmallSegments(
                _DbSink(self.db, inp.session_id, inp.workflow_id),
                policy.min_segment_size_bytes,
            )
            reason = await self._run(engine.record(source, plan, sink, stats), stats)
            return RecordResult(
                next_index=stats.next_index,
                segments_closed=stats.segments_closed,
                bytes_written=stats.bytes_written,
                media_time_secs=stats.media_time_secs,
                reason=reason,
            )
        finally:
            self._active -= 1

    async def _run(self, recording: Awaitable[str], stats: RecordingStats) -> str:
        engine_task = asyncio.ensure_future(recording)
        shutdown_task = asyncio.ensure_future(activity.wait_for_worker_shutdown())
        heartbeat_task = asyncio.create_task(self._heartbeat(stats))
        try:
            await asyncio.wait(
                {engine_task, shutdown_task}, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            await _stop(engine_task)
            raise
        finally:
            heartbeat_task.cancel()
            shutdown_task.cancel()
        if not engine_task.done():
            await _stop(engine_task)
            raise ApplicationError("worker shutting down", type="WorkerShutdown")
        try:
            return engine_task.result()
        except RecorderError as err:
            raise to_application_error(err) from err

    async def _heartbeat(self, stats: RecordingStats) -> None:
        while True:
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

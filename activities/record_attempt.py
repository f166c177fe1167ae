"""One attempt of the recording activity: its state, its heartbeat, how it stops.

`activities.record` runs the guards and the engine; what an attempt carries between
them (stats, breaker attempt, slot lease, recorder fence) is `Attempt`, kept alive
by `heartbeat`. `run_attempt` awaits the recording and stops it cleanly when the
worker shuts down or a newer attempt of the session took over. A guard's refusal
becomes a result (`refused`); closed segments and waits reach the workflow as
signals, whose failure is only logged: the segment rows are the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.service import RPCError

from activities.contracts import (
    ERROR_ENGINE_CIRCUIT_OPEN,
    ERROR_NO_RECORDING_SLOT,
    ERROR_OUTPUT_PATH_INACCESSIBLE,
    SIGNAL_SEGMENT_CLOSED,
    RecordProgress,
    RecordResult,
    SegmentClosed,
    WaitReason,
)
from activities.engines.base import RecordingStats
from activities.errors import GuardError, RecorderError
from activities.fence import DEFAULT_LEASE_SECS, RecorderFence
from activities.metrics import RECORDED_BYTES, SEGMENTS_WRITTEN

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from activities.guards import Attempt as BreakerAttempt
    from activities.guards import SlotLease

log = logging.getLogger(__name__)

SIGNAL_RPC_TIMEOUT = timedelta(seconds=10)


async def signal(workflow_id: str, name: str, payload: object, what: str) -> None:
    """Signal the workflow; a failure is only logged (rows rule, not signals)."""
    try:
        handle = activity.client().get_workflow_handle(workflow_id)
        await handle.signal(name, payload, rpc_timeout=SIGNAL_RPC_TIMEOUT)
    except (RPCError, RuntimeError, TimeoutError) as err:
        log.warning("could not signal %s %s: %s", workflow_id, what, err)


async def signal_closed(workflow_id: str, closed: SegmentClosed) -> None:
    """Tell the workflow a segment closed."""
    what = f"for segment {closed.session_id}/{closed.index}"
    await signal(workflow_id, SIGNAL_SEGMENT_CLOSED, closed, what)


async def count_closed(platform: str, workflow_id: str, closed: SegmentClosed) -> None:
    """A file this attempt wrote closed: count it, then tell the workflow."""
    SEGMENTS_WRITTEN.labels(platform).inc()
    await signal_closed(workflow_id, closed)


@dataclass
class Attempt:
    """What the heartbeat task of one attempt reports and keeps alive."""

    stats: RecordingStats
    platform: str = ""
    breaker: BreakerAttempt | None = None
    lease: SlotLease | None = None
    # bytes already added to the srec_recorded_bytes counter
    counted_bytes: int = 0
    # this attempt's claim on the session: a newer attempt stops this one
    fence: RecorderFence | None = None

    def count_bytes(self) -> None:
        """Add what the engine flushed since the last call to the bytes counter."""
        written = self.stats.bytes_written
        if written > self.counted_bytes:
            RECORDED_BYTES.labels(self.platform).inc(written - self.counted_bytes)
            self.counted_bytes = written


async def run_attempt(recording: Awaitable[str], run: Attempt) -> str:
    """Await the attempt; on worker shutdown stop it cleanly, then say so.

    A newer attempt of the same session (this worker lost Temporal, which
    retried elsewhere) stops it too: `RecordingSuperseded`, which nobody
    awaits any more, but the files are left to the newer attempt.
    """
    task = asyncio.ensure_future(recording)
    shutdown_task = asyncio.ensure_future(activity.wait_for_worker_shutdown())
    waits: set[asyncio.Future[object]] = {task, shutdown_task}  # type: ignore[arg-type]
    fenced = None
    if run.fence is not None:
        fenced = asyncio.ensure_future(run.fence.superseded.wait())
        waits.add(fenced)  # type: ignore[arg-type]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        await stop(task)
        raise
    finally:
        shutdown_task.cancel()
        if fenced is not None:
            fenced.cancel()
    if not task.done() and run.fence is not None and run.fence.superseded.is_set():
        await stop(task)
        raise ApplicationError(
            "a newer attempt records this session: this one stopped",
            type="RecordingSuperseded",
            non_retryable=True,
        )
    if not task.done():
        await stop(task)
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


async def heartbeat(run: Attempt, interval_secs: float) -> None:
    """Heartbeat the attempt's progress; keep its breaker, slot and fence alive."""
    while True:
        stats = run.stats
        run.count_bytes()
        if run.breaker is not None and stats.bytes_written > 0:
            run.breaker.succeeded()  # the engine works: close its breaker now
        if run.lease is not None:
            run.lease.renew_if_due()
        if run.fence is not None:
            run.fence.renew_if_due()
        activity.heartbeat(
            RecordProgress(
                next_index=stats.next_index,
                bytes_written=stats.bytes_written,
                media_time_secs=stats.media_time_secs,
                segments_closed=stats.segments_closed,
            )
        )
        await asyncio.sleep(interval_secs)


def lease_secs() -> float:
    """How long after its last heartbeat this attempt may be replaced."""
    timeout = activity.info().heartbeat_timeout
    return timeout.total_seconds() if timeout else DEFAULT_LEASE_SECS


async def stop(task: asyncio.Future[str]) -> None:
    """Cancel the engine and wait while it finalises its file."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        try:
            await task
        except RecorderError as err:
            log.warning("engine failed while stopping: %s", err)


_REFUSALS: dict[str, WaitReason] = {
    ERROR_NO_RECORDING_SLOT: WaitReason.RECORDING_SLOT,
    ERROR_ENGINE_CIRCUIT_OPEN: WaitReason.ENGINE_BREAKER,
    ERROR_OUTPUT_PATH_INACCESSIBLE: WaitReason.OUTPUT_ROOT,
}


def refused(err: GuardError, detail: str, stats: RecordingStats) -> RecordResult:
    """A guard's refusal as a result: the workflow waits it out (no retry)."""
    return RecordResult(
        next_index=stats.next_index,
        segments_closed=stats.segments_closed,
        bytes_written=stats.bytes_written,
        media_time_secs=stats.media_time_secs,
        reason="refused",
        refused=_REFUSALS[err.error_type or ""],
        retry_after_secs=err.retry_after_secs,
        detail=detail,  # redacted
    )

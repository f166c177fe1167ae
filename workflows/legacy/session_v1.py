"""One recording session of the v1 streamer workflow, frozen with it (see
`workflows.legacy.streamer_v1`: do not change this code). One addition since, behind
a patch: a session closed by a v1 run (one that was recording when the worker was
upgraded, and closes before it continues as new onto v2) starts its pipeline waiter
as v2 does (`start_session_pipeline`, which asks its own patch: histories that
closed a session before it replay without the child). The v1 docstring:

One recording session of a streamer, run inside `StreamerWorkflow`.

Open the session, record, keep it open through short drops (the grace window:
`offline_check_count` x `offline_check_delay_secs`, checked every poll interval, at
most `GRACE_POLL_MAX_SECS`) and through guard refusals, then close it:

    open ─► record ─┬─ ended/failed ──► grace window ─┬─ live again ──► record
                    │                                  └─ not live ────► close
                    └─ guard refusal ─► back off ─────► grace window …

A guard refusal is a non-retryable `ApplicationError` of a type in
`contracts.GUARD_ERRORS` (no recording slot, engine circuit open, output root
inaccessible) with `next_retry_delay`. The session shows what it waits for
(`waiting_for` in the state query), backs off that long (at least
`GUARD_MIN_BACKOFF_SECS`; `check_now`, which the write gate sends on recovery, pause
and stop end it early), then checks the stream is still live (for a fresh URL, or
to end the session) and records again. The next attempt asks the activity to
announce when the guards let it through, which clears `waiting_for`. Waiting for a
slot mostly happens inside the activity, which says so with `recording_wait`.

Deterministic: timers and activities only, through the `SessionHost` (the workflow).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from workflows import options as o
    from workflows.session_complete import start_session_pipeline

if TYPE_CHECKING:
    from collections.abc import Callable

    from temporalio.workflow import ActivityHandle

T = TypeVar("T")


class SessionHost(Protocol):
    """What a session needs from its streamer workflow."""

    @property
    def config(self) -> c.StreamerConfig: ...

    @property
    def instance_id(self) -> str | None:
        """The app database that owns the workflow (goes into owned inputs)."""
        ...

    @property
    def interrupted(self) -> bool:
        """Stop or pause was asked for."""
        ...

    async def check_live(self) -> c.LiveStatus | None: ...

    async def sleep(self, seconds: float | Callable[[], float]) -> None: ...

    async def set_state(self, state: c.StreamerState) -> None: ...

    async def store(self, name: str, arg: Any, result_type: type[T]) -> T: ...


class RecordingSession:
    """The state and steps of one session (see the module docstring).

    Args:
        host: the streamer workflow running it.
        open_key: names this session's opening step for `open_session`, so a
            retried activity returns the session its first attempt opened.
    """

    def __init__(self, host: SessionHost, open_key: str) -> None:
        self.host = host
        self.open_key = open_key
        self.session_id: int | None = None
        self.next_index = 0
        self.segments_closed = 0
        self.removed = False
        self.waiting_for: c.WaitReason | None = None
        self._closed_indexes: set[int] = set()
        self._probes: list[ActivityHandle[c.ProbeSegmentResult]] = []

    async def run(self, status: c.LiveStatus) -> None:
        """Record the stream that `status` found live, until it really ends."""
        host = self.host
        opened = await host.store(
            c.ACTIVITY_OPEN_SESSION,
            c.OpenSessionInput(
                streamer_id=host.config.streamer_id,
                title=status.title,
                start_time=workflow.now(),
                instance_id=host.instance_id,
                open_key=self.open_key,
            ),
            c.OpenSessionResult,
        )
        session_start = workflow.now()
        self.session_id = opened.session_id
        await host.set_state(c.StreamerState.LIVE)
        live: c.LiveStatus | None = status
        while live is not None and live.source is not None:
            await self._record(live, live.source, opened.session_id, session_start)
            if host.interrupted:
                break
            live = await self._grace_window()
        self.waiting_for = None
        await asyncio.gather(*self._probes, return_exceptions=True)
        self._probes.clear()
        closed = await host.store(
            c.ACTIVITY_CLOSE_SESSION,
            c.CloseSessionInput(
                session_id=opened.session_id,
                end_time=workflow.now(),
                instance_id=host.instance_id,
            ),
            c.CloseSessionResult,
        )
        # nothing was recorded (the stream ended while queued for a slot, say):
        # the store deleted the empty session
        self.removed = closed.removed
        if not self.removed:
            await start_session_pipeline(opened.session_id, host.config.policy)

    def segment_closed(self, inp: c.SegmentClosed) -> None:
        """A file of this session closed (and checked by the recorder): count it."""
        if inp.session_id != self.session_id:
            return
        self._closed_indexes.add(inp.index)
        self._count(inp.session_segments)
        self.next_index = max(self.next_index, inp.index + 1)
        if workflow.patched(o.NO_PROBE_PATCH):
            return
        self._probes.append(
            workflow.start_activity(
                c.ACTIVITY_PROBE_SEGMENT,
                c.ProbeSegmentInput(
                    session_id=inp.session_id,
                    index=inp.index,
                    file_path=inp.file_path,
                    instance_id=self.host.instance_id,
                ),
                task_queue=c.CPU_TASK_QUEUE,
                start_to_close_timeout=o.PROBE_TIMEOUT,
                retry_policy=o.PROBE_RETRY,
                result_type=c.ProbeSegmentResult,
            )
        )

    def recording_wait(self, inp: c.RecordingWait) -> None:
        """The record activity waits for a guard, or got past them all."""
        if inp.waiting_for != self.waiting_for:
            workflow.logger.info(
                "recording %s%s",
                f"waits for {inp.waiting_for.value}" if inp.waiting_for else "starts",
                f" ({inp.detail})" if inp.detail else "",
            )
        self.waiting_for = inp.waiting_for

    async def _record(
        self,
        status: c.LiveStatus,
        source: c.StreamSource,
        session_id: int,
        session_start: datetime,
    ) -> None:
        """Run one recording activity until it ends, is refused or must stop."""
        host = self.host
        cfg = host.config
        handle = workflow.start_activity(
            c.ACTIVITY_RECORD_STREAM,
            c.RecordInput(
                streamer_id=cfg.streamer_id,
                streamer_name=cfg.name,
                platform=cfg.platform,
                session_id=session_id,
                session_start=session_start,
                title=status.title,
                source=source,
                start_index=self.next_index,
                priority=cfg.priority,
                policy=cfg.policy,
                workflow_id=workflow.info().workflow_id,
                announce_start=self.waiting_for is not None,
                instance_id=host.instance_id,
            ),
            task_queue=c.IO_TASK_QUEUE,
            start_to_close_timeout=o.RECORD_TIMEOUT,
            heartbeat_timeout=o.RECORD_HEARTBEAT_TIMEOUT,
            retry_policy=o.record_retry(cfg.policy.record_retry),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            result_type=c.RecordResult,
        )
        await workflow.wait_condition(lambda: handle.done() or host.interrupted)
        if not handle.done():
            handle.cancel()
        try:
            result = await handle
        except ActivityError as err:
            await self._refused_or_failed(err)
            return
        self.waiting_for = None
        self.next_index = max(self.next_index, result.next_index)
        self._count(result.session_segments)
        workflow.logger.info("recording stopped: %s", result.reason)

    def _count(self, in_db: int | None) -> None:
        """Closed segments: the signals seen, or the DB's count if that is higher.

        Signals can be lost (a worker killed between a row's commit and its
        signal), so each one carries the DB's count, which heals the tally.
        """
        self.segments_closed = max(
            self.segments_closed, len(self._closed_indexes), in_db or 0
        )

    async def _refused_or_failed(self, err: ActivityError) -> None:
        cause = err.cause
        if not isinstance(cause, ApplicationError) or cause.type not in c.GUARD_ERRORS:
            workflow.logger.warning("recording ended with an error: %s", cause)
            return
        reason = c.GUARD_ERRORS[cause.type]
        self.waiting_for = reason
        delay = cause.next_retry_delay or timedelta(0)
        secs = max(delay.total_seconds(), o.GUARD_MIN_BACKOFF_SECS)
        workflow.logger.warning(
            "recording held back by %s: %s; trying again in %.0f s",
            reason.value,
            cause.message,
            secs,
        )
        await self.host.sleep(secs)

    async def _grace_window(self) -> c.LiveStatus | None:
        """After a drop, wait up to the grace window for the stream to come back."""
        host = self.host
        policy = host.config.policy
        deadline = workflow.now() + timedelta(seconds=policy.grace_secs)
        step = min(policy.poll_interval_secs, o.GRACE_POLL_MAX_SECS)
        while not host.interrupted:
            status = await host.check_live()
            if status is not None and status.is_live:
                return status
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                break
            await host.sleep(min(step, remaining))
        return None

"""The recordings inside a session: one record activity at a time, guard refusals.

`SessionRecording` is the part of `workflows.streamer_session.StreamerSession` that
runs `record.record_stream` until it ends, is refused or must stop (stop, pause,
the schedule closing, the chat saying the broadcast ended), and waits out a guard's
refusal.

A guard's refusal comes back as `RecordResult.refused`: the session waits
`retry_after_secs` (check_now, which the write gate sends on recovery, ends the wait
early) showing `waiting_for`, as LIVE, or OUT_OF_SPACE when the output root's write
gate holds it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from activities import filters
    from activities.record import RecordingActivities
    from workflows import options as o

from workflows import streamer_notify as notify

if TYPE_CHECKING:
    from datetime import datetime

    from workflows.streamer_base import StreamerBase
    from workflows.streamer_danmu import SessionChat


class SessionRecording:
    """The recording steps of a session (see the module docstring)."""

    host: StreamerBase
    chat: SessionChat
    session_id: int | None
    start: datetime
    next_index: int
    segments_closed: int
    waiting_for: c.WaitReason | None
    _started: bool  # the activity announced it got past the guards
    recordings: int  # record activities started (names their events)
    _closed_indexes: set[int]

    def recording_wait(self, inp: c.RecordingWait) -> None:
        """The record activity waits for a guard, or got past them all."""
        if inp.waiting_for != self.waiting_for:
            workflow.logger.info("recording waits for %s", inp.waiting_for)
        self.waiting_for = inp.waiting_for
        self._started = inp.waiting_for is None

    async def _record(self, found: c.Detected, source: c.StreamSource) -> None:
        """Run one recording activity until it ends, is refused or must stop."""
        host, cfg = self.host, self.host.cfg
        assert self.session_id is not None
        if host._state not in (c.StreamerState.LIVE, c.StreamerState.OUT_OF_SPACE):
            await host._transition(c.StreamerState.LIVE)  # resumed, say
        self._started = False
        self.recordings += 1
        handle = workflow.start_activity_method(
            RecordingActivities.record_stream,
            c.RecordInput(
                streamer_id=cfg.streamer_id,
                streamer_name=cfg.name,
                platform=cfg.platform,
                session_id=self.session_id,
                session_start=self.start,
                title=found.title,
                source=source,
                start_index=self.next_index,
                priority=cfg.priority,
                policy=cfg.policy,
                workflow_id=workflow.info().workflow_id,
                announce_start=self.waiting_for is not None or host._events.enabled(),
                instance_id=host.instance_id,
                refusal_as_result=True,
            ),
            task_queue=c.IO_TASK_QUEUE,
            start_to_close_timeout=o.RECORD_TIMEOUT,
            heartbeat_timeout=o.RECORD_HEARTBEAT_TIMEOUT,
            retry_policy=o.record_retry(cfg.policy.record_retry),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        closes = filters.next_close(cfg.filters, workflow.now())
        while True:
            left = None if closes is None else closes - workflow.now()
            await host._wait(
                lambda: (
                    handle.done()
                    or host.interrupted
                    or self._started
                    or self.chat.ended
                ),
                left,
            )
            if self._started and not handle.done():  # past the guards
                self._started = False
                await host._transition(c.StreamerState.LIVE)
                notify.download_started(self)
                continue
            break
        if not handle.done():
            handle.cancel()  # stop, pause, the schedule closed, the chat said ended
        try:
            result = await handle
        except ActivityError as err:
            workflow.logger.warning("recording ended with an error: %s", err.cause)
            cut = isinstance(err.cause, CancelledError)  # asked to: stop, pause…
            error = None if cut else str(err.cause)
            notify.download_ended(self, "stopped", error, cut)
            return
        self.next_index = max(self.next_index, result.next_index)
        self._count(result.session_segments)
        if result.refused is not None:
            notify.download_rejected(self, result)
            await self._refused(result)
            return
        notify.download_ended(self, result.reason, None)
        self.waiting_for = None
        workflow.logger.info("recording stopped: %s", result.reason)

    def _count(self, in_db: int | None) -> None:
        """Closed segments: the signals seen, or the DB's count if that is higher
        (signals can be lost; each carries the DB's count, which heals the tally)."""
        self.segments_closed = max(
            self.segments_closed, len(self._closed_indexes), in_db or 0
        )

    async def _refused(self, result: c.RecordResult) -> None:
        """A guard held the recording back: show it and wait it out."""
        host = self.host
        self.waiting_for = result.refused
        if result.refused is c.WaitReason.OUTPUT_ROOT:
            await host._transition(c.StreamerState.OUT_OF_SPACE, result.detail)
        else:  # a slot or breaker wait stays LIVE; `waiting_for` says which
            await host._transition(c.StreamerState.LIVE)
        secs = max(result.retry_after_secs, o.GUARD_MIN_BACKOFF_SECS)
        host._check_now = False
        await host._wait(
            lambda: host._check_now or host.interrupted or self.chat.ended,
            timedelta(seconds=secs),
        )

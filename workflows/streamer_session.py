"""One recording session of a streamer, run inside `StreamerWorkflow`.

    open ─► record ─┬─ stopped ──► offline window ─┬─ live again ─────► record
                    │                              └─ ended / confirmed ► close
                    ├─ refused (guard) ─► wait ─► offline window …
                    └─ schedule closes, stop ──────────────────────────► close

The offline window after a recording stops: `workflows.streamer_window`.

A guard's refusal comes back as `RecordResult.refused`: the session waits
`retry_after_secs` (check_now, which the write gate sends on recovery, ends the wait
early) showing `waiting_for`, as LIVE, or OUT_OF_SPACE when the output root's write
gate holds it.

Hook points (one place each): `_open` (session opened), `segment_closed` (a
segment closed: issue 11's segment pipelines start there, issue 12's danmu activity
starts beside the recording in `_open`), `_close` (session closed: the session
pipeline and notifications of issues 11 and 13).
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
    from activities.store import StoreActivities
    from workflows import options as o
    from workflows.session_complete import start_session_pipeline

from workflows import streamer_notify as notify
from workflows.streamer_window import offline_window

if TYPE_CHECKING:
    from workflows.streamer_base import StreamerBase


class StreamerSession:
    """The state and steps of one session (see the module docstring).

    Args:
        host: the streamer workflow running it.
        open_key: names this session's opening step for `open_session`, so a
            retried activity returns the session its first attempt opened.
    """

    def __init__(self, host: StreamerBase, open_key: str) -> None:
        self.host = host
        self.open_key = open_key
        self.session_id: int | None = None
        self.next_index = 0
        self.segments_closed = 0
        self.removed = False
        self.waiting_for: c.WaitReason | None = None
        self._started = False  # the activity announced it got past the guards
        self.start = workflow.now()
        self._closed_indexes: set[int] = set()
        self.recordings = 0  # record activities started (names their events)

    async def run(self, found: c.Detected) -> None:
        """Record the stream `found` live, until it really ends."""
        host = self.host
        await self._open(found)
        live: c.Detected | None = found
        while live is not None and live.source is not None:
            await self._record(live, live.source)
            if host._stop or self._schedule_closed():
                break
            live = await offline_window(host, self._schedule_closed)
        await self._close()

    # --- hook points ----------------------------------------------------------------

    async def _open(self, found: c.Detected) -> None:
        """Open the session row and enter LIVE."""
        host = self.host
        opened = await host.store(
            StoreActivities.open_session,
            c.OpenSessionInput(
                streamer_id=host.cfg.streamer_id,
                title=found.title,
                start_time=workflow.now(),
                instance_id=host.instance_id,
                open_key=self.open_key,
            ),
        )
        self.session_id = opened.session_id
        self.start = workflow.now()
        await host._transition(c.StreamerState.LIVE)
        notify.stream_online(self, found.title)

    def segment_closed(self, inp: c.SegmentClosed) -> None:
        """A file of this session closed (and checked by the recorder): count it."""
        if inp.session_id != self.session_id:
            return
        self._closed_indexes.add(inp.index)
        self._count(inp.session_segments)
        self.next_index = max(self.next_index, inp.index + 1)

    async def _close(self) -> None:
        """Close the session row (one that recorded nothing is deleted), then start
        the session's pipeline waiter, if the policy has a pipeline."""
        assert self.session_id is not None
        self.waiting_for = None
        closed = await self.host.store(
            StoreActivities.close_session,
            c.CloseSessionInput(
                session_id=self.session_id,
                end_time=workflow.now(),
                instance_id=self.host.instance_id,
            ),
        )
        self.removed = closed.removed
        notify.stream_offline(self)
        if not self.removed:
            await start_session_pipeline(self.session_id, self.host.cfg.policy)

    # --- steps ------------------------------------------------------------------------

    def recording_wait(self, inp: c.RecordingWait) -> None:
        """The record activity waits for a guard, or got past them all."""
        if inp.waiting_for != self.waiting_for:
            workflow.logger.info("recording waits for %s", inp.waiting_for)
        self.waiting_for = inp.waiting_for
        self._started = inp.waiting_for is None

    def _schedule_closed(self) -> bool:
        closes = filters.next_close(self.host.cfg.filters, workflow.now())
        return closes is not None and closes <= workflow.now()

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
                lambda: handle.done() or host.interrupted or self._started, left
            )
            if self._started and not handle.done():  # past the guards
                self._started = False
                await host._transition(c.StreamerState.LIVE)
                notify.download_started(self)
                continue
            break
        if not handle.done():
            handle.cancel()  # stop, pause, or the schedule closed
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
            lambda: host._check_now or host.interrupted, timedelta(seconds=secs)
        )

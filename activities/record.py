"""The recording activity: runs an engine, keeps segment rows current, heartbeats.

Before the engine runs, the guards of `activities.guards` have their say, in this
order: the output-root write gate (a degraded root refuses at once, before anything
touches its files), settling what a crashed attempt left (so data already recorded
is closed and announced even when the attempt is then refused), the engine's
circuit breaker, and a global recording slot (waited for, heartbeating). An
`OSError` that the gate recognises as the root's fault (ENOSPC, EROFS, ENOENT under
the root, …), raised by settling or by the engine, trips the gate. Refusals reach
the workflow as `RecordResult.refused` (workflows from before the state machine:
non-retryable `ApplicationError`s with `next_retry_delay`).

Durability rests on the segment rows (`segments`): the engine reports a byte count
only after the bytes are flushed, and the row stores it with the resume point. A
retry (after a crash, kill -9 or a worker restart) first settles what the previous
attempt left: each open file is cut back to its row's size, completed and announced,
or removed when nothing in it was confirmed, and the dead attempt's temporary files
are deleted. Then recording continues at the next index, right after the last media
position written (the native engines by media sequence, ffmpeg and streamlink by
live-edge time: `engines.remux.resume`).

Each closed segment is announced with its duration, validity and streams, checked
here (`segments`), so the workflow schedules nothing per segment. Its segment
pipeline starts here too (`triggers`), at no cost to the workflow's history.

A signed stream URL that expires mid-recording does not end it: the engine gets a
refresh hook (`fresh_urls`) that resolves the channel again with the streamer's
options from the DB, swaps in the fresh URL and goes on in the same file; the
result counts the refreshes (`url_refreshes`).

The activity reads its streamer's configuration from the database itself
(`activities.config.follow`): the segment limits as they are now (the workflow's may
be older), again whenever the configuration changes (a new limit applies at the next
segment boundary), and the proxy's password, which never travels in an input.

One attempt's state, heartbeat and orderly stop are `activities.record_attempt`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.config.follow import ConfigWatch, LivePolicy, apply_limits, proxy_url
from activities.config.secrets import application_error, register
from activities.contracts import (
    SIGNAL_RECORDING_WAIT,
    RecordingWait,
    RecordInput,
    RecordResult,
    WaitReason,
)
from activities.db import crud_sessions
from activities.engines.base import (
    DropSmallSegments,
    OutputPlan,
    RecordingStats,
    finish_uncancelled,
    plan_for,
)
from activities.errors import GuardError, RecorderError
from activities.fence import RecorderFence
from activities.guards import CircuitBreaker, WriteGate, breaker_key
from activities.metrics import (
    RECORDINGS_ACTIVE,
    platform_label,
)
from activities.naming import NameFields
from activities.ownership import Ownership
from activities.record_attempt import (
    Attempt,
    count_closed,
    heartbeat,
    lease_secs,
    refused,
    run_attempt,
    signal,
    signal_closed,
)
from activities.segments import Resume, SegmentRows, settle, staging_tag

if TYPE_CHECKING:
    import sqlalchemy as sa

    from activities.db.crud_guards import SlotAnswer
    from activities.engines.base import Engine, EngineTable
    from activities.fresh_urls import FreshUrls
    from activities.guards import RecordingSlots
    from activities.pipeline_triggers import PipelineTriggers
    from activities.segment_events import SegmentEvents

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_SECS = 3.0


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
        instance_id: the database's instance id, if already read.
        fresh_urls: builds each recording's refresh hook for expiring URLs;
            None: an expired URL ends the recording as the engine sees it.
        watch: reads the configuration generation for every recording (default:
            a watch of `db`).
        triggers: starts each closed segment's pipeline (None: no pipelines).
        host: marks the segment rows with this host (per-host placement: the
            files stay on its disk); None with shared storage.
        events: each closed segment's `segment_completed` event (None: none).
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
        instance_id: str | None = None,
        fresh_urls: FreshUrls | None = None,
        watch: ConfigWatch | None = None,
        triggers: PipelineTriggers | None = None,
        host: str | None = None,
        events: SegmentEvents | None = None,
    ) -> None:
        self.engines = engines
        self.host = host
        self.owner = Ownership(db, instance_id)
        self.recordings_dir = recordings_dir
        self.db = db
        self.heartbeat_interval_secs = heartbeat_interval_secs
        self.slots = slots
        self.breaker = breaker or CircuitBreaker()
        self.gate = gate or WriteGate(db, recordings_dir)
        self.fresh_urls = fresh_urls
        self.watch = watch or ConfigWatch(db)
        self.triggers, self.events = triggers, events
        self._settle = functools.partial(settle, triggers=triggers, events=events)
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
            ApplicationError: `ForeignInstance` (retryable) for a workflow of another
                srec instance, `WorkerShutdown` (retryable) when the worker stops,
                `UnsupportedStreamKind` (non-retryable), a guard's refusal
                (`NoRecordingSlot`, `EngineCircuitOpen`, `OutputPathInaccessible`:
                non-retryable, with `next_retry_delay`) unless the input asks for
                it as a result (`refused`), or a converted
                RecorderError from the engine.
            asyncio.CancelledError: when the activity is cancelled, after the
                current file was closed.
        """
        # before anything touches a file, a slot or a row of this instance
        await asyncio.to_thread(self.owner.check, inp)
        engine = self.engines.get(inp.policy.engine, {}).get(inp.source.kind)
        if engine is None:
            raise ApplicationError(
                f"the {inp.policy.engine} engine cannot record {inp.source.kind} "
                "streams here",
                type="UnsupportedStreamKind",
                non_retryable=True,
            )
        self._active += 1
        RECORDINGS_ACTIVE.inc()
        run = Attempt(
            stats=RecordingStats(next_index=inp.start_index),
            platform=platform_label(inp.platform),
            fence=RecorderFence(self.db, inp.session_id, lease_secs=lease_secs()),
        )
        # from the start: a slot wait heartbeats too, and cancellation comes that way
        heartbeat_task = asyncio.create_task(
            heartbeat(run, self.heartbeat_interval_secs)
        )
        try:
            reason = await run_attempt(self._guarded(inp, engine, run), run)
        except RecorderError as err:
            converted, cut = application_error(err)
            if isinstance(err, GuardError) and inp.refusal_as_result:
                return refused(err, converted.message, run.stats)
            if cut:  # it quoted a credential: the original must not be the cause
                raise converted from None
            raise converted from err
        finally:
            heartbeat_task.cancel()
            if run.fence is not None:
                await finish_uncancelled(run.fence.release())
            self._active -= 1
            RECORDINGS_ACTIVE.dec()
            run.count_bytes()
        stats = run.stats
        return RecordResult(
            next_index=stats.next_index,
            segments_closed=stats.segments_closed,
            bytes_written=stats.bytes_written,
            media_time_secs=stats.media_time_secs,
            reason=reason,
            session_segments=await asyncio.to_thread(
                self._count_completed, inp.session_id
            ),
            url_refreshes=stats.url_refreshes,
        )

    async def _guarded(self, inp: RecordInput, engine: Engine, run: Attempt) -> str:
        """Pass the guards, settle the last attempt, then record."""
        await self.gate.check(inp.workflow_id)
        if run.fence is not None:
            # before any file is touched: an older attempt may still be writing
            await run.fence.claim()
        try:
            resume = await finish_uncancelled(
                asyncio.to_thread(self._settle, self.db, inp.session_id)
            )
        except OSError as err:
            if not self.gate.owns(err):
                raise
            raise await self.gate.trip(err, inp.workflow_id) from err
        for closed in resume.closed:
            await signal_closed(inp.workflow_id, closed)
            if self.triggers is not None:
                await self.triggers.file_closed(
                    inp.session_id, closed.index, resume.plans.get(closed.index)
                )
            if self.events is not None:
                await self.events.dispatch(inp.session_id, closed.index)
        start_index = inp.start_index
        if resume.last_index is not None:
            start_index = max(start_index, resume.last_index + 1)
        run.stats.next_index = start_index
        attempt = run.breaker = self.breaker.before(
            breaker_key(inp.policy.engine, inp.source)
        )
        try:
            await self._take_slot(inp, run)
            live = LivePolicy(self.db, inp.streamer_id, self.watch)
            resolved = await asyncio.to_thread(live.load)
            proxy = (
                proxy_url(resolved.config.policy, resolved.merged.options())
                if resolved is not None
                else proxy_url(inp.policy, {})
            )
            if resolved is not None:
                register(
                    c.get_secret_value() for c in resolved.merged.credentials.values()
                )
            if proxy:
                register([proxy])
            # the streamer's preferences pick among a master playlist's variants
            source = inp.source.model_copy(
                update={
                    "selection": inp.policy.selection,
                    "proxy": proxy or inp.source.proxy,
                }
            )
            plan = self._plan(inp, start_index, resume)
            small = DropSmallSegments(
                SegmentRows(
                    self.db,
                    inp.session_id,
                    functools.partial(count_closed, run.platform, inp.workflow_id),
                    self.triggers,
                    host=self.host,
                    events=self.events,
                ),
                inp.policy.min_segment_size_bytes,
            )
            if resolved is not None:
                apply_limits(resolved.config.policy, plan, small, inp.streamer_id)
            follower = asyncio.create_task(live.follow(plan, small))
            try:
                reason = await engine.record(
                    source,
                    plan,
                    small,
                    run.stats,
                    refresh=self.fresh_urls.hook(inp) if self.fresh_urls else None,
                )
            except OSError as err:
                if not self.gate.owns(err):
                    attempt.failed()
                    raise
                raise await self.gate.trip(err, inp.workflow_id) from err
            except RecorderError:
                attempt.failed()
                raise
            finally:
                follower.cancel()
            attempt.succeeded()
            return reason
        finally:
            attempt.finished()
            lease, run.lease = run.lease, None
            if lease is not None:
                await lease.release()

    async def _take_slot(self, inp: RecordInput, run: Attempt) -> None:
        """Hold a slot in `run.lease` (waiting if need be); announce the start."""
        waited = False

        async def on_wait(answer: SlotAnswer) -> None:
            nonlocal waited
            waited = True
            detail = f"{answer.held} slots taken, place {answer.position} in queue"
            await signal(
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
            await signal(
                inp.workflow_id,
                SIGNAL_RECORDING_WAIT,
                RecordingWait(waiting_for=None, detail=detail),
                "that the recording starts",
            )

    def _plan(self, inp: RecordInput, start_index: int, resume: Resume) -> OutputPlan:
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
            resume_marker=resume.marker,
            resume_edge_ms=resume.edge_ms,
            staging_tag=staging_tag(inp.session_id),
        )

    def _count_completed(self, session_id: int) -> int | None:
        """The session's closed segments, for the workflow's count (None: unknown)."""
        try:
            with Session(self.db) as db:
                return crud_sessions.count_completed_segments(db, session_id)
        except SQLAlchemyError as err:
            # the recording is done: a count the workflow misses is no reason to redo it
            log.warning("could not count segments of session %d: %s", session_id, err)
            return None

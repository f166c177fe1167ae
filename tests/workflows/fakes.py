"""Fake activities for workflow tests, registered under the real activity names."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import contracts as c
from activities import events as e

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass
class FakeActivities:
    """A scriptable world: the streamer's config, its live status, the recordings."""

    configs: dict[int, c.StreamerConfig] = field(default_factory=dict)
    live: bool = False
    fail_detection: bool = False
    # a check that finds the stream offline says why (HTTP 404, refused, …)
    offline_error: str | None = None
    segments_per_recording: int = 2
    checks: int = 0
    check_inputs: list[c.CheckLiveInput] = field(default_factory=list)
    projections: list[tuple[c.StreamerState, bool]] = field(default_factory=list)
    projected_errors: list[str | None] = field(default_factory=list)
    opened: list[c.OpenSessionInput] = field(default_factory=list)
    closed: list[c.CloseSessionInput] = field(default_factory=list)
    records: list[c.RecordInput] = field(default_factory=list)
    cancelled_records: int = 0
    probes: list[c.ProbeSegmentInput] = field(default_factory=list)
    stream_end: asyncio.Event = field(default_factory=asyncio.Event)
    handles: list[Any] = field(default_factory=list)
    # guard refusals the next record attempts raise, in order
    refusals: list[ApplicationError] = field(default_factory=list)
    # when set, a record attempt first waits for it, as for a recording slot
    slot_free: asyncio.Event | None = None
    # the instance id of the fake app database, as load_streamer reports it
    instance_id: str | None = None
    # (activity, instance_id) of every owned activity input, in call order
    owned: list[tuple[str, str | None]] = field(default_factory=list)
    # how many loads to refuse as another instance's worker does (retries spent)
    foreign_loads: int = 0
    # loads answered; the configuration version they report (a live check whose
    # input names another one answers config_stale)
    loads: int = 0
    version: str | None = None
    # load_streamer says this instance runs shard pollers (the workflow waits for
    # `detected` instead of checking on its interval)
    pollers: bool = False
    # an answer the checks give instead of live/offline (banned, not found…)
    outcome: c.LiveOutcome | None = None
    title: str = "a title"
    # detection fails without the activity's retries (one attempt per check)
    fail_fast: bool = False
    # record_stream attempts running now
    recording: int = 0
    # the attempt number of every record_stream call (its retry policy at work)
    record_attempts: list[int] = field(default_factory=list)

    def _own(self, inp: c.OwnedInput) -> None:
        self.owned.append((activity.info().activity_type, inp.instance_id))

    # when set, the segment_closed signals a record attempt sends instead of its
    # own, as (index, the DB's count), to lose or repeat some; and the DB count its
    # result reports
    closed_signals: list[tuple[int, int | None]] | None = None
    # segment_closed signals the record attempts have sent
    closed_sent: int = 0
    result_session_segments: int | None = None
    # notification events recorded, by key (the DB's idempotency), and every call
    events: dict[str, e.NotifyEvent] = field(default_factory=dict)
    event_calls: int = 0
    # when set, the next record attempt fails with it (not retried) once recording
    fail_record: str | None = None

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.load_streamer,
            self.project_state,
            self.open_session,
            self.close_session,
            self.check_live,
            self.record_stream,
            self.probe_segment,
            self.record_event,
        ]

    def event_types(self) -> list[str]:
        """The recorded events' types, in the order they were first recorded."""
        return [ev.type.value for ev in self.events.values()]

    @activity.defn(name=c.ACTIVITY_LOAD_STREAMER)
    async def load_streamer(self, inp: c.LoadStreamerInput) -> c.LoadStreamerResult:
        self._own(inp)
        if self.foreign_loads > 0:
            self.foreign_loads -= 1
            raise ApplicationError(
                "belongs to another srec instance",
                type=c.ERROR_FOREIGN_INSTANCE,
                non_retryable=True,  # as if the retries had run out
            )
        self.loads += 1
        return c.LoadStreamerResult(
            config=self.configs.get(inp.streamer_id),
            instance_id=self.instance_id,
            config_version=self.version,
            pollers=self.pollers,
        )

    @activity.defn(name=c.ACTIVITY_PROJECT_STATE)
    async def project_state(self, inp: c.ProjectStateInput) -> c.ProjectStateResult:
        self._own(inp)
        self.projections.append((inp.state, inp.enabled))
        self.projected_errors.append(inp.last_error)
        return c.ProjectStateResult()

    @activity.defn(name=c.ACTIVITY_OPEN_SESSION)
    async def open_session(self, inp: c.OpenSessionInput) -> c.OpenSessionResult:
        self._own(inp)
        self.opened.append(inp)
        return c.OpenSessionResult(session_id=100 + len(self.opened))

    @activity.defn(name=c.ACTIVITY_CLOSE_SESSION)
    async def close_session(self, inp: c.CloseSessionInput) -> c.CloseSessionResult:
        self._own(inp)
        self.closed.append(inp)
        return c.CloseSessionResult(total_size_bytes=0, segment_count=0)

    @activity.defn(name=c.ACTIVITY_CHECK_LIVE)
    async def check_live(self, inp: c.CheckLiveInput) -> c.LiveStatus:
        self.checks += 1
        self.check_inputs.append(inp)
        if self.fail_detection:
            raise RuntimeError("upstream is down")
        if self.fail_fast:
            raise ApplicationError("upstream is down", non_retryable=True)
        if self.outcome is not None:
            return c.LiveStatus(
                is_live=False, outcome=self.outcome, detail="the platform says so"
            )
        stale = None not in (inp.config_version, self.version) and (
            inp.config_version != self.version
        )
        if not self.live:
            return c.LiveStatus(
                is_live=False, error=self.offline_error, config_stale=stale
            )
        return c.LiveStatus(
            is_live=True,
            title=self.title,
            source=c.StreamSource(url=inp.url, kind=c.StreamKind.HLS),
            config_stale=stale,
        )

    @activity.defn(name=c.ACTIVITY_RECORD_STREAM)
    async def record_stream(self, inp: c.RecordInput) -> c.RecordResult:
        self._own(inp)
        self.records.append(inp)
        self.record_attempts.append(activity.info().attempt)
        self.recording += 1
        try:
            return await self._record(inp)
        finally:
            self.recording -= 1

    async def _record(self, inp: c.RecordInput) -> c.RecordResult:
        if self.refusals:
            refusal = self.refusals.pop(0)
            if not inp.refusal_as_result:
                raise refusal
            delay = refusal.next_retry_delay
            return c.RecordResult(
                next_index=inp.start_index,
                segments_closed=0,
                bytes_written=0,
                media_time_secs=0.0,
                reason="refused",
                refused=c.GUARD_ERRORS[refusal.type or ""],
                retry_after_secs=delay.total_seconds() if delay else 0.0,
                detail=refusal.message,
            )
        handle = activity.client().get_workflow_handle(inp.workflow_id)
        if self.slot_free is not None:
            await handle.signal(
                c.SIGNAL_RECORDING_WAIT,
                c.RecordingWait(waiting_for=c.WaitReason.RECORDING_SLOT),
            )
            while not self.slot_free.is_set():
                activity.heartbeat()
                try:
                    await asyncio.wait_for(self.slot_free.wait(), 0.2)
                except TimeoutError:
                    continue
        if self.slot_free is not None or inp.announce_start:
            await handle.signal(c.SIGNAL_RECORDING_WAIT, c.RecordingWait())
        if self.fail_record is not None:
            message, self.fail_record = self.fail_record, None
            raise ApplicationError(message, type="EngineFailed", non_retryable=True)
        n = self.segments_per_recording
        signals = self.closed_signals
        if signals is None:
            signals = [(i, None) for i in range(inp.start_index, inp.start_index + n)]
        for index, in_db in signals:
            await handle.signal(
                c.SIGNAL_SEGMENT_CLOSED,
                c.SegmentClosed(
                    session_id=inp.session_id,
                    index=index,
                    file_path=f"/rec/{index}.ts",
                    size_bytes=1000,
                    duration_secs=2.0,
                    session_segments=in_db,
                ),
            )
            self.closed_sent += 1
        try:
            while not self.stream_end.is_set():
                activity.heartbeat()
                try:
                    await asyncio.wait_for(self.stream_end.wait(), 0.2)
                except TimeoutError:
                    continue
        except asyncio.CancelledError:
            self.cancelled_records += 1
            raise
        self.stream_end.clear()
        return c.RecordResult(
            next_index=inp.start_index + n,
            segments_closed=n,
            bytes_written=1000 * n,
            media_time_secs=2.0 * n,
            reason="ended",
            session_segments=self.result_session_segments,
        )

    @activity.defn(name=c.ACTIVITY_PROBE_SEGMENT)
    async def probe_segment(self, inp: c.ProbeSegmentInput) -> c.ProbeSegmentResult:
        self._own(inp)
        self.probes.append(inp)
        return c.ProbeSegmentResult(duration_secs=2.0, streams=["h264"], valid=True)

    @activity.defn(name=e.ACTIVITY_RECORD_EVENT)
    async def record_event(self, inp: e.RecordEventInput) -> e.RecordEventResult:
        self.event_calls += 1
        created = inp.event.key not in self.events
        self.events.setdefault(inp.event.key, inp.event)
        index = list(self.events).index(inp.event.key) + 1
        return e.RecordEventResult(event_id=index, created=created, deliveries=0)

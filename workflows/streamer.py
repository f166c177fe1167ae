"""StreamerWorkflow: one long-running entity workflow per streamer (`streamer-<id>`).

The complete scheduler of a streamer, as a state machine (ARCHITECTURE.md draws it):

    DISABLED ◄─ pause/resume ─► NOT_LIVE ─ live, filters pass ─► LIVE ─► session
    OUT_OF_SCHEDULE  (schedule closed, or live and a filter fails)
    OUT_OF_SPACE     (live; the output root's write gate holds the recording)
    TEMPORAL_DISABLED (transient errors in a row: backoff 60 s doubling to 1 h)
    FATAL_ERROR, NOT_FOUND (held until the user acts)   CANCELLED (the end)

Where each part lives: `workflows.streamer_base` (state, `_transition`, the
activities), `workflows.streamer_detect` (waiting outside a session, `_observe`),
`workflows.streamer_session` (a session: open, segments, offline window, close;
its recordings and chat in `streamer_record` and `streamer_danmu`).

An offline streamer waits on signals: the shard pollers' `detected` (when this
instance runs pollers, `LoadStreamerResult.pollers`), check_now, config_changed,
pause/resume, clear_error; else it checks itself on its interval. Its history
grows only when something happens, and it continues as new after each session,
when the server suggests it, and after `IDLE_REFRESH` idle.

Runs started before this code (v1) carry no `streamer-v2` patch marker: they go on
in `workflows.legacy.streamer_v1`, frozen, and continue as new onto this code at
their next safe wait point. Signals that arrive before `run` has chosen are kept
and replayed into the chosen implementation.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c

from workflows.legacy.streamer_v1 import LegacyStreamer
from workflows.streamer_base import INSTANCE
from workflows.streamer_signals import Messages

# A run whose history lacks this marker was started by v1 (see the module docstring)
PATCH_V2 = "streamer-v2"
# signals v1 has no handler for: it checks by itself and records no chat
V2_ONLY = {c.SIGNAL_DETECTED, c.SIGNAL_DANMU_CLOSED, c.SIGNAL_DANMU_STREAM_CLOSED}


@workflow.defn(name=c.STREAMER_WORKFLOW_TYPE)
class StreamerWorkflow(Messages):
    """The state machine of one streamer; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self._legacy: LegacyStreamer | None = None
        self._chosen = False
        self._early: list[tuple[str, Any]] = []

    @workflow.run
    async def run(self, inp: c.StreamerWorkflowInput) -> c.StreamerWorkflowResult:
        if not workflow.patched(PATCH_V2):
            self._legacy = LegacyStreamer()
        self._chosen = True
        for name, arg in self._early:
            self._signal(name, arg)
        if self._legacy is not None:
            return await self._legacy.run(inp)
        return await self._run(inp)

    async def _run(self, inp: c.StreamerWorkflowInput) -> c.StreamerWorkflowResult:
        carried = inp.carried or c.StreamerWorkflowState()
        self._run_started = workflow.now()
        self._streamer_id, self._instance = inp.streamer_id, inp.instance_id
        if self._instance is not None:
            workflow.upsert_search_attributes([INSTANCE.value_set(self._instance)])
        self._sessions, self._last_error = carried.sessions_recorded, carried.last_error
        self._state, self._reason = carried.state, carried.reason
        self._errors, self._backoff_level = carried.errors, carried.backoff_level
        self._backoff_until = carried.backoff_until
        self._check_now = self._check_now or carried.check_now
        if carried.paused is not None:
            self._paused = carried.paused or self._paused
        if not await self._load():
            await self._transition(c.StreamerState.CANCELLED, "deleted", force=True)
            return c.StreamerWorkflowResult(reason="deleted")
        if carried.paused is None and not self.cfg.enabled:
            self._paused = True
        if self._state in (c.StreamerState.LIVE, c.StreamerState.OUT_OF_SPACE):
            self._state = c.StreamerState.NOT_LIVE  # no session runs at a start
        await self._transition(self._state, self._reason, force=True)
        while not self._stop:
            if self._reload and not await self._load():
                break
            if self._paused:
                await self._transition(c.StreamerState.DISABLED)
                await self._wait(lambda: not self._paused or self._stop or self._reload)
                continue
            await self._step()
            if self._stop:
                break
            opened = self._opened
            suggested = workflow.info().is_continue_as_new_suggested()
            if opened or suggested or self.refresh_due:
                if self.refresh_due and not await self._load():
                    break
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._events.drain()
                workflow.continue_as_new(
                    c.StreamerWorkflowInput(
                        streamer_id=self._streamer_id,
                        instance_id=self._instance,
                        carried=self._carried(),
                    )
                )
        await self._transition(c.StreamerState.CANCELLED, "stopped")
        await self._events.drain()
        return c.StreamerWorkflowResult(reason="stopped")

    def _carried(self) -> c.StreamerWorkflowState:
        """What the next run continues from."""
        return c.StreamerWorkflowState(
            paused=self._paused,
            state=self._state,
            sessions_recorded=self._sessions,
            last_error=self._last_error,
            reason=self._reason,
            errors=self._errors,
            backoff_level=self._backoff_level,
            backoff_until=self._backoff_until,
            check_now=self._check_now or self._clear or self._detected is not None,
        )

    # --- messages -------------------------------------------------------------------

    def _signal(self, name: str, arg: Any) -> None:
        """Route a signal: kept until `run` chose, then to v1 or to this code."""
        if not self._chosen:
            self._early.append((name, arg))
        elif self._legacy is not None:
            if name == c.SIGNAL_CLEAR_ERROR:  # v1 knows no error states: check
                self._legacy.check_now(arg)
            elif name not in V2_ONLY:
                getattr(self._legacy, name)(arg)
        else:
            getattr(self, f"_on_{name}")(arg)

    @workflow.signal(name=c.SIGNAL_PAUSE)
    def pause(self, inp: c.SignalInput | None = None) -> None:
        self._signal(c.SIGNAL_PAUSE, inp)

    @workflow.signal(name=c.SIGNAL_RESUME)
    def resume(self, inp: c.SignalInput | None = None) -> None:
        self._signal(c.SIGNAL_RESUME, inp)

    @workflow.signal(name=c.SIGNAL_CHECK_NOW)
    def check_now(self, inp: c.SignalInput | None = None) -> None:
        self._signal(c.SIGNAL_CHECK_NOW, inp)

    @workflow.signal(name=c.SIGNAL_STOP)
    def stop(self, inp: c.SignalInput | None = None) -> None:
        self._signal(c.SIGNAL_STOP, inp)

    @workflow.signal(name=c.SIGNAL_CONFIG_CHANGED)
    def config_changed(self, inp: c.SignalInput | None = None) -> None:
        self._signal(c.SIGNAL_CONFIG_CHANGED, inp)

    @workflow.signal(name=c.SIGNAL_CLEAR_ERROR)
    def clear_error(self, inp: c.SignalInput | None = None) -> None:
        self._signal(c.SIGNAL_CLEAR_ERROR, inp)

    @workflow.signal(name=c.SIGNAL_DETECTED)
    def detected(self, inp: c.Detected | None = None) -> None:
        self._signal(c.SIGNAL_DETECTED, inp)

    @workflow.signal(name=c.SIGNAL_SEGMENT_CLOSED)
    def segment_closed(self, inp: c.SegmentClosed | None = None) -> None:
        self._signal(c.SIGNAL_SEGMENT_CLOSED, inp)

    @workflow.signal(name=c.SIGNAL_RECORDING_WAIT)
    def recording_wait(self, inp: c.RecordingWait | None = None) -> None:
        self._signal(c.SIGNAL_RECORDING_WAIT, inp)

    @workflow.signal(name=c.SIGNAL_DANMU_CLOSED)
    def danmu_closed(self, inp: c.DanmuClosed | None = None) -> None:
        self._signal(c.SIGNAL_DANMU_CLOSED, inp)

    @workflow.signal(name=c.SIGNAL_DANMU_STREAM_CLOSED)
    def danmu_stream_closed(self, inp: c.DanmuStreamClosed | None = None) -> None:
        self._signal(c.SIGNAL_DANMU_STREAM_CLOSED, inp)

    @workflow.query(name=c.QUERY_STATE)
    def state(self) -> c.StateQueryResult:
        if self._legacy is not None:
            return self._legacy.state()
        return self._state_now()

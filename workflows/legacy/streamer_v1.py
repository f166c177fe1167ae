"""The streamer workflow as it was before the state machine (v1), frozen.

Runs started before the rewrite replay on this code: `StreamerWorkflow.run` sends a
run whose history lacks the `streamer-v2` patch marker here. Once such a run is past
its recorded history it continues as new (onto the new code) at its next safe wait
point: the top of its loop, between checks or after a pause, never while a recording
runs (a session ends with a continue-as-new of its own). Each of those points asks
its own numbered patch (`streamer-v2-migrate-<n>`), since `workflow.patched` answers
once per id: false while replaying the recorded history, true once the run goes on.

Do not change this code: a change breaks the replay of the running v1 histories
(`tests/resources/histories/streamer_v1_*.json` and the older ones). The class is no
longer a workflow definition itself; the signal and query methods are called by
`workflows.streamer.StreamerWorkflow`. What follows is the v1 docstring.

StreamerWorkflow: one long-running entity workflow per streamer (`streamer-<id>`).

It owns the streamer's state machine and timers: wait while paused, check for live,
open a session, record, keep the session open through short drops (the grace
window), close it, back off on errors. Its history is the durable log: a transition
and the side effects it decides cannot be separated by a crash.

    DISABLED ◄── pause / resume ──► NOT_LIVE ── live ──► LIVE ── ended + grace ──┐
                                        ▲                                          │
                                        └──────────── continue-as-new ◄────────────┘

The workflow belongs to the app database that started it: `instance_id` rides in its
input (and `SrecInstance`) and in every owned activity's input, so a worker of
another srec instance sharing the server refuses its activities. A workflow started
before instance ids adopts the id of the database its first load reads (behind a
patch, so running histories replay unchanged).

A session (LIVE) is run by `workflows.session.RecordingSession`, which also rides
out the recording guards' refusals (no slot, engine breaker open, output root
degraded) while staying LIVE, with `waiting_for` in the state query saying why.

Why the last live check failed (or could not reach the stream) is kept as
`last_error`, shown in the state query and projected to the DB when it changes,
until a check succeeds.

Configuration changes (hot reload): `config_changed` makes the workflow reload at
once but not check: the wait it is in goes on, measured with the new interval from
when it began, so a global change signalled to every streamer never makes them all
check together. A live check that finds the configuration changed since the load
(`LiveStatus.config_stale`: the signal was lost, Temporal was down) reloads too.
Both behind patches: older runs checked at once on `config_changed`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from workflows import options as o

from workflows.legacy.session_v1 import RecordingSession

PLATFORM = SearchAttributeKey.for_keyword(c.SEARCH_ATTRIBUTE_PLATFORM)
STREAMER = SearchAttributeKey.for_keyword(c.SEARCH_ATTRIBUTE_STREAMER)
STATE = SearchAttributeKey.for_keyword(c.SEARCH_ATTRIBUTE_STATE)
INSTANCE = SearchAttributeKey.for_keyword(c.SEARCH_ATTRIBUTE_INSTANCE)
# a run without an instance id takes one from its load (new command: patched)
PATCH_ADOPT_INSTANCE = "adopt-instance-id"

T = TypeVar("T")

# Histories recorded before `last_error` was kept replay without its projections.
PATCH_LAST_ERROR = "project-last-check-error"
# config_changed reloads without a live check (older runs also checked at once)
PATCH_GENTLE_RELOAD = "config-changed-reloads-without-check"
# a live check that says the config is stale reloads it
PATCH_STALE_RELOAD = "config-stale-reloads"
# a v1 run past its recorded history continues as new onto v2 (see the docstring)
MIGRATE_PATCH = "streamer-v2-migrate-{}"


def _log_signal(name: str, inp: c.SignalInput | None) -> None:
    reason = f" ({inp.reason})" if inp is not None and inp.reason else ""
    workflow.logger.info("signal %s%s", name, reason)


class LegacyStreamer:
    """The v1 state machine of one streamer; see the module docstring."""

    def __init__(self) -> None:
        self._config: c.StreamerConfig | None = None
        self._instance: str | None = None
        self._state = c.StreamerState.NOT_LIVE
        self._paused = False
        self._stop = False
        self._check_now = False
        self._reload = False
        self._sessions = 0
        self._opened = 0  # sessions opened by this run
        self._session: RecordingSession | None = None
        self._last_error: str | None = None
        self._version: str | None = None  # of the config loaded
        self._wait_points = 0

    def _migrate(self) -> bool:
        """Whether to continue as new onto v2 here (see the module docstring)."""
        self._wait_points += 1
        return workflow.patched(MIGRATE_PATCH.format(self._wait_points))

    async def run(self, inp: c.StreamerWorkflowInput) -> c.StreamerWorkflowResult:
        carried = inp.carried or c.StreamerWorkflowState()
        self._instance = inp.instance_id
        self._sessions = carried.sessions_recorded
        self._state = carried.state
        self._paused = bool(carried.paused)
        self._last_error = carried.last_error
        if not await self._load(inp.streamer_id):
            return c.StreamerWorkflowResult(reason="deleted")
        config = self._cfg
        if carried.paused is None:
            self._paused = not config.enabled
        workflow.upsert_search_attributes(
            [PLATFORM.value_set(config.platform), STREAMER.value_set(config.name)]
        )
        await self.set_state(carried.state, force=True)
        while not self._stop:
            if self._migrate():
                await self._continue_as_new(inp.streamer_id)
            if self._reload and not await self._load(inp.streamer_id):
                break
            if self._paused:
                await self.set_state(c.StreamerState.DISABLED)
                await workflow.wait_condition(
                    lambda: not self._paused or self._stop or self._reload
                )
                continue
            status = await self.check_live()
            if status is None:
                await self.sleep(lambda: self._cfg.policy.error_backoff_secs)
            elif status.is_live and status.source is not None:
                await self._record_session(status)
                if not self._stop:
                    await self._continue_as_new(inp.streamer_id)
            else:
                await self.set_state(c.StreamerState.NOT_LIVE)
                if workflow.info().is_continue_as_new_suggested():
                    await self._continue_as_new(inp.streamer_id)
                await self.sleep(lambda: self._cfg.policy.poll_interval_secs)
        return c.StreamerWorkflowResult(reason="stopped")

    # --- messages -------------------------------------------------------------------

    def pause(self, inp: c.SignalInput | None = None) -> None:
        _log_signal("pause", inp)
        self._paused = True

    def resume(self, inp: c.SignalInput | None = None) -> None:
        _log_signal("resume", inp)
        self._paused = False
        self._check_now = True

    def check_now(self, inp: c.SignalInput | None = None) -> None:
        _log_signal("check_now", inp)
        self._check_now = True

    def stop(self, inp: c.SignalInput | None = None) -> None:
        _log_signal("stop", inp)
        self._stop = True

    def config_changed(self, inp: c.SignalInput | None = None) -> None:
        _log_signal("config_changed", inp)
        self._reload = True
        if not workflow.patched(PATCH_GENTLE_RELOAD):
            self._check_now = True

    def segment_closed(self, inp: c.SegmentClosed | None = None) -> None:
        if inp is not None and self._session is not None:
            self._session.segment_closed(inp)

    def recording_wait(self, inp: c.RecordingWait | None = None) -> None:
        if inp is not None and self._session is not None:
            self._session.recording_wait(inp)

    def state(self) -> c.StateQueryResult:
        session = self._session
        return c.StateQueryResult(
            state=self._state,
            paused=self._paused,
            session_id=session.session_id if session else None,
            segments_closed=session.segments_closed if session else 0,
            sessions_recorded=self._sessions,
            waiting_for=session.waiting_for if session else None,
            last_error=self._last_error,
        )

    # --- session --------------------------------------------------------------------

    async def _record_session(self, status: c.LiveStatus) -> None:
        info = workflow.info()
        self._opened += 1
        session = self._session = RecordingSession(
            self, open_key=f"{info.workflow_id}/{info.run_id}/{self._opened}"
        )
        try:
            await session.run(status)
        finally:
            self._session = None
        if not session.removed:
            self._sessions += 1
        await self.set_state(
            c.StreamerState.DISABLED if self._paused else c.StreamerState.NOT_LIVE
        )

    # --- helpers --------------------------------------------------------------------

    @property
    def _cfg(self) -> c.StreamerConfig:
        assert self._config is not None
        return self._config

    @property
    def config(self) -> c.StreamerConfig:
        """The streamer's configuration (a `SessionHost` member)."""
        return self._cfg

    @property
    def instance_id(self) -> str | None:
        """The app database that owns this workflow (a `SessionHost` member)."""
        return self._instance

    @property
    def interrupted(self) -> bool:
        """Stop or pause was asked for."""
        return self._stop or self._paused

    async def _load(self, streamer_id: int) -> bool:
        """(Re)load the streamer's configuration; False when it was deleted."""
        self._reload = False
        loaded = await self.store(
            c.ACTIVITY_LOAD_STREAMER,
            c.LoadStreamerInput(streamer_id=streamer_id, instance_id=self._instance),
            c.LoadStreamerResult,
        )
        if (
            self._instance is None
            and loaded.instance_id is not None
            and workflow.patched(PATCH_ADOPT_INSTANCE)
        ):
            self._instance = loaded.instance_id
            workflow.upsert_search_attributes([INSTANCE.value_set(self._instance)])
            workflow.logger.info("adopted srec instance %s", self._instance)
        if loaded.config is None:
            self._stop = True
            return False
        if self._config is not None and loaded.config.name != self._config.name:
            workflow.upsert_search_attributes([STREAMER.value_set(loaded.config.name)])
        self._config = loaded.config
        self._version = loaded.config_version
        return True

    async def check_live(self) -> c.LiveStatus | None:
        """Ask the platform; None when detection failed (the caller backs off)."""
        self._check_now = False
        try:
            status: c.LiveStatus = await workflow.execute_activity(
                c.ACTIVITY_CHECK_LIVE,
                # the activity reads the streamer's credentials from the DB itself
                c.CheckLiveInput(
                    url=self._cfg.url,
                    streamer_id=self._cfg.streamer_id,
                    selection=self._cfg.policy.selection,
                    extractor=self._cfg.policy.extractor,
                    config_version=self._version,
                    instance_id=self._instance,
                ),
                task_queue=c.IO_TASK_QUEUE,
                start_to_close_timeout=o.CHECK_LIVE_TIMEOUT,
                retry_policy=o.CHECK_LIVE_RETRY,
                result_type=c.LiveStatus,
            )
        except ActivityError as err:
            workflow.logger.warning("live check failed: %s", err.cause)
            await self._checked(str(err.cause or err))
            return None
        error = status.error
        if error is None and status.result.fatal:
            # the platform's own answer (banned, not found…): the user must act
            error = f"{status.result.value}: {status.detail}".rstrip(": ")
        await self._checked(error)
        if status.config_stale and workflow.patched(PATCH_STALE_RELOAD):
            workflow.logger.info("configuration changed: reloading")
            if not await self._load(self._cfg.streamer_id):
                return None  # deleted meanwhile: the caller's wait ends at once
        return status

    async def _checked(self, error: str | None) -> None:
        """Keep why the last check failed (None: it did not); project a change."""
        if error == self._last_error:
            return
        self._last_error = error
        if workflow.patched(PATCH_LAST_ERROR):
            await self._project()

    async def sleep(self, seconds: float | Callable[[], float]) -> None:
        """Wait, cut short by check_now, pause or stop.

        A config change wakes it to reload; then it waits on until `seconds`
        (re-read when a callable) have passed since it began. In runs from before
        `PATCH_GENTLE_RELOAD` a config change also asks for a check: it ends the wait.
        """
        length = seconds if callable(seconds) else (lambda: seconds)
        start = workflow.now()
        while True:
            remaining = start + timedelta(seconds=length()) - workflow.now()
            if remaining <= timedelta(0):
                return
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._check_now or self._paused or self._stop or self._reload
                    ),
                    timeout=remaining,
                )
            except TimeoutError:
                return
            if self._check_now or self._paused or self._stop:
                return
            if not await self._load(self._cfg.streamer_id):
                return

    async def set_state(self, state: c.StreamerState, *, force: bool = False) -> None:
        if state == self._state and not force:
            return
        self._state = state
        workflow.upsert_search_attributes([STATE.value_set(state.value)])
        await self._project()

    async def _project(self) -> None:
        """Write the state, pause and last check error to the DB for the API."""
        await self.store(
            c.ACTIVITY_PROJECT_STATE,
            c.ProjectStateInput(
                streamer_id=self._cfg.streamer_id,
                state=self._state,
                enabled=not self._paused,
                instance_id=self._instance,
                last_error=self._last_error,
            ),
            c.ProjectStateResult,
        )

    async def store(self, name: str, arg: Any, result_type: type[T]) -> T:
        """Run a store activity; while only other instances' workers take it, wait.

        A refusal by another instance's worker must never end this workflow: when
        its retries run out on `ForeignInstance` (this instance's workers are down),
        it waits and asks again.
        """
        while True:
            try:
                result: T = await workflow.execute_activity(
                    name,
                    arg,
                    task_queue=c.IO_TASK_QUEUE,
                    start_to_close_timeout=o.STORE_TIMEOUT,
                    retry_policy=o.STORE_RETRY,
                    result_type=result_type,
                )
            except ActivityError as err:
                cause = err.cause
                if not (
                    isinstance(cause, ApplicationError)
                    and cause.type == c.ERROR_FOREIGN_INSTANCE
                ):
                    raise
                workflow.logger.warning(
                    "%s: no worker of instance %s took it; asking again in %s",
                    name,
                    self._instance,
                    o.FOREIGN_INSTANCE_WAIT,
                )
                await workflow.sleep(o.FOREIGN_INSTANCE_WAIT)
                continue
            return result

    async def _continue_as_new(self, streamer_id: int) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            c.StreamerWorkflowInput(
                streamer_id=streamer_id,
                instance_id=self._instance,
                carried=c.StreamerWorkflowState(
                    paused=self._paused,
                    state=self._state,
                    sessions_recorded=self._sessions,
                    last_error=self._last_error,
                ),
            )
        )

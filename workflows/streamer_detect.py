"""The streamer workflow while no session runs: one step of waiting, then news.

`Detection._step` is one turn of the workflow's loop outside a session. It waits in
the state the streamer is in, on the signals that can change it and on at most one
durable timer, then hands what it learnt (a `Detected`: the poller's signal or an own
check) to `_observe`, which picks the next state:

| state | waits for | timer |
|---|---|---|
| NOT_LIVE, pollers | `detected`, check_now, control | schedule closes / idle refresh |
| NOT_LIVE, no pollers | control | the next check (poll interval) |
| OUT_OF_SCHEDULE (schedule) | control | the schedule opens (`next_open`) |
| OUT_OF_SCHEDULE (live, a filter fails) | control | the next own check |
| TEMPORAL_DISABLED | clear_error, check_now, control | the backoff's end |
| FATAL_ERROR, NOT_FOUND | clear_error, check_now, resume, config_changed | none |

Control = pause, stop, config_changed. Nothing is written to history while an
offline streamer waits for the poller: no activity, no timer per check. Nor is it
told of a change to a level above it (global, platform, template): a poller's
"live" loads the configuration before the session opens, an own check answers
`config_stale`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from activities import filters
    from workflows import options as o

from workflows import streamer_notify as notify
from workflows.streamer_base import StreamerBase
from workflows.streamer_session import StreamerSession

HELD = (c.StreamerState.FATAL_ERROR, c.StreamerState.NOT_FOUND)
_SCHEDULE_TYPES = (c.FilterType.TIME_WINDOW, c.FilterType.CRON)


class Detection(StreamerBase):
    """Waiting and deciding outside a session (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._filtered = False  # live, but a filter on title or category fails
        self._run_started = datetime.min.replace(tzinfo=UTC)  # set by `run`
        self._opened = 0  # sessions opened by this run

    def _woken(self) -> bool:
        return (
            self._check_now
            or self._clear
            or self._stop
            or self._paused
            or self._reload
            or self._detected is not None
        )

    @property
    def refresh_due(self) -> bool:
        """An idle run this old reloads and continues as new (`o.IDLE_REFRESH`)."""
        return workflow.now() - self._run_started >= o.IDLE_REFRESH

    async def _step(self) -> None:
        """One turn outside a session: wait in the current state, then observe."""
        now = workflow.now()
        if self._state in HELD and not self._check_now:
            await self._transition(self._state, self._reason)
            await self._wait(self._woken)
            if self._reload or self._detected is not None:
                # the user changed the streamer (or a poller found news): one check
                self._detected, self._check_now = None, True
            return
        if self._backoff_until is not None and not self._check_now:
            if now < self._backoff_until:
                await self._wait(self._woken, self._backoff_until - now)
                self._detected = None  # not polled: a stale signal
                return
            self._backoff_until, self._check_now = None, True  # over: check at once
        opens = filters.next_open(self.cfg.filters, now)
        if opens != now:
            await self._out_of_schedule(opens)
            return
        closes = filters.next_close(self.cfg.filters, now)
        found = await self._detect(closes)
        if found is not None:
            await self._observe(found)

    async def _out_of_schedule(self, opens: datetime | None) -> None:
        """The schedule is closed: no checks until it opens, then one at once."""
        now = workflow.now()
        schedule = [f for f in self.cfg.filters if f.type in _SCHEDULE_TYPES]
        reason = filters.evaluate(schedule, now).reason or "the schedule is closed"
        if opens is None:
            reason += "; it does not open within a year"
        await self._transition(c.StreamerState.OUT_OF_SCHEDULE, reason)
        wake = o.IDLE_REFRESH if opens is None else min(opens - now, o.IDLE_REFRESH)
        # not polled and not recorded meanwhile: a check asked for (or an error
        # cleared) waits for the opening, which checks anyway
        self._check_now, self._clear, self._detected = False, False, None
        if not await self._wait(self._woken, wake) and opens is not None:
            self._check_now = workflow.now() >= opens
        self._detected = None  # not polled meanwhile: whatever came is stale

    async def _detect(self, closes: datetime | None) -> c.Detected | None:
        """News, or None when the loop must look again (a signal, a timer)."""
        if self._check_now or self._clear:
            self._clear = False
            return await self._check()
        if self._detected is not None:
            found, self._detected = self._detected, None
            if found.recordable and workflow.patched(o.RELOAD_AT_OPEN_PATCH):
                # levels above the streamer changed unsignalled while it waited
                if not await self._load():
                    return None  # deleted meanwhile: the loop stops
            return found
        now = workflow.now()
        deadlines = [] if closes is None else [closes - now]
        if self._pollers and not self._filtered:
            await self._transition(c.StreamerState.NOT_LIVE)
            deadlines.append(self._run_started + o.IDLE_REFRESH - now)
            await self._wait(self._woken, min(deadlines))
            return None
        interval = timedelta(seconds=self.cfg.policy.poll_interval_secs)
        due = now if self._last_check is None else self._last_check + interval
        if due <= now:
            return await self._check()
        await self._wait(self._woken, min([*deadlines, due - now]))
        return None

    async def _observe(self, found: c.Detected) -> None:
        """What a check found decides the next state (or runs a session)."""
        outcome = found.outcome
        if found.recordable:
            self._succeeded(None)
            verdict = filters.evaluate(
                self.cfg.filters, workflow.now(), found.title, found.category
            )
            self._filtered = not verdict.passes
            if not verdict.passes:
                notify.filtered(self, verdict.reason, found.title)
                await self._transition(c.StreamerState.OUT_OF_SCHEDULE, verdict.reason)
                return
            await self._run_session(found)
        elif outcome in (c.LiveOutcome.OFFLINE, c.LiveOutcome.LIVE):
            self._filtered = False
            self._succeeded(found.error)
            await self._transition(c.StreamerState.NOT_LIVE)
        elif outcome.fatal:
            self._succeeded(None)
            state = (
                c.StreamerState.NOT_FOUND
                if outcome is c.LiveOutcome.NOT_FOUND
                else c.StreamerState.FATAL_ERROR
            )
            reason = ": ".join(
                p for p in (outcome.value, found.detail or found.error or "") if p
            )
            self._last_error = reason
            notify.fatal(self, state, reason, outcome)
            await self._transition(state, reason)
        else:
            await self._failed(found)

    def _succeeded(self, error: str | None) -> None:
        """A clean answer: the run of errors and the backoff are over."""
        self._errors = self._backoff_level = 0
        self._backoff_until = None
        self._last_error = error

    async def _failed(self, found: c.Detected) -> None:
        """A transient failure; too many in a row back off (TEMPORAL_DISABLED)."""
        self._errors = max(self._errors + 1, found.failures)
        self._last_error = found.error or found.detail or found.outcome.value
        if self._errors < o.ERROR_THRESHOLD:
            await self._transition(c.StreamerState.NOT_LIVE)
            return
        secs = o.backoff_secs(self.cfg.policy.error_backoff_secs, self._backoff_level)
        self._backoff_level += 1
        self._backoff_until = workflow.now() + timedelta(seconds=secs)
        await self._transition(
            c.StreamerState.TEMPORAL_DISABLED,
            f"{self._errors} failed checks in a row: the next in {secs:.0f} s "
            f"(at {self._backoff_until:%Y-%m-%d %H:%M:%S} UTC)",
        )

    async def _run_session(self, found: c.Detected) -> None:
        """Record `found` as one session, then settle in the state it leaves."""
        info = workflow.info()
        self._opened += 1
        session = self._session = StreamerSession(
            self, open_key=f"{info.workflow_id}/{info.run_id}/{self._opened}"
        )
        try:
            await session.run(found)
        finally:
            self._session = None
        if not session.removed:
            self._sessions += 1
        self._detected = None  # from before or during the session: stale
        await self._transition(
            c.StreamerState.DISABLED if self._paused else c.StreamerState.NOT_LIVE
        )

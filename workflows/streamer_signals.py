"""What the streamer workflow's signals do (in the v2 code): set the flags its loop
acts on; and what its `state` query answers. `workflows.streamer.StreamerWorkflow`
routes each signal here (or to the frozen v1 code, for runs started before the
state machine).

Handlers never await: they change state the loop reads (`StreamerBase`), so a
signal can never interleave with a step half-done.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c

from workflows.streamer_detect import Detection


def _log_signal(name: str, inp: c.SignalInput | None) -> None:
    reason = f" ({inp.reason})" if inp is not None and inp.reason else ""
    workflow.logger.info("signal %s%s", name, reason)


class Messages(Detection):
    """The v2 signal handlers, `_on_<signal name>`."""

    def _on_pause(self, inp: c.SignalInput | None) -> None:
        _log_signal("pause", inp)
        self._paused = True

    def _on_resume(self, inp: c.SignalInput | None) -> None:
        _log_signal("resume", inp)
        self._paused = False
        self._check_now = True

    def _on_check_now(self, inp: c.SignalInput | None) -> None:
        _log_signal("check_now", inp)
        self._check_now = True

    def _on_stop(self, inp: c.SignalInput | None) -> None:
        _log_signal("stop", inp)
        self._stop = True

    def _on_config_changed(self, inp: c.SignalInput | None) -> None:
        _log_signal("config_changed", inp)
        self._reload = True

    def _on_clear_error(self, inp: c.SignalInput | None) -> None:
        _log_signal("clear_error", inp)
        self._errors = self._backoff_level = 0
        self._backoff_until = None
        self._clear = self._check_now = True  # the check's answer sets the state

    def _on_detected(self, inp: c.Detected | None) -> None:
        if inp is None or inp.instance_id not in (None, self._instance):
            return  # another instance's poller: not ours to act on
        if self._last_check is not None and inp.checked_at < self._last_check:
            return  # older than the workflow's own check
        self._detected = inp

    def _on_segment_closed(self, inp: c.SegmentClosed | None) -> None:
        if inp is not None and self._session is not None:
            self._session.segment_closed(inp)

    def _on_recording_wait(self, inp: c.RecordingWait | None) -> None:
        if inp is not None and self._session is not None:
            self._session.recording_wait(inp)

    def _on_danmu_closed(self, inp: c.DanmuClosed | None) -> None:
        if inp is not None and self._session is not None:
            self._session.chat.file_closed(inp)

    def _on_danmu_stream_closed(self, inp: c.DanmuStreamClosed | None) -> None:
        if inp is not None and self._session is not None:
            self._session.chat.stream_closed(inp)

    def _state_now(self) -> c.StateQueryResult:
        """The `state` query's answer (v2)."""
        session = self._session
        return c.StateQueryResult(
            state=self._state,
            paused=self._paused,
            session_id=session.session_id if session else None,
            segments_closed=session.segments_closed if session else 0,
            sessions_recorded=self._sessions,
            waiting_for=session.waiting_for if session else None,
            danmu_files=session.chat.files if session else 0,
            danmu_error=session.chat.error if session else None,
            last_error=self._last_error,
            reason=self._reason,
            errors=self._errors,
            backoff_until=self._backoff_until,
        )

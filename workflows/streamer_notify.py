"""The streamer workflow's notification events, one call per transition (issue 13).

    session opened ─► stream_online      session closed ─► stream_offline
    recording past the guards ─► download_started
    recording ended ─► download_completed     failed ─► download_error
    guard refused ─► download_rejected (the write gate's also ─► out_of_space)
    live, a filter fails ─► download_rejected
    fatal answer ─► fatal_error (not found, banned, region locked)
               └─► credential_invalid (private, age restricted: what a valid
                   sign-in changes; no platform tells rejected cookies apart)

Each event is keyed by what caused it, so a replay, a retried activity or a worker
that dies mid-session never repeats or loses it (`workflows.notify.event_key`):
session events by the session's row id and the recording's number in it
(`session-42/recording-1/download_started`), the others by the run and their order
in it. Repeats of one state (a held fatal answer seen again, a refusal while
refused) are not new occurrences: the state and reason carried across
continue-as-new say so. Behind the `streamer-events` patch: runs that passed these
points before it replay without the commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from activities.events import EventType

from workflows.notify import EventEmitter

if TYPE_CHECKING:
    from workflows.streamer_base import StreamerBase
    from workflows.streamer_record import SessionRecording

PATCH_EVENTS = "streamer-events"
_CREDENTIAL_OUTCOMES = (c.LiveOutcome.PRIVATE, c.LiveOutcome.AGE_RESTRICTED)


class StreamerEvents:
    """One workflow run's emitter, with what it already emitted."""

    def __init__(self) -> None:
        self._emitter = EventEmitter()
        self._sent: set[str] = set()
        self._order = 0
        self.refused: c.WaitReason | None = None  # the guard refusing, till a start

    def sent(self, transition: str) -> bool:
        """Whether this run emitted `transition` already."""
        return transition in self._sent

    @staticmethod
    def enabled() -> bool:
        """Whether this run emits (False while replaying a run from before)."""
        return workflow.patched(PATCH_EVENTS)

    def emit(
        self,
        host: StreamerBase,
        kind: EventType,
        transition: str,
        summary: str,
        **fields: Any,
    ) -> None:
        """Emit `kind` for `transition` once in this run (see the module docstring).

        Args:
            host: the workflow (its streamer's id, name and URL go with the event).
            kind: the event type.
            transition: unique within the workflow, stable across replays.
            summary: one human line.
            **fields: `session_id`, `title`, `detail` (cut to the model's limits).
        """
        if transition in self._sent or not self.enabled():
            return
        self._sent.add(transition)
        cfg = host.cfg
        self._emitter.emit(
            kind,
            transition,
            summary=summary[:1000],
            streamer_id=cfg.streamer_id,
            streamer_name=cfg.name[:255],
            subject=cfg.url[:4096],
            session_id=fields.get("session_id"),
            title=str(fields.get("title", ""))[:1000],
            detail=str(fields.get("detail", ""))[:4000],
        )

    def emit_in_run(
        self, host: StreamerBase, kind: EventType, summary: str, detail: str = ""
    ) -> None:
        """An event outside a session: keyed by the run and its order in it."""
        self._order += 1
        step = f"{workflow.info().run_id}/{self._order}/{kind.value}"
        self.emit(host, kind, step, summary, detail=detail)

    async def drain(self) -> None:
        """Wait for the emitted events (before continue-as-new or the end)."""
        await self._emitter.drain()


# --- the transitions ----------------------------------------------------------------


def _step(s: SessionRecording, kind: EventType) -> str:
    """`session-<id>/<kind>`, or `session-<id>/recording-<n>/<kind>`."""
    step = f"session-{s.session_id}"
    if kind not in (EventType.STREAM_ONLINE, EventType.STREAM_OFFLINE):
        step += f"/recording-{s.recordings}"
    return f"{step}/{kind.value}"


def _session(s: SessionRecording, kind: EventType, summary: str, **fields: Any) -> None:
    step = _step(s, kind)
    s.host._events.emit(s.host, kind, step, summary, session_id=s.session_id, **fields)


def stream_online(s: SessionRecording, title: str) -> None:
    """A session opened."""
    name = s.host.cfg.name
    _session(s, EventType.STREAM_ONLINE, f"{name} is live: {title}", title=title)


def stream_offline(s: SessionRecording) -> None:
    """A session closed."""
    mins = (workflow.now() - s.start).total_seconds() / 60
    _session(
        s,
        EventType.STREAM_OFFLINE,
        f"{s.host.cfg.name} went offline after {mins:.0f} min "
        f"({s.segments_closed} segment(s) recorded)",
    )


def download_started(s: SessionRecording) -> None:
    """A recording got past the guards (once per recording of the session)."""
    s.host._events.refused = None
    name = s.host.cfg.name
    _session(s, EventType.DOWNLOAD_STARTED, f"{name}: recording started")


def download_ended(
    s: SessionRecording, reason: str, error: str | None, cut: bool = False
) -> None:
    """A recording ended: completed (ended; `cut`: stopped by the workflow, which
    counts once it had started), or failed after its retries (`error`)."""
    name = s.host.cfg.name
    if cut and not s.host._events.sent(_step(s, EventType.DOWNLOAD_STARTED)):
        return  # stopped while a guard held it: nothing was recorded
    if error is None:
        download_started(s)  # it ran; its announcement may not have been seen
        summary = f"{name}: recording finished ({reason})"
        _session(s, EventType.DOWNLOAD_COMPLETED, summary)
    else:
        summary = f"{name}: recording failed: {error}"
        _session(s, EventType.DOWNLOAD_ERROR, summary, detail=error)


def download_rejected(s: SessionRecording, result: c.RecordResult) -> None:
    """A guard refused the recording: once per refusal (a repeat is not news)."""
    events = s.host._events
    if result.refused is None or result.refused == events.refused:
        return
    events.refused = result.refused
    name, why = s.host.cfg.name, result.refused.value.replace("_", " ")
    summary = f"{name} is live but not recorded: {why} ({result.detail})"
    _session(s, EventType.DOWNLOAD_REJECTED, summary, detail=result.detail)
    if result.refused is c.WaitReason.OUTPUT_ROOT:
        summary = f"{name} is live but the recordings root is out of space or "
        summary += f"unwritable: {result.detail}"
        _session(s, EventType.OUT_OF_SPACE, summary, detail=result.detail)


def filtered(host: StreamerBase, reason: str | None, title: str) -> None:
    """Live, but a filter holds the recording back (once per reason)."""
    if (host._state, host._reason) == (c.StreamerState.OUT_OF_SCHEDULE, reason):
        return
    summary = f"{host.cfg.name} is live but not recorded: {reason} ({title})"
    host._events.emit_in_run(host, EventType.DOWNLOAD_REJECTED, summary, reason or "")


def fatal(
    host: StreamerBase, state: c.StreamerState, reason: str, outcome: c.LiveOutcome
) -> None:
    """A fatal answer, unless the streamer already holds that answer."""
    if (host._state, host._reason) == (state, reason):
        return
    kind = (
        EventType.CREDENTIAL_INVALID
        if outcome in _CREDENTIAL_OUTCOMES
        else EventType.FATAL_ERROR
    )
    summary = f"{host.cfg.name}: {reason}; held until you act"
    host._events.emit_in_run(host, kind, summary, reason)

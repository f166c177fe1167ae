"""One recording session of a streamer, run inside `StreamerWorkflow`.

    open ─► record ─┬─ stopped ──► offline window ─┬─ live again ─────► record
                    │                              └─ ended / confirmed ► close
                    ├─ refused (guard) ─► wait ─► offline window …
                    └─ schedule closes, stop ──────────────────────────► close

The recordings and guard refusals: `workflows.streamer_record`; the offline window
after a recording stops: `workflows.streamer_window`; the chat beside the recording:
`workflows.streamer_danmu`, which also ends the session when the chat says the
broadcast ended and the policy's `end_stream_on_danmu_stream_closed` is on (as the
platform's word does: no offline window).

Hook points (one place each): `_open` (session opened; the danmu activity starts
beside the recording), `segment_closed` (a segment closed), `_close` (session
closed: the danmu activity is stopped and its rows made final, then the session row
closes and the session pipeline starts; notifications of issue 13).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from activities import filters
    from activities.store import StoreActivities
    from workflows.session_complete import start_session_pipeline

from workflows import streamer_notify as notify
from workflows.streamer_danmu import SessionChat
from workflows.streamer_record import SessionRecording
from workflows.streamer_window import offline_window

if TYPE_CHECKING:
    from workflows.streamer_base import StreamerBase


class StreamerSession(SessionRecording):
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
        self.chat = SessionChat(host)
        self.recordings = 0  # record activities started (names their events)

    async def run(self, found: c.Detected) -> None:
        """Record the stream `found` live, until it really ends."""
        host = self.host
        await self._open(found)
        live: c.Detected | None = found
        while live is not None and live.source is not None:
            await self._record(live, live.source)
            if host._stop or self._schedule_closed() or self.chat.ended:
                break
            live = await offline_window(host, self._schedule_closed, self.chat)
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
        self.chat.start(opened.session_id, self.start, found.title)
        notify.stream_online(self, found.title)

    def segment_closed(self, inp: c.SegmentClosed) -> None:
        """A file of this session closed (and checked by the recorder): count it."""
        if inp.session_id != self.session_id:
            return
        self._closed_indexes.add(inp.index)
        self._count(inp.session_segments)
        self.next_index = max(self.next_index, inp.index + 1)

    async def _close(self) -> None:
        """Stop the chat (its files and rows final), close the session row (one that
        recorded nothing is deleted), then start the session's pipeline waiter, if
        the policy has a pipeline."""
        assert self.session_id is not None
        self.waiting_for = None
        await self.chat.stop()
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

    def _schedule_closed(self) -> bool:
        closes = filters.next_close(self.host.cfg.filters, workflow.now())
        return closes is not None and closes <= workflow.now()

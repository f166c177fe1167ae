"""A session's chat: the danmu activity beside the recording (issue 12).

`SessionChat.start` (called by `StreamerSession._open`) starts `danmu.record_session`
when the streamer's policy says `record_danmu` and srec has a chat protocol for its
platform; it runs as long as the session, whatever the recordings inside it do.
`stop` (called by `StreamerSession._close`, before the session row closes) cancels
it and waits, bounded, for its last file and rows to be made final.

The activity's failure never reaches the recording: it is logged and kept as
`error` (the state query's `danmu_error`). Its `danmu_closed` signals are counted;
its `danmu_stream_closed` signal sets `ended` when the policy's
`end_stream_on_danmu_stream_closed` is on: the session reads it as the platform's
word that the broadcast ended (the recording stops, no offline window).

Runs recorded before this code scheduled no danmu activity: the start is guarded by
the `session-danmu` patch (asked only when the policy wants a chat).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from activities.danmu import supports
    from activities.danmu_activity import DanmuActivities
    from workflows import options as o

if TYPE_CHECKING:
    from datetime import datetime

    from workflows.streamer_base import StreamerBase


class SessionChat:
    """The danmu activity of one session (see the module docstring)."""

    def __init__(self, host: StreamerBase) -> None:
        self.host = host
        self.session_id: int | None = None
        self.files = 0  # danmu files closed, as the signals (or the DB) count them
        self.error: str | None = None
        self.ended = False  # the chat said the broadcast ended, and that ends it
        self._handle: workflow.ActivityHandle[c.RecordDanmuResult] | None = None
        self._indexes: set[int] = set()  # a signal may come twice

    def start(self, session_id: int, start: datetime, title: str) -> None:
        """Start the session's danmu activity, if the policy and platform allow."""
        cfg = self.host.cfg
        self.session_id = session_id
        if not (cfg.policy.record_danmu and supports(cfg.platform)):
            return
        if not workflow.patched(o.DANMU_PATCH):
            return
        self._handle = workflow.start_activity_method(
            DanmuActivities.record_danmu,
            c.RecordDanmuInput(
                streamer_id=cfg.streamer_id,
                streamer_name=cfg.name,
                url=cfg.url,
                session_id=session_id,
                session_start=start,
                title=title,
                workflow_id=workflow.info().workflow_id,
                instance_id=self.host.instance_id,
            ),
            task_queue=c.IO_TASK_QUEUE,
            start_to_close_timeout=o.DANMU_TIMEOUT,
            heartbeat_timeout=o.DANMU_HEARTBEAT_TIMEOUT,
            retry_policy=o.DANMU_RETRY,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        self._handle.add_done_callback(self._settled)

    def file_closed(self, inp: c.DanmuClosed) -> None:
        """`danmu_closed`: count it (the DB's count heals lost signals)."""
        if inp.session_id == self.session_id:
            self._indexes.add(inp.index)
            self.files = max(self.files, len(self._indexes), inp.session_files or 0)

    def stream_closed(self, inp: c.DanmuStreamClosed) -> None:
        """`danmu_stream_closed`: ends the session if the policy says so."""
        if inp.session_id != self.session_id or self._handle is None:
            return
        acts = self.host.cfg.policy.end_stream_on_danmu_stream_closed
        workflow.logger.info(
            "chat says the stream closed (%s)%s",
            inp.detail or inp.platform,
            ": ending the session" if acts else "",
        )
        self.ended = self.ended or acts

    async def stop(self) -> None:
        """Cancel the activity; wait (bounded) until its files and rows are final."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        if not handle.done():
            handle.cancel()
        if not await self.host._wait(handle.done, o.DANMU_STOP_WAIT):
            self._failed("its worker did not finish in time")

    def _settled(self, handle: workflow.ActivityHandle[c.RecordDanmuResult]) -> None:
        """The activity ended: by the cancel (as a rule), by itself, or failed."""
        if handle.cancelled():
            return
        err = handle.exception()
        if isinstance(err, ActivityError):
            if not isinstance(err.cause, CancelledError):
                self._failed(str(err.cause or err))
            return
        if err is not None:
            self._failed(str(err))
            return
        result = handle.result()
        self.files = max(self.files, len(result.files))
        if result.reason == "unsupported":
            self._failed("the platform offers no chat srec can record")

    def _failed(self, why: str) -> None:
        workflow.logger.warning("session %s: danmu: %s", self.session_id, why)
        self.error = why

"""The danmu activity: a session's chat, beside its recording, one file per segment.

`danmu.record_session` (srec-io) runs for a whole session, started by the streamer
workflow beside the first recording and cancelled when the session ends. It

* resolves the room's chat inside the activity, from the platform module with the
  streamer's options read from the DB (`DbOptionsProvider`, which refuses another
  srec instance's workflow): credentials never cross a Temporal boundary. The room
  is resolved afresh before every reconnect (tokens expire; `danmu_room`);
* follows the session's segment rows and rotates its XML file exactly at each
  segment's first frame (`danmu_run`), files beside the videos (same name, `.xml`);
* heartbeats from a task that never blocks, with its progress and the last message
  ids, so a retry drops what the dead attempt already had; a retry repairs the file
  that attempt left open and continues it;
* signals the workflow `danmu_closed` for each file closed (and closes its row
  first), and `danmu_stream_closed` when the chat says the broadcast ended;
* records a `danmu_disconnected` event after 5 minutes without chat, once per
  outage (key: workflow, session, outage start).

It ends when cancelled (the file is closed, its row and the statistics made final,
then the cancel re-raised) or by itself when the session is closed in the DB. A chat
that fails never fails the activity: the connection reconnects with backoff. A
platform without chat ends it at once (`unsupported`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.contracts import (
    ACTIVITY_RECORD_DANMU,
    SIGNAL_DANMU_CLOSED,
    RecordDanmuInput,
    RecordDanmuProgress,
    RecordDanmuResult,
)
from activities.danmu import supports
from activities.danmu_room import ChatRoom, RunHooks, signal_workflow
from activities.danmu_run import DanmuRun
from activities.errors import UnsupportedUrlError
from activities.host_map import map_ws_url
from activities.ownership import Ownership
from activities.platforms.base import Extractor

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import httpx
    import sqlalchemy as sa

    from activities.detect import OptionsProvider
    from activities.notify import Dispatcher
    from activities.pipeline_triggers import PipelineTriggers
    from activities.platforms import PlatformRegistry

log = logging.getLogger(__name__)

HEARTBEAT_SECS = 5.0
FOLLOW_SECS = 1.0  # how often the segment rows are read
# a boundary read this late still splits exactly (the rows are read every second)
HOLD_SECS = 5.0
SAVE_SECS = 30.0


class DanmuActivities:
    """Records sessions' chat (io queue).

    Args:
        db: the app database engine.
        http: the worker's shared HTTP client (platform APIs).
        registry: the platform modules.
        options: the streamers' stored platform options (None: defaults only).
        dispatcher: records `danmu_disconnected` events (None: logged only).
        host_map: tests' host → `ip:port` map, applied to chat websockets too.
        instance_id: the database's instance id, if already read.
        heartbeat_secs, follow_secs, hold_secs, save_secs: see the constants.
        wall: epoch clock of message receipt and segment boundaries (tests).
        triggers: starts each closed file's segment pipeline (None: none).
        connection: more `DanmuConnection` arguments (tests: clock, sleep, rng,
            alert_after_secs).
    """

    def __init__(
        self,
        db: sa.Engine,
        http: httpx.AsyncClient,
        registry: PlatformRegistry,
        *,
        options: OptionsProvider | None = None,
        dispatcher: Dispatcher | None = None,
        host_map: Mapping[str, str] | None = None,
        instance_id: str | None = None,
        heartbeat_secs: float = HEARTBEAT_SECS,
        follow_secs: float = FOLLOW_SECS,
        hold_secs: float = HOLD_SECS,
        save_secs: float = SAVE_SECS,
        wall: Callable[[], float] = time.time,
        connection: Mapping[str, Any] | None = None,
        triggers: PipelineTriggers | None = None,
    ) -> None:
        self.db, self.http, self.registry = db, http, registry
        self.options, self.dispatcher = options, dispatcher
        self.host_map = dict(host_map or {})
        self.owner = Ownership(db, instance_id)
        self.heartbeat_secs, self.follow_secs = heartbeat_secs, follow_secs
        self.hold_secs, self.save_secs = hold_secs, save_secs
        self.wall = wall
        self.connection = dict(connection or {})
        self.triggers = triggers

    @activity.defn(name=ACTIVITY_RECORD_DANMU)
    async def record_danmu(self, inp: RecordDanmuInput) -> RecordDanmuResult:
        """Record the session's chat until the session ends.

        Args:
            inp: the session, the channel URL and the workflow to signal.

        Returns:
            Why it ended by itself (`session_closed`, `session_gone`,
            `unsupported`) and the files it closed.

        Raises:
            ApplicationError: `ForeignInstance` (retryable) for another srec
                instance's workflow; `WorkerShutdown` (retryable) when the worker
                stops (the file is left for the next attempt to continue).
            asyncio.CancelledError: when cancelled, after the last file is closed.
        """
        await asyncio.to_thread(self.owner.check, inp)
        room = self._room(inp)
        if room is None:
            log.info("%s: no chat srec can record", inp.url)
            return RecordDanmuResult(reason="unsupported")
        seen = _last_progress().recent_ids
        run: DanmuRun | None = None

        def heartbeat() -> RecordDanmuProgress:
            return run.progress() if run is not None else RecordDanmuProgress()

        hooks = RunHooks(inp, room.extractor.platform, self.dispatcher, self.wall)
        beat = asyncio.create_task(self._heartbeat(heartbeat))
        try:
            run = DanmuRun(
                self.db,
                inp.session_id,
                inp.session_start,
                room.resolve,
                await room.meta(),
                announce=lambda closed: signal_workflow(
                    inp.workflow_id, SIGNAL_DANMU_CLOSED, closed
                ),
                hold_secs=self.hold_secs,
                save_secs=self.save_secs,
                wall=self.wall,
                triggers=self.triggers,
                on_control=hooks.on_control,
                on_alert=hooks.on_alert,
                rewrite_url=lambda url: map_ws_url(url, self.host_map),
                **self.connection,
            )
            await run.begin(seen)
            return await self._run(run)
        finally:
            beat.cancel()
            await hooks.drain()

    def _room(self, inp: RecordDanmuInput) -> ChatRoom | None:
        """The room's chat, or None when srec records no chat for its platform."""
        try:
            extractor = self.registry.resolve(inp.url)
            channel = extractor.channel(inp.url)
        except UnsupportedUrlError:
            return None
        if extractor.danmu_info is Extractor.danmu_info or not supports(
            extractor.platform
        ):
            return None
        return ChatRoom(inp, extractor, channel, self.http, self.registry, self.options)

    async def _run(self, run: DanmuRun) -> RecordDanmuResult:
        """Follow the session; however it stops, close the file first.

        The last file's row is made final when the session ended: by itself, or by
        the workflow's cancel. On a worker shutdown, a cancel for a timeout (the
        server gave up on this attempt: another follows) or an unexpected error,
        it stays open, for the next attempt to continue the file.
        """
        task = asyncio.ensure_future(run.follow(self.follow_secs))
        shutdown = asyncio.ensure_future(activity.wait_for_worker_shutdown())
        final = False
        try:
            try:
                await asyncio.wait(
                    {task, shutdown}, return_when=asyncio.FIRST_COMPLETED
                )
            except asyncio.CancelledError:
                why = activity.cancellation_details()
                final = why is None or why.cancel_requested
                raise
            finally:
                shutdown.cancel()
            if not task.done():
                raise ApplicationError(
                    "worker shutting down",
                    type="WorkerShutdown",
                    category=ApplicationErrorCategory.BENIGN,
                )
            reason = task.result()
            final = True
        finally:
            task.cancel()
            await asyncio.wait({task})
            files = await run.finish(final=final)
        progress = run.progress()
        return RecordDanmuResult(
            reason=reason,
            files=files,
            messages=progress.messages,
            duplicates=progress.duplicates,
        )

    async def _heartbeat(self, progress: Callable[[], RecordDanmuProgress]) -> None:
        while True:
            activity.heartbeat(progress())
            await asyncio.sleep(self.heartbeat_secs)


def _last_progress() -> RecordDanmuProgress:
    """The last heartbeat of an earlier attempt (empty on the first)."""
    details = activity.info().heartbeat_details
    if not details:
        return RecordDanmuProgress()
    try:
        return RecordDanmuProgress.model_validate(details[0], from_attributes=True)
    except ValueError as err:
        log.warning("ignoring unreadable heartbeat details: %s", err)
        return RecordDanmuProgress()

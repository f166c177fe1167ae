"""What the danmu activity needs of the outside world besides its files.

* `ChatRoom`: the room's chat, resolved by its platform module with the streamer's
  options read from the DB, inside the activity (credentials never cross a Temporal
  boundary), afresh before every connection attempt (tokens expire);
* `RunHooks`: the `danmu_stream_closed` signal (once per close, again only after
  the chat saw the stream start) and the `danmu_disconnected` event (once per
  outage, keyed by workflow, session and the outage's start), sent in the
  background; `drain` lets them finish before the activity ends;
* `signal_workflow`: a signal whose failure is only logged (rows rule, not signals).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.service import RPCError

from activities.contracts import (
    SIGNAL_DANMU_STREAM_CLOSED,
    CheckLiveInput,
    DanmuStreamClosed,
)
from activities.danmu import ControlKind, DanmuAlertKind, RoomMeta
from activities.errors import ExtractorError
from activities.events import EventType, NotifyEvent

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    import httpx

    from activities.contracts import RecordDanmuInput
    from activities.danmu import ControlEvent, DanmuAlert, DanmuConnectInfo
    from activities.detect import OptionsProvider
    from activities.notify import Dispatcher
    from activities.platforms import PlatformRegistry
    from activities.platforms.base import Channel, Extractor

log = logging.getLogger(__name__)

SIGNAL_RPC_TIMEOUT = timedelta(seconds=10)
DRAIN_SECS = 15.0  # signals and events still on their way when a run ends


async def signal_workflow(workflow_id: str, name: str, payload: object) -> None:
    """Signal the workflow; a failure is only logged."""
    try:
        handle = activity.client().get_workflow_handle(workflow_id)
        await handle.signal(name, payload, rpc_timeout=SIGNAL_RPC_TIMEOUT)
    except (RPCError, RuntimeError, TimeoutError) as err:
        log.warning("could not signal %s to %s: %s", name, workflow_id, err)


class ChatRoom:
    """One room's chat, resolved on demand with the streamer's stored options.

    Args:
        inp: the activity's input (channel URL, streamer, instance).
        extractor: the platform module's extractor class.
        channel: the URL as the platform read it.
        http: the worker's HTTP client.
        registry: validates the stored options.
        options: where the stored options are (None: defaults).
    """

    def __init__(
        self,
        inp: RecordDanmuInput,
        extractor: type[Extractor],
        channel: Channel,
        http: httpx.AsyncClient,
        registry: PlatformRegistry,
        options: OptionsProvider | None,
    ) -> None:
        self.inp, self.extractor, self.channel = inp, extractor, channel
        self.http, self.registry, self.options = http, registry, options
        self._first: DanmuConnectInfo | None = None

    async def resolve(self) -> DanmuConnectInfo:
        """Fresh connection info (raises what the platform raises)."""
        first, self._first = self._first, None
        if first is not None:
            return first
        inp = self.inp
        stored: Mapping[str, Any] = {}
        if self.options is not None:
            # refuses another instance's workflow before reading its cookies
            ask = CheckLiveInput(
                url=inp.url, streamer_id=inp.streamer_id, instance_id=inp.instance_id
            )
            stored = (await self.options.lookup(ask)).options
        options = self.registry.options_for(self.extractor.platform, stored)
        info = await self.extractor(self.http, options).danmu_info(self.channel)
        if info is None:
            raise ExtractorError(f"{inp.url}: the platform offers no chat")
        return info

    async def meta(self) -> RoomMeta:
        """The file headers' room; resolves once now (kept for the first connect)."""
        room = self.channel.reference or ""
        try:
            self._first = await self.resolve()
            room = self._first.room_id
        except Exception as err:  # the connection retries; the header makes do
            log.warning("%s: chat not resolved yet: %s", self.inp.url, err)
        return RoomMeta(
            platform=self.extractor.platform,
            room_id=room,
            name=self.inp.streamer_name,
            title=self.inp.title,
        )


class RunHooks:
    """The signal and the event of one run (see the module docstring)."""

    def __init__(
        self,
        inp: RecordDanmuInput,
        platform: str,
        dispatcher: Dispatcher | None,
        wall: Callable[[], float],
    ) -> None:
        self.inp, self.platform = inp, platform
        self.dispatcher, self.wall = dispatcher, wall
        self.closed_said = False
        self.tasks: set[asyncio.Future[Any]] = set()

    def on_control(self, event: ControlEvent) -> None:
        """A control event of the chat: stream closed is signalled."""
        if event.kind is ControlKind.STREAM_STARTED:
            self.closed_said = False
        if event.kind is not ControlKind.STREAM_CLOSED or self.closed_said:
            return
        self.closed_said = True
        received = event.received_at or self.wall()
        payload = DanmuStreamClosed(
            session_id=self.inp.session_id,
            platform=self.platform,
            detail=event.detail,
            received_at=datetime.fromtimestamp(received, UTC),
        )
        self._spawn(
            signal_workflow(self.inp.workflow_id, SIGNAL_DANMU_STREAM_CLOSED, payload)
        )

    def on_alert(self, alert: DanmuAlert) -> None:
        """The connection's alert: a long outage becomes an event."""
        if alert.kind is not DanmuAlertKind.DISCONNECTED or self.dispatcher is None:
            return
        inp = self.inp
        since = datetime.fromtimestamp(self.wall() - alert.down_secs, UTC)
        event = NotifyEvent(
            type=EventType.DANMU_DISCONNECTED,
            key=f"{inp.workflow_id}/session-{inp.session_id}/danmu_disconnected/"
            f"{since.replace(microsecond=0).isoformat()}",
            summary=f"{inp.streamer_name}: chat unreachable for "
            f"{alert.down_secs / 60:.0f} min",
            streamer_id=inp.streamer_id,
            streamer_name=inp.streamer_name,
            session_id=inp.session_id,
            title=inp.title,
            subject=inp.url,
            detail=alert.last_error[:4000],
        )
        self._spawn(self.dispatcher.emit(event))

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        """Let what is on its way arrive (bounded by `DRAIN_SECS`)."""
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=DRAIN_SECS)

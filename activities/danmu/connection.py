"""One room's chat connection, kept up for as long as its task runs.

`DanmuConnection.run()` connects, sends the codec's handshake, sends heartbeats on
schedule from a side task, decodes every frame and hands each message or control
event to `on_item`. When the socket fails it reconnects with jittered exponential
backoff (5 s doubling to 60 s; reset after a connection that lived 60 s) through the
next URL of the list, and after 5 minutes without a connection it raises one
`DanmuAlert` (and another when the chat is back). `run()` only ever ends by
cancellation: a broken provider must never disturb the recording that started it.

Clock, sleep and randomness are injected so tests step through heartbeats and
backoff without real waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from activities.danmu.models import (
    ControlEvent,
    DanmuAlert,
    DanmuAlertKind,
    DanmuConnectInfo,
)
from activities.danmu.registry import codec_for
from activities.metrics import DANMU_DISCONNECTS, DANMU_MESSAGES, platform_label

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from activities.danmu.codec import DanmuCodec
    from activities.danmu.models import DanmuItem

log = logging.getLogger(__name__)

InfoSource = DanmuConnectInfo | Callable[[], Awaitable[DanmuConnectInfo]]
"""Fixed connection info, or a coroutine function asked again before every attempt
(Bilibili's token expires: the platform module fetches a fresh one)."""

BACKOFF_MIN_SECS = 5.0
BACKOFF_MAX_SECS = 60.0
ALERT_AFTER_SECS = 300.0
# a server may batch much into one frame; the hostile-text tests send 1 MB messages
MAX_FRAME_BYTES = 16 * 1024 * 1024


@dataclass
class ConnectionStats:
    """Counters the heartbeat reports; they only grow (but `connected`)."""

    connected: bool = False
    attempts: int = 0
    connects: int = 0
    frames: int = 0
    decode_errors: int = 0
    heartbeats: int = 0
    last_error: str = ""


class DanmuConnection:
    """Keeps one chat connection alive and decodes it (see the module docstring)."""

    def __init__(
        self,
        info: InfoSource,
        on_item: Callable[[DanmuItem], None],
        *,
        codec_cls: type[DanmuCodec] | None = None,
        on_alert: Callable[[DanmuAlert], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        proxy: str | None = None,
        open_timeout: float = 15.0,
        alert_after_secs: float = ALERT_AFTER_SECS,
        rewrite_url: Callable[[str], str] | None = None,
    ) -> None:
        self._info = info
        self._on_item = on_item
        self._codec_cls = codec_cls
        self._on_alert = on_alert
        self._clock, self._wall, self._sleep, self._rng = clock, wall, sleep, rng
        self._proxy = proxy
        self._open_timeout = open_timeout
        self._alert_after = alert_after_secs
        # the host-map test seam (`activities.host_map.map_ws_url`)
        self._rewrite_url = rewrite_url or (lambda url: url)
        self.stats = ConnectionStats()

    async def run(self) -> None:
        """Connect and reconnect until cancelled; never raises anything else."""
        failures = 0
        down_since = self._clock()
        alerted = False
        # the last info resolved: an alert names the room even when it could not
        # be resolved again
        info: DanmuConnectInfo | None = None
        while True:
            opened_at: float | None = None
            try:
                info = (
                    self._info
                    if isinstance(self._info, DanmuConnectInfo)
                    else (await self._info())
                )
                codec = (self._codec_cls or codec_for(info.platform))(info)
                urls = codec.urls()
                url = self._rewrite_url(urls[self.stats.attempts % len(urls)])
                self.stats.attempts += 1
                headers = codec.headers()
                async with connect(
                    url,
                    additional_headers={
                        k: v for k, v in headers.items() if k != "User-Agent"
                    },
                    user_agent_header=headers.get("User-Agent"),
                    subprotocols=[Subprotocol(p) for p in codec.subprotocols()] or None,
                    proxy=self._proxy,
                    open_timeout=self._open_timeout,
                    max_size=MAX_FRAME_BYTES,
                    # stop() must not wait long on a peer that ignores our close
                    close_timeout=2.0,
                ) as ws:
                    opened_at = self._clock()
                    self.stats.connected = True
                    self.stats.connects += 1
                    if alerted:
                        self._alert(
                            DanmuAlertKind.RECOVERED, info, opened_at - down_since
                        )
                        alerted = False
                    await self._converse(ws, codec)
                    self.stats.last_error = "server asked to reconnect"
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a provider failure must never end the session
                self.stats.last_error = f"{type(err).__name__}: {err}"[:500]
                log.info("danmu connection failed: %s", self.stats.last_error)
            self.stats.connected = False
            now = self._clock()
            if opened_at is not None:
                platform = info.platform if info else ""
                DANMU_DISCONNECTS.labels(platform_label(platform)).inc()
                down_since = now
                if now - opened_at >= BACKOFF_MAX_SECS:
                    failures = 0
            delay = min(BACKOFF_MAX_SECS, BACKOFF_MIN_SECS * 2**failures)
            failures = min(failures + 1, 8)
            if not alerted and now - down_since >= self._alert_after:
                self._alert(DanmuAlertKind.DISCONNECTED, info, now - down_since)
                alerted = True
            # jitter in [0.75, 1.25) so a fleet of rooms does not reconnect in step
            await self._sleep(min(BACKOFF_MAX_SECS, delay * (0.75 + self._rng() / 2)))

    async def _converse(self, ws: ClientConnection, codec: DanmuCodec) -> None:
        for frame in codec.handshake():
            await ws.send(frame)
        beat = asyncio.create_task(self._heartbeat(ws, codec))
        messages = DANMU_MESSAGES.labels(platform_label(codec.platform))
        try:
            async for frame in ws:
                self.stats.frames += 1
                try:
                    decoded = codec.decode(frame, self._wall())
                except (ValueError, KeyError, IndexError, TypeError) as err:
                    # one malformed frame is skipped; the stream goes on
                    self.stats.decode_errors += 1
                    log.debug("undecodable %s frame: %s", codec.platform, err)
                    continue
                if decoded.items:
                    messages.inc(
                        sum(not isinstance(i, ControlEvent) for i in decoded.items)
                    )
                for item in decoded.items:
                    self._on_item(item)
                for reply in decoded.replies:
                    await ws.send(reply)
                if decoded.reconnect:
                    return
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _heartbeat(self, ws: ClientConnection, codec: DanmuCodec) -> None:
        while True:
            await self._sleep(codec.heartbeat_secs)
            frame = codec.heartbeat()
            if frame is None:
                return
            await ws.send(frame)
            self.stats.heartbeats += 1

    def _alert(
        self, kind: DanmuAlertKind, info: DanmuConnectInfo | None, secs: float
    ) -> None:
        platform, room = (info.platform, info.room_id) if info else ("", "")
        log.warning("danmu %s for %s room %s (%.0f s)", kind, platform, room, secs)
        if self._on_alert is not None:
            self._on_alert(
                DanmuAlert(kind, platform, room, secs, self.stats.last_error)
            )

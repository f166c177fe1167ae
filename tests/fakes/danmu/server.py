"""A loopback websocket server that speaks a chat protocol through a responder.

The responder gets each frame a client sends and returns the frames to answer
(auth replies, the next handshake step); tests push messages and drop connections
when they like, and wait on what the server saw rather than on time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection, serve

if TYPE_CHECKING:
    from websockets.asyncio.server import Server

Frame = bytes | str
Responder = Callable[[Frame], Sequence[Frame]]


class FakeChatServer:
    """Serves ws://127.0.0.1:<port>/; see the module docstring."""

    def __init__(
        self,
        responder: Responder = lambda _frame: (),
        greeting: Sequence[Frame] = (),
        subprotocols: Sequence[str] = (),
    ) -> None:
        self.responder = responder
        self.greeting = greeting  # sent as soon as a client connects
        self.subprotocols = subprotocols
        self.received: list[Frame] = []
        self.connections = 0
        self.headers: list[dict[str, str]] = []
        self.on_connect: Callable[[int], Sequence[Frame]] = lambda _n: ()
        self._live: set[ServerConnection] = set()
        self._changed = asyncio.Condition()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/sub"

    async def __aenter__(self) -> FakeChatServer:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            max_size=None,
            close_timeout=1,
            subprotocols=list(self.subprotocols) or None,  # type: ignore[arg-type]
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        self._live.add(ws)
        self.headers.append(dict(ws.request.headers) if ws.request else {})
        await self._bump(lambda: setattr(self, "connections", self.connections + 1))
        try:
            for frame in [*self.greeting, *self.on_connect(self.connections)]:
                await ws.send(frame)
            async for frame in ws:
                await self._bump(lambda f=frame: self.received.append(f))  # type: ignore[misc]
                for reply in self.responder(frame):
                    await ws.send(reply)
        except Exception:  # a dropped client is part of the tests
            pass
        finally:
            self._live.discard(ws)
            await self._bump(lambda: None)

    async def _bump(self, change: Callable[[], None]) -> None:
        async with self._changed:
            change()
            self._changed.notify_all()

    async def wait_until(self, check: Callable[[], bool], within: float = 20) -> None:
        """Wait for a state of the server (frames received, connections seen)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(check)

    async def wait_connected(self, count: int) -> None:
        """Wait for the `count`th connection to be open."""
        await self.wait_until(lambda: self.connections >= count and bool(self._live))

    async def push(self, *frames: Frame) -> None:
        """Send frames to every open connection."""
        for ws in list(self._live):
            for frame in frames:
                await ws.send(frame)

    async def drop(self) -> None:
        """Close every open connection abruptly."""
        for ws in list(self._live):
            ws.transport.abort()
        await self.wait_until(lambda: not self._live)

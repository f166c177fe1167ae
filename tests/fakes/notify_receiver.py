"""A local HTTP receiver standing in for Discord, Telegram, Gotify and webhooks.

It records every request (method, path, query, headers, body) and answers from a
script per path: a list of answers used in order, the last one repeating. An
answer is a status code, a `Reply` (status, headers, body), `HANG` (never answer,
so the client times out) or `CLOSE` (drop the connection).

    async with NotifyReceiver() as rx:
        rx.script("/hook", [500, 200])
        ... send to rx.url("/hook") ...
        await rx.wait_for(lambda: len(rx.requests) == 2)

Runs on the test's event loop (asyncio server on 127.0.0.1, HTTP/1.1 with
Content-Length bodies, one request per connection), so it serves both httpx and
the requests library Apprise uses from a worker thread.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

HANG = "hang"
CLOSE = "close"


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | dict[str, Any] = b""


Answer = int | Reply | str


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    stamp: Any = None

    def json(self) -> Any:
        return json.loads(self.body)


class NotifyReceiver:
    """The receiver; `stamp` (async) is awaited per request and kept with it."""

    def __init__(self, stamp: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.requests: list[Received] = []
        self.scripts: dict[str, list[Answer]] = {}
        self.stamp = stamp
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Event()
        self._hung: list[asyncio.StreamWriter] = []
        self.port = 0

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, answers: list[Answer]) -> None:
        self.scripts[path] = list(answers)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, predicate: Callable[[], bool], limit: float = 30) -> None:
        async with asyncio.timeout(limit):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for writer in self._hung:
            writer.close()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def _answer(self, path: str) -> Answer:
        answers = self.scripts.get(path, [200])
        return answers.pop(0) if len(answers) > 1 else answers[0]

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        parts = urlsplit(target)
        stamp = await self.stamp() if self.stamp else None
        self.requests.append(
            Received(method, parts.path, parse_qs(parts.query), headers, body, stamp)
        )
        self._changed.set()
        answer = self._answer(parts.path)
        if answer == HANG:
            self._hung.append(writer)
            return
        if answer == CLOSE:
            writer.close()
            return
        reply = answer if isinstance(answer, Reply) else Reply(status=int(answer))
        payload = reply.body
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
            reply.headers.setdefault("Content-Type", "application/json")
        status_line = f"HTTP/1.1 {reply.status} X\r\n"
        extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
        writer.write(
            (
                status_line
                + extra
                + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
            ).encode()
            + payload
        )
        try:
            await writer.drain()
        finally:
            writer.close()

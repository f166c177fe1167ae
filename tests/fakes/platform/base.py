"""The parts every fake platform shares: rooms, requests, replies, the API base.

A `PlatformApi` serves one platform's hosts. Its rooms (`room(ref, ...)`) change
state on command, from any thread: `go_live(stream_url)` (a real stream, e.g. a
`LiveHls` or `LiveFlvServer` URL), `go_offline()`, `set_state("banned")`. The API
builds each answer from the room as the platform would answer it today. Beyond
the rooms: `throttle(n)` answers the next n requests as the platform throttles,
`malformed = True` drops a field the extractor needs from the room answer.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs

LIVE = "live"
OFFLINE = "offline"
STATES = frozenset(
    {
        LIVE, OFFLINE, "not_found", "banned", "private", "region_locked", "hidden",
        "age_restricted",
    }
)  # fmt: skip


@dataclass
class Room:
    """One channel of a fake platform; the API reads it on every request."""

    ref: str
    title: str = "a fake broadcast"
    author: str = "fake streamer"
    category: str = "Just Chatting"
    extra: dict[str, Any] = field(default_factory=dict)
    state: str = OFFLINE
    stream_url: str | None = None

    def go_live(self, stream_url: str) -> None:
        """Broadcast `stream_url` (an HLS playlist or an FLV stream)."""
        self.stream_url = stream_url
        self.state = LIVE

    def go_offline(self) -> None:
        self.state = OFFLINE
        self.stream_url = None

    def set_state(self, state: str) -> None:
        """`not_found`, `banned`, `private`, `region_locked`, `hidden`, …"""
        assert state in STATES, state
        self.state = state


@dataclass
class FakeRequest:
    method: str
    host: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @classmethod
    def of(
        cls, method: str, host: str, target: str, headers: dict[str, str], body: bytes
    ) -> FakeRequest:
        path, _, query = target.partition("?")
        return cls(method, host, path, parse_qs(query), headers, body)

    def arg(self, name: str) -> str:
        return self.query.get(name, [""])[0]

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, **headers: str) -> Reply:
        body = json.dumps(data, ensure_ascii=False).encode()
        return cls(status, body, {"Content-Type": "application/json", **headers})

    @classmethod
    def text(
        cls, text: str, status: int = 200, content_type: str = "text/plain"
    ) -> Reply:
        return cls(status, text.encode(), {"Content-Type": content_type})


class PlatformApi:
    """Base of one platform's fake API; subclasses set `name`, `hosts`, `answer`."""

    name: ClassVar[str]
    hosts: ClassVar[tuple[str, ...]]

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.requests: list[FakeRequest] = []
        self.malformed = False
        self._throttled = 0
        self._lock = threading.Lock()

    def room(self, ref: str, **fields: Any) -> Room:
        """Create (or return) the room `ref`; `fields` set its Room attributes."""
        with self._lock:
            if ref not in self.rooms:
                self.rooms[ref] = Room(ref=ref, **fields)
            return self.rooms[ref]

    def throttle(self, requests: int) -> None:
        """Answer the next `requests` requests as the platform throttles."""
        with self._lock:
            self._throttled = requests

    def calls(self, path_part: str) -> int:
        """How many requests went to a path containing `path_part`."""
        return sum(path_part in r.path for r in self.requests)

    def handle(self, request: FakeRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            throttled = self._throttled > 0
            self._throttled -= throttled
        if throttled:
            return self.throttled(request)
        return self.answer(request)

    def answer(self, request: FakeRequest) -> Reply:
        raise NotImplementedError

    def throttled(self, request: FakeRequest) -> Reply:
        return Reply.json({"error": "Too Many Requests"}, 429, **{"Retry-After": "7"})

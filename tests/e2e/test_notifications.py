"""End to end: a stream going live and ending notifies each channel exactly once,
through a worker killed (SIGKILL) mid-recording and started again.

Two webhook channels, subscribed to stream_online and stream_offline, point at a
local HTTP receiver. The worker dies while it records (its activities and its
cached workflow with it); the new worker replays the streamer workflow, resumes
the recording once Temporal notices the missing heartbeats, and ends the session
when the stream does. Each channel has then received each event once: the event
keys and the delivery rows (each delivered, none pending) say nothing more is
coming, so the test waits on states, not on time.
"""

from __future__ import annotations

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.stack import Stack, wait_until
from tests.e2e.test_recording import (
    SESSION_END_SECS,
    WORKER_START_SECS,
    add_streamer,
    only_session,
    segments,
)
from tests.fakes.live_hls import LiveHls
from workflows import options as o

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import httpx

pytestmark = pytest.mark.e2e

CHANNELS = ("/one", "/two")
KINDS = ["stream_online", "stream_offline"]
# Temporal retries the killed attempt a heartbeat timeout after its last heartbeat
TAKEOVER_SECS = o.RECORD_HEARTBEAT_TIMEOUT.total_seconds() + 20


class Hooks:
    """A webhook receiver on loopback, in a thread: keeps each POST's JSON by path."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {}
        lock = threading.Lock()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    received.setdefault(self.path, []).append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass  # the test reads what came, not a log of it

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def types(self, path: str) -> list[str]:
        return [body["event"]["type"] for body in self.received.get(path, [])]

    def keys(self, path: str) -> list[str]:
        return [body["event"]["key"] for body in self.received.get(path, [])]


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    running = Hooks()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.fixture
def live(tmp_path: Path, ffmpeg: Path) -> Iterator[LiveHls]:
    # a window longer than the takeover: the resumed recording finds its place
    with LiveHls(
        tmp_path / "hls", ffmpeg=ffmpeg, hls_time=1.0, list_size=40, duration=900
    ) as stream:
        stream.wait_for_segments(1)
        yield stream


def add_channel(api: httpx.Client, hooks: Hooks, path: str) -> None:
    response = api.post(
        "/api/notifications/channels",
        json={
            "name": f"hook{path.replace('/', '-')}",
            "kind": "webhook",
            "config": {"url": hooks.url(path)},
            "event_types": KINDS,
        },
    )
    assert response.status_code == 201, response.text


def all_delivered(api: httpx.Client) -> bool:
    """Both events recorded, each delivered to both channels, nothing pending."""
    page = api.get("/api/notifications/events", params={"type": KINDS}).json()
    if sorted(e["type"] for e in page["items"]) != sorted(KINDS):
        return False
    for event in page["items"]:
        detail = api.get(f"/api/notifications/events/{event['id']}").json()
        statuses = [d["status"] for d in detail["deliveries"]]
        if statuses != ["delivered"] * len(CHANNELS):
            return False
    return True


def closed(api: httpx.Client, session_id: int) -> int:
    return sum(1 for s in segments(api, session_id) if s["completed_at"])


def test_online_and_offline_reach_each_channel_once_through_a_killed_worker(
    stack: Stack, live: LiveHls, hooks: Hooks
) -> None:
    stack.start("api")
    api = stack.api()
    stack.start("worker")
    for path in CHANNELS:
        add_channel(api, hooks, path)
    add_streamer(api, live)
    session = wait_until(lambda: only_session(api), WORKER_START_SECS, "a session")
    wait_until(
        lambda: all(hooks.types(p) == ["stream_online"] for p in CHANNELS),
        WORKER_START_SECS,
        "stream_online on both channels",
    )
    wait_until(lambda: closed(api, session["id"]) >= 1, 30, "a closed segment")

    stack.kill("worker", signal.SIGKILL)  # mid-recording
    stack.start("worker")
    before = closed(api, session["id"])
    wait_until(
        lambda: closed(api, session["id"]) > before,
        TAKEOVER_SECS,
        "the recording to resume on the new worker",
    )
    live.end_stream()
    wait_until(
        lambda: api.get(f"/api/sessions/{session['id']}").json()["end_time"],
        SESSION_END_SECS,
        "the session end",
    )
    wait_until(lambda: all_delivered(api), 30, "both events delivered everywhere")

    online = f"streamer-{session['streamer_id']}/session-{session['id']}"
    for path in CHANNELS:
        assert hooks.types(path) == KINDS, (path, hooks.received)
        assert hooks.keys(path) == [f"{online}/{kind}" for kind in KINDS]
    assert only_session(api) is not None  # one session, through the crash

"""Many synthetic live HLS channels on loopback, cheap enough for 10,000 streamers.

`FakeHls` serves `channels` generic HLS channels from one asyncio server (a small
HTTP/1.1 keep-alive protocol: one event loop, no threads, no encoder):

* `/live/<n>.m3u8`: while channel n is live, a sliding window of `window` segments
  whose media sequence advances by one every `target_secs` of wall time from the
  moment it went live; while offline, the last broadcast's window with
  `#EXT-X-ENDLIST` (or HTTP 404 with `offline_404`).
* `/live/<n>/<seq>.ts`: a segment of 188-byte MPEG-TS null packets (recorders
  fetch something; nothing here encodes media).
* `/_control/live?ids=1,2`, `/_control/offline?ids=…`: flip channels; the answer
  is the server's wall-clock time of the flip (`time.time()`), which is what
  detection latency is measured from.
* `/_control/stats`: requests served, in total and for playlists.

Channels may also flip on a schedule (`Flipper`): every `period` a random few
percent of the offline channels go live, and channels live for `live_secs` go
offline. The tests import this module (`tests/fakes` has no copy): `bench` must not
import `tests`, so the one implementation lives here.

    .venv/bin/python -m bench.fake_hls --channels 10000 --port 8999
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import re
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

log = logging.getLogger("bench.fake_hls")

_PLAYLIST = re.compile(r"/live/(\d+)\.m3u8\Z")
_SEGMENT = re.compile(r"/live/(\d+)/(\d+)\.ts\Z")
_NULL_PACKET = b"\x47\x1f\xff\x10" + b"\xff" * 184
SEGMENT_BODY = _NULL_PACKET * 64
MAX_HEAD = 16 * 1024


@dataclass
class Channel:
    """One channel's broadcast: when it went live, and when it ended (if it did)."""

    live_since: float | None = None
    ended_at: float | None = None
    base: int = 0  # media sequence of the broadcast's first segment
    requests: int = 0


@dataclass
class FakeHls:
    """The channels and their playlists (see the module docstring).

    Args:
        channels: how many (ids 0 … channels-1).
        target_secs: segment duration; the media sequence advances this often.
        window: segments in a live playlist.
        offline_404: an ended channel answers 404 instead of an ENDLIST playlist.
        clock: wall clock in seconds (replaceable in tests).
    """

    channels: int
    target_secs: float = 2.0
    window: int = 3
    offline_404: bool = False
    clock: Callable[[], float] = time.time
    host: str = "127.0.0.1"
    port: int = 0
    requests: int = 0
    playlist_requests: int = 0
    _state: dict[int, Channel] = field(default_factory=dict)
    _server: asyncio.Server | None = None

    # --- channels -----------------------------------------------------------------

    def channel(self, n: int) -> Channel:
        if not 0 <= n < self.channels:
            raise KeyError(n)
        found = self._state.get(n)
        if found is None:
            found = self._state[n] = Channel()
        return found

    def url(self, n: int) -> str:
        """The playlist URL of channel `n` (the server must be started)."""
        return f"http://{self.host}:{self.port}/live/{n}.m3u8"

    def is_live(self, n: int) -> bool:
        state = self._state.get(n)
        return state is not None and state.live_since is not None

    def live_ids(self) -> list[int]:
        return sorted(n for n, s in self._state.items() if s.live_since is not None)

    def set_live(self, ids: Iterable[int], live: bool) -> float:
        """Flip channels live or offline; returns the wall-clock time of the flip."""
        now = self.clock()
        for n in ids:
            state = self.channel(n)
            if live and state.live_since is None:
                # a new broadcast continues the numbering, as most origins do
                state.base = self._sequence(state, now) + 1
                state.live_since, state.ended_at = now, None
            elif not live and state.live_since is not None:
                state.base = self._sequence(state, now)
                state.live_since, state.ended_at = None, now
        return now

    def _sequence(self, state: Channel, now: float) -> int:
        """The media sequence of the newest published segment."""
        if state.live_since is None:
            return state.base
        return state.base + int((now - state.live_since) / self.target_secs)

    def playlist(self, n: int) -> tuple[int, bytes]:
        """Status and body of channel `n`'s playlist, now."""
        state = self._state.get(n) or Channel()
        if state.live_since is None and self.offline_404:
            return 404, b"not found\n"
        last = self._sequence(state, self.clock())
        first = max(state.base, last - self.window + 1)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{int(self.target_secs + 0.999)}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
        ]
        for seq in range(first, last + 1):
            lines += [f"#EXTINF:{self.target_secs:.3f},", f"{n}/{seq}.ts"]
        if state.live_since is None:
            lines.append("#EXT-X-ENDLIST")
        return 200, ("\n".join(lines) + "\n").encode()

    # --- HTTP ---------------------------------------------------------------------

    def answer(self, target: str) -> tuple[int, str, bytes]:
        """Status, content type and body for a GET of `target`."""
        self.requests += 1
        parts = urlsplit(target)
        path = parts.path
        found = _PLAYLIST.match(path)
        if found:
            n = int(found.group(1))
            self.playlist_requests += 1
            if n >= self.channels:
                return 404, "text/plain", b"no such channel\n"
            self.channel(n).requests += 1
            status, body = self.playlist(n)
            return status, "application/vnd.apple.mpegurl", body
        if _SEGMENT.match(path):
            return 200, "video/mp2t", SEGMENT_BODY
        if path.startswith("/_control/"):
            return self._control(path.removeprefix("/_control/"), parts.query)
        return 404, "text/plain", b"not found\n"

    def _control(self, what: str, query: str) -> tuple[int, str, bytes]:
        args = parse_qs(query)
        ids = [int(i) for raw in args.get("ids", []) for i in raw.split(",") if i]
        if what in ("live", "offline"):
            try:
                at = self.set_live(ids, what == "live")
            except KeyError as err:
                return 400, "text/plain", f"no channel {err}\n".encode()
            body = {"at": at, "ids": ids}
        elif what == "stats":
            body = {
                "requests": self.requests,
                "playlist_requests": self.playlist_requests,
                "live": len(self.live_ids()),
            }
        else:
            return 404, "text/plain", b"no such control\n"
        return 200, "application/json", json.dumps(body).encode()

    async def start(self) -> FakeHls:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Protocol(self), self.host, self.port, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 GETs with keep-alive; just enough for HTTP clients to talk to."""

    def __init__(self, fake: FakeHls) -> None:
        self.fake = fake
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self.transport.close()
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self._respond(head)

    def _respond(self, head: bytes) -> None:
        assert self.transport is not None
        lines = head.decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        target = rest.rpartition(" ")[0] or rest
        close = any(
            line.lower().replace(" ", "") == "connection:close" for line in lines[1:]
        )
        if method not in ("GET", "HEAD"):
            status, kind, body = 405, "text/plain", b"GET only\n"
        else:
            status, kind, body = self.fake.answer(target)
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
        header = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"{'Connection: close' if close else 'Connection: keep-alive'}\r\n\r\n"
        ).encode()
        self.transport.write(header + (b"" if method == "HEAD" else body))
        if close:
            self.transport.close()

    def connection_lost(self, _exc: Exception | None) -> None:
        self.transport = None


@dataclass
class Flipper:
    """Flips channels on a schedule: a few percent go live, and back offline.

    Args:
        fake: the channels.
        period: seconds between two rounds.
        fraction: of the offline channels, how many go live each round.
        live_secs: how long a channel stays live.
        seed: the random choice of channels is repeatable.
    """

    fake: FakeHls
    period: float
    fraction: float
    live_secs: float
    seed: int = 1
    flips: list[tuple[float, int, bool]] = field(default_factory=list)

    async def run(self) -> None:
        rng = random.Random(self.seed)
        while True:
            await asyncio.sleep(self.period)
            now = self.fake.clock()
            ending = [
                n
                for n in self.fake.live_ids()
                if now - (self.fake.channel(n).live_since or now) >= self.live_secs
            ]
            if ending:
                at = self.fake.set_live(ending, False)
                self.flips += [(at, n, False) for n in ending]
            offline = [n for n in range(self.fake.channels) if not self.fake.is_live(n)]
            count = min(len(offline), round(self.fake.channels * self.fraction))
            starting = rng.sample(offline, count)
            at = self.fake.set_live(starting, True)
            self.flips += [(at, n, True) for n in starting]
            log.info("flipped %d live, %d offline", len(starting), len(ending))


async def _serve(args: argparse.Namespace) -> None:
    fake = await FakeHls(
        args.channels,
        target_secs=args.target_secs,
        offline_404=args.offline_404,
        host=args.host,
        port=args.port,
    ).start()
    log.info("serving %d channels at %s", args.channels, fake.url(0))
    if args.flip_period:
        flipper = Flipper(fake, args.flip_period, args.flip_fraction, args.live_secs)
        asyncio.get_running_loop().create_task(flipper.run())
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--target-secs", type=float, default=2.0)
    parser.add_argument("--offline-404", action="store_true")
    parser.add_argument(
        "--flip-period", type=float, default=0.0, help="0: flip only on command"
    )
    parser.add_argument("--flip-fraction", type=float, default=0.01)
    parser.add_argument("--live-secs", type=float, default=120.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""DanmuConnection against local servers speaking each protocol."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from activities.danmu import (
    DanmuAlert,
    DanmuAlertKind,
    DanmuConnectInfo,
    DanmuConnection,
    DanmuItem,
    MessageKind,
)
from activities.metrics import REGISTRY
from tests.fakes.danmu.clock import SteppedClock
from tests.fakes.danmu.douyin_proto import douyin_pb2
from tests.fakes.danmu.frames import (
    bigo_text,
    bili_danmu,
    bili_frame,
    bili_responder,
    douyu_frame,
    gzip_bytes,
    huya_chat,
    soop_packet,
    twitch_privmsg,
)
from tests.fakes.danmu.server import FakeChatServer


class Run:
    """A connection task with a stepped clock, collecting what it decodes."""

    def __init__(self, info: DanmuConnectInfo, **kw: Any) -> None:
        self.clock = SteppedClock()
        self.items: list[DanmuItem] = []
        self.alerts: list[DanmuAlert] = []
        self.conn = DanmuConnection(
            info,
            self.items.append,
            on_alert=self.alerts.append,
            clock=self.clock,
            sleep=self.clock.sleep,
            wall=lambda: 1000.0,
            rng=lambda: 0.5,
            **kw,
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Run:
        self.task = asyncio.create_task(self.conn.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task

    async def wait_items(self, count: int, within: float = 20) -> None:
        async with asyncio.timeout(within):
            while len(self.items) < count:  # noqa: ASYNC110 - polls a plain list
                await asyncio.sleep(0.005)


def bili(url: str) -> DanmuConnectInfo:
    return DanmuConnectInfo(
        platform="bilibili", room_id="22608112", ws_urls=[url], token="k"
    )


def ops(server: FakeChatServer) -> list[int]:
    return [
        struct.unpack_from(">I", f, 8)[0]
        for f in server.received
        if isinstance(f, bytes)
    ]


async def test_bilibili_heartbeat_on_schedule_and_every_compression() -> None:
    async with FakeChatServer(bili_responder) as server, Run(bili(server.url)) as run:
        await server.wait_until(lambda: ops(server) == [7])  # auth first
        await run.clock.wait_sleeping(1)
        assert run.clock.slept == [30.0]
        assert ops(server) == [7]
        for beat in (1, 2, 3):
            await run.clock.advance(29.9)
            await run.clock.advance(0.1)
            await server.wait_until(lambda b=beat: ops(server).count(2) == b)  # type: ignore[misc]
            await run.clock.wait_sleeping(beat + 1)
        assert run.clock.slept == [30.0] * 4
        assert run.conn.stats.heartbeats == 3
        for version in (0, 2, 3):
            await server.push(bili_frame([bili_danmu(version, f"v{version}")], version))
        await run.wait_items(3)
        assert [m.text for m in run.items] == ["v0", "v2", "v3"]  # type: ignore[union-attr]


async def test_reconnect_backoff_and_alert_after_five_minutes() -> None:
    async with FakeChatServer(bili_responder) as server:
        url = server.url
    # the server is gone: every attempt fails; time only moves when we say
    async with Run(bili(url)) as run:
        delays: list[float] = []
        while sum(delays) < 400:
            await run.clock.wait_sleeping(len(delays) + 1)
            delays.append(run.clock.slept[-1])
            await run.clock.advance(delays[-1])
        assert delays[:5] == [5.0, 10.0, 20.0, 40.0, 60.0]  # rng 0.5: no jitter
        assert set(delays[5:]) == {60.0}
        [alert] = run.alerts
        assert alert.kind is DanmuAlertKind.DISCONNECTED
        assert alert.down_secs >= 300
        assert "Error" in alert.last_error or "refused" in alert.last_error.lower()


def counted(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"platform": "bilibili"}) or 0.0


async def test_recovers_after_a_drop_and_reports_it() -> None:
    messages = counted("srec_danmu_messages_total")
    drops = counted("srec_danmu_disconnects_total")
    async with FakeChatServer(bili_responder) as server, Run(bili(server.url)) as run:
        await server.wait_connected(1)
        await server.push(bili_frame([bili_danmu(1, "before")]))
        await run.wait_items(1)
        await server.drop()
        await run.clock.wait_sleeping(2)  # the heartbeat's, then the backoff's
        await run.clock.advance(run.clock.slept[-1])
        await server.wait_connected(2)
        await server.push(bili_frame([bili_danmu(2, "after")]))
        await run.wait_items(2)
        assert run.conn.stats.connects == 2
        assert run.alerts == []
        # the worker's series: two messages, one connection that ended
        assert counted("srec_danmu_messages_total") - messages == 2
        assert counted("srec_danmu_disconnects_total") - drops == 1


async def test_malformed_frames_are_counted_and_skipped() -> None:
    async with FakeChatServer(bili_responder) as server, Run(bili(server.url)) as run:
        await server.wait_connected(1)
        await server.push(
            b"\x00\x00\x00\x14\x00\x10\x00\x03\x00\x00\x00\x05\x00\x00\x00\x00junk",
            "text?",
        )
        await server.push(bili_frame([bili_danmu(1, "fine")]))
        await run.wait_items(1)
        assert run.conn.stats.decode_errors == 2
        assert run.conn.stats.connects == 1


async def test_twitch_reconnect_request_moves_to_a_new_connection() -> None:
    def respond(frame: bytes | str) -> Sequence[bytes | str]:
        return (
            [":tmi.twitch.tv PONG tmi.twitch.tv :tmi.twitch.tv\r\n"]
            if frame == "PING :tmi.twitch.tv"
            else []
        )

    async with FakeChatServer(respond) as server:
        info = DanmuConnectInfo(
            platform="twitch", room_id="pajlada", ws_urls=[server.url]
        )
        async with Run(info) as run:
            await server.wait_until(lambda: "JOIN #pajlada" in server.received)
            await server.push("PING :tmi.twitch.tv\r\n" + twitch_privmsg(1, "hi"))
            await server.wait_until(lambda: "PONG :tmi.twitch.tv" in server.received)
            await server.push(":tmi.twitch.tv RECONNECT\r\n")
            await run.clock.wait_sleeping(2)
            await run.clock.advance(run.clock.slept[-1])
            await server.wait_until(lambda: server.received.count("JOIN #pajlada") == 2)
            assert [m.text for m in run.items] == ["hi"]  # type: ignore[union-attr]


def douyin_chat_frame() -> bytes:
    pb = douyin_pb2()
    im = pb.Webcast.Im
    chat = im.ChatMessage(
        common=im.Common(msg_id=1),
        user=pb.Webcast.Data.User(id=1, nickname="d"),
        content="dy",
    )
    response = im.Response(need_ack=True, internal_ext="e")
    response.messages.add(method="WebcastChatMessage", payload=chat.SerializeToString())
    frame = im.PushFrame(
        LogID=5, payload_type="msg", payload=gzip_bytes(response.SerializeToString())
    )
    data: bytes = frame.SerializeToString()
    return data


Case = tuple[
    dict[str, Any],
    Callable[[bytes | str], Sequence[bytes | str]],
    Sequence[bytes | str],
    bytes | str,
    Sequence[str],
]

CASES: dict[str, Case] = {
    "douyu": (
        {"room_id": "1"},
        lambda f: [],
        (),
        douyu_frame({"type": "chatmsg", "nn": "n", "txt": "dy", "cid": "1"}),
        ["subprotocol-free"],
    ),
    "huya": ({"room_id": "42"}, lambda f: [], (), huya_chat("hy", 1, "n", 1), []),
    "douyin": ({"room_id": "7"}, lambda f: [], (), douyin_chat_frame(), []),
    "twitcasting": (
        {"room_id": "c"},
        lambda f: [],
        (),
        json.dumps(
            [
                {
                    "type": "comment",
                    "id": 1,
                    "message": "tc",
                    "author": {"id": "a", "name": "A"},
                }
            ]
        ),
        [],
    ),
    "soop": (
        {"room_id": "bj", "token": "ftk", "params": {"chatno": "9"}},
        lambda f: (
            [soop_packet(1, ["ok"])]
            if isinstance(f, bytes) and f[2:6] == b"0001"
            else []
        ),
        (),
        soop_packet(5, ["sp", "u", "0", "0", "ko", "n"]),
        ["chat"],
    ),
    "bigo": (
        {"room_id": "r", "token": "t", "params": {"user_id": "u", "device_id": "d"}},
        lambda f: (
            ['512535{"res":"200"}']
            if isinstance(f, str) and f.startswith("512279")
            else []
        ),
        ['256{"challenge":"0123456789"}'],
        bigo_text(1, "u", {"n": "n", "m": "bg"}, "1"),
        [],
    ),
}


@pytest.mark.parametrize("platform", [pytest.param(p, id=p) for p in CASES])
async def test_every_protocol_end_to_end(platform: str) -> None:
    fields, responder, greeting, message, subprotocols = CASES[platform]
    sub = [s for s in subprotocols if s == "chat"]
    async with FakeChatServer(responder, greeting, sub) as server:
        info = DanmuConnectInfo(platform=platform, ws_urls=[server.url], **fields)
        async with Run(info) as run:
            await server.wait_connected(1)
            if platform == "soop":  # chat flows once JOINCH was sent
                await server.wait_until(
                    lambda: any(
                        isinstance(f, bytes) and f[2:6] == b"0002"
                        for f in server.received
                    )
                )
            if platform == "bigo":
                await server.wait_until(
                    lambda: any(str(f).startswith("1304") for f in server.received)
                )
            await server.push(message)
            await run.wait_items(1)
            [item] = run.items
            assert item.kind is MessageKind.CHAT
            assert item.received_at == 1000.0
            await run.clock.wait_sleeping(1)
            await run.clock.advance(run.clock.slept[0])
            if platform != "twitcasting":  # it has no heartbeat of its own
                await server.wait_until(lambda: run.conn.stats.heartbeats == 1)
            if platform == "douyin":
                ack = douyin_pb2().Webcast.Im.PushFrame.FromString(server.received[0])
                assert (ack.payload_type, ack.LogID) == ("ack", 5)


async def test_a_room_never_resolved_still_raises_the_alert() -> None:
    async def unreachable() -> DanmuConnectInfo:
        raise OSError("platform API down")

    # the platform's answer fails every time: no room was ever resolved
    async with Run(unreachable, alert_after_secs=300.0) as run:  # type: ignore[arg-type]
        elapsed, sleeps = 0.0, 0
        while not run.alerts:
            sleeps += 1  # each failure sleeps once: wait for the next one
            await run.clock.wait_sleeping(sleeps)
            elapsed += run.clock.slept[sleeps - 1]
            await run.clock.advance(run.clock.slept[sleeps - 1])
        [alert] = run.alerts
        assert (alert.platform, alert.room_id) == ("", "")
        assert "platform API down" in alert.last_error
        assert elapsed >= 300


async def test_urls_are_rewritten_before_connecting() -> None:
    async with FakeChatServer(bili_responder) as server:
        info = bili("wss://broadcastlv.chat.bilibili.com/sub")
        local = server.url
        async with Run(info, rewrite_url=lambda _url: local) as run:
            await server.wait_connected(1)
            await server.push(bili_frame([bili_danmu(1, "here")]))
            await run.wait_items(1)
        assert run.conn.stats.connects == 1

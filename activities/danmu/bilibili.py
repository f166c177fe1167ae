"""Bilibili live chat: binary packets over a websocket.

Every packet has a 16-byte big-endian header (total length, header length, protocol
version, operation, sequence). Version 0 bodies are JSON, 1 a popularity count,
2 zlib and 3 brotli hold further packets. We authenticate with operation 7 (a JSON
body carrying the danmu-info token), send operation 2 every 30 s, and read
operation 5 notifications: `{"cmd": "DANMU_MSG", ...}`.

Connection info: `room_id` is the real (long) room id, `token` the key from
getDanmuInfo and `ws_urls` its host list. Guest by default; with the user's cookie,
its DedeUserID and buvid3 go into the auth body (the cookie header itself is not
sent on the websocket, as the web client does not).
"""

from __future__ import annotations

import base64
import json
import logging
import struct
import zlib
from typing import Any, ClassVar

import brotli

from activities.danmu import protowire
from activities.danmu.codec import DanmuCodec
from activities.danmu.models import (
    ControlEvent,
    ControlKind,
    DanmuItem,
    DanmuMessage,
    Decoded,
    Frame,
    MessageKind,
)

log = logging.getLogger(__name__)

HEADER = struct.Struct(">IHHII")
OP_HEARTBEAT, OP_HEARTBEAT_REPLY, OP_NOTIFICATION, OP_AUTH, OP_AUTH_REPLY = (
    2,
    3,
    5,
    7,
    8,
)
VER_RAW, VER_POPULARITY, VER_ZLIB, VER_BROTLI = 0, 1, 2, 3
# INTERACT_WORD msg_type: 1 entered, 2 followed, 4 special-followed, 5 mutual follow
_FOLLOW_TYPES = frozenset({2, 4, 5})
_CLOSED_CMDS = frozenset({"PREPARING", "CUT_OFF", "ROOM_LOCK"})


def pack(body: bytes, operation: int, version: int = 1, sequence: int = 1) -> bytes:
    """One packet: the 16-byte header, then `body`."""
    return (
        HEADER.pack(HEADER.size + len(body), HEADER.size, version, operation, sequence)
        + body
    )


def unpack(data: bytes) -> list[tuple[int, bytes]]:
    """Split a frame into (operation, body) packets, inflating compressed ones.

    Honours each header's declared length: a heartbeat reply declares 20 bytes and
    is followed by an echo that is not a packet.

    Raises:
        ValueError: a compressed body does not inflate.
    """
    packets: list[tuple[int, bytes]] = []
    pos, end = 0, len(data)
    while end - pos >= HEADER.size:
        length, header_len, version, operation, _ = HEADER.unpack_from(data, pos)
        if length < HEADER.size or length > end - pos or header_len > length:
            break
        body = data[pos + header_len : pos + length]
        pos += length
        if version == VER_BROTLI:
            packets += unpack(_inflate(brotli.decompress, body))
        elif version == VER_ZLIB:
            packets += unpack(_inflate(zlib.decompress, body))
        else:
            packets.append((operation, body))
    return packets


def _inflate(decompress: Any, body: bytes) -> bytes:
    try:
        result: bytes = decompress(body)
    except Exception as err:  # brotli.error and zlib.error share no base class
        raise ValueError(f"compressed packet does not inflate: {err}") from err
    return result


class BilibiliCodec(DanmuCodec):
    """Bilibili's danmaku websocket protocol."""

    platform: ClassVar[str] = "bilibili"
    default_urls: ClassVar[tuple[str, ...]] = (
        "wss://broadcastlv.chat.bilibili.com/sub",
    )
    heartbeat_secs: ClassVar[float] = 30.0
    origin: ClassVar[str] = "https://live.bilibili.com"

    def headers(self) -> dict[str, str]:
        """Origin and User-Agent only: the web client sends no cookie here."""
        return {"User-Agent": self.info.user_agent, "Origin": self.origin}

    def handshake(self) -> list[Frame]:
        """The auth packet: guest (uid 0) unless the cookie names a logged-in user."""
        uid = self.cookie_value("DedeUserID")
        auth: dict[str, Any] = {
            "uid": int(uid) if uid.isdigit() and self.cookie_value("SESSDATA") else 0,
            "roomid": int(self.info.room_id),
            "protover": VER_BROTLI,
            "platform": "web",
            "type": 2,
            "key": self.info.token,
        }
        buvid = self.cookie_value("buvid3")
        if buvid:
            auth["buvid"] = buvid
        body = json.dumps(auth, separators=(",", ":")).encode()
        return [pack(body, OP_AUTH)]

    def heartbeat(self) -> Frame:
        """Operation 2 with the body the web client sends."""
        return pack(b"[object Object]", OP_HEARTBEAT)

    def decode(self, frame: Frame, now: float) -> Decoded:
        """Decode a binary frame of one or more packets."""
        if isinstance(frame, str):
            raise ValueError("bilibili sends binary frames only")
        out = Decoded()
        for operation, body in unpack(frame):
            if operation == OP_NOTIFICATION:
                item = parse_command(json.loads(body), now)
                if item is not None:
                    out.items.append(item)
            elif operation == OP_AUTH_REPLY and json.loads(body).get("code", 0) != 0:
                log.warning("bilibili danmu auth refused: %s", body[:200])
                out.reconnect = True
        return out


def parse_command(cmd: dict[str, Any], now: float) -> DanmuItem | None:
    """Turn one notification into a message or control event (None: not recorded)."""
    name = str(cmd.get("cmd", "")).split(":", 1)[0]
    data = cmd.get("data") or {}
    if name == "DANMU_MSG":
        return _danmu(cmd["info"], now)
    if name == "SEND_GIFT":
        free = data.get("coin_type") == "silver"
        return DanmuMessage(
            MessageKind.GIFT,
            str(data.get("uid", "")),
            str(data.get("uname", "")),
            received_at=now,
            id=_id(data.get("tid") or data.get("rnd")),
            sent_at_ms=int(data.get("timestamp", 0)) * 1000 or None,
            gift_name=str(data.get("giftName", "")),
            count=int(data.get("num", 1)),
            price=0 if free else int(data.get("price", 0)),
            currency="" if free else "CNY",
        )
    if name == "SUPER_CHAT_MESSAGE":
        user = data.get("user_info") or {}
        return DanmuMessage(
            MessageKind.SUPER_CHAT,
            str(data.get("uid", "")),
            str(user.get("uname", "")),
            str(data.get("message", "")),
            received_at=now,
            id=_id(data.get("id")),
            sent_at_ms=int(data.get("ts", 0)) * 1000 or None,
            color=_hex_color(data.get("background_bottom_color")),
            mode=5,
            price=int(float(data.get("price", 0)) * 1000),
            currency="CNY",
            duration_secs=int(data.get("time", 0)),
        )
    if name == "GUARD_BUY":
        return DanmuMessage(
            MessageKind.GUARD,
            str(data.get("uid", "")),
            str(data.get("username", "")),
            received_at=now,
            id=_id(data.get("payflow_id")),
            sent_at_ms=int(data.get("start_time", 0)) * 1000 or None,
            gift_name=str(data.get("gift_name", "")),
            count=int(data.get("num", 1)),
            price=int(data.get("price", 0)),
            currency="CNY",
            level=int(data.get("guard_level", 0)),
        )
    if name == "INTERACT_WORD":
        return _interact(
            int(data.get("msg_type", 0)),
            str(data.get("uid", "")),
            str(data.get("uname", "")),
            int(data.get("timestamp", 0)),
            now,
        )
    if name == "INTERACT_WORD_V2":
        # field numbers follow INTERACT_WORD's JSON order: uid 1, uname 2,
        # msg_type 5, timestamp 7
        pb = protowire.parse(base64.b64decode(data.get("pb", "")))
        return _interact(
            protowire.get_int(pb, 5),
            str(protowire.get_int(pb, 1)),
            protowire.get_str(pb, 2),
            protowire.get_int(pb, 7),
            now,
        )
    if name in _CLOSED_CMDS:
        return ControlEvent(ControlKind.STREAM_CLOSED, detail=name, received_at=now)
    if name == "LIVE":
        return ControlEvent(ControlKind.STREAM_STARTED, detail=name, received_at=now)
    if name == "ROOM_CHANGE":
        return ControlEvent(
            ControlKind.ROOM_CHANGED,
            title=data.get("title") or None,
            category=data.get("area_name") or None,
            received_at=now,
        )
    return None


def _danmu(info: list[Any], now: float) -> DanmuMessage:
    meta, user = info[0], info[2]
    extra: dict[str, Any] = {}
    if len(meta) > 15 and isinstance(meta[15], dict):
        try:
            extra = json.loads(meta[15].get("extra") or "{}")
        except json.JSONDecodeError:
            extra = {}
    return DanmuMessage(
        MessageKind.CHAT,
        str(user[0]),
        str(user[1]),
        str(info[1]),
        received_at=now,
        id=extra.get("id_str") or None,
        sent_at_ms=int(meta[4]) or None,
        color=int(meta[3]),
        mode=int(meta[1]),
        size=int(meta[2]),
    )


def _interact(
    msg_type: int, uid: str, uname: str, timestamp: int, now: float
) -> DanmuMessage | None:
    if msg_type == 1:
        kind = MessageKind.USER_JOIN
    elif msg_type in _FOLLOW_TYPES:
        kind = MessageKind.FOLLOW
    else:
        return None
    return DanmuMessage(
        kind, uid, uname, received_at=now, sent_at_ms=timestamp * 1000 or None
    )


def _id(value: Any) -> str | None:
    return str(value) if value not in (None, "", 0) else None


def _hex_color(value: Any) -> int:
    try:
        return int(str(value).lstrip("#"), 16) & 0xFFFFFF
    except ValueError:
        return 0xFFFFFF

"""Douyu chat: STT text records in little-endian binary envelopes over a websocket.

A packet is: length (u32 LE, counting everything after itself), the same length
again, message type (u16 LE: 689 client → server, 690 server → client), two zero
bytes, the STT body, a NUL. STT is `key@=value/` pairs with `@` escaped as `@A` and
`/` as `@S`. We send `loginreq` and `joingroup` (group -9999, everyone), then
`mrkl` every 45 s; the server pushes `chatmsg` (chat), `dgb` (gift), `uenter`
(join), `anbc`/`rnewbc` (noble purchase), `rss` (stream on/off).

Connection info: `room_id` is the numeric room id.
"""

from __future__ import annotations

import struct
from typing import ClassVar

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

CLIENT_TYPE, SERVER_TYPE = 689, 690
_HEAD = struct.Struct("<IIHBB")
# Douyu's chat colour codes (col) as the web client renders them
_COLORS = {1: 0xFF0000, 2: 0x1E90FF, 3: 0x7AC84B, 4: 0xFF7F00, 5: 0x9B39F4, 6: 0xFF69B4}


def stt_escape(value: str) -> str:
    """Escape one STT key or value."""
    return value.replace("@", "@A").replace("/", "@S")


def stt_unescape(value: str) -> str:
    """Undo `stt_escape`."""
    return value.replace("@S", "/").replace("@A", "@")


def stt_encode(pairs: dict[str, str]) -> str:
    """Serialise a flat record."""
    return "".join(f"{stt_escape(k)}@={stt_escape(v)}/" for k, v in pairs.items())


def stt_decode(body: str) -> dict[str, str]:
    """Parse a flat record; nested values stay escaped strings."""
    record: dict[str, str] = {}
    for part in body.split("/"):
        key, sep, value = part.partition("@=")
        if sep:
            record[stt_unescape(key)] = stt_unescape(value)
    return record


def pack(body: str, msg_type: int = CLIENT_TYPE) -> bytes:
    """One envelope around an STT body."""
    data = body.encode() + b"\0"
    length = len(data) + 8
    return _HEAD.pack(length, length, msg_type, 0, 0) + data


def unpack(data: bytes) -> list[str]:
    """Every STT body of a frame (several packets may share one).

    Raises:
        ValueError: a header's two lengths disagree.
    """
    bodies: list[str] = []
    pos = 0
    while len(data) - pos >= _HEAD.size:
        length, again, _, _, _ = _HEAD.unpack_from(data, pos)
        if length != again:
            raise ValueError("douyu packet lengths disagree")
        end = pos + 4 + length
        if length < 8 or end > len(data):
            break
        bodies.append(
            data[pos + _HEAD.size : end].rstrip(b"\0").decode("utf-8", "replace")
        )
        pos = end
    return bodies


class DouyuCodec(DanmuCodec):
    """Douyu's STT danmaku protocol."""

    platform: ClassVar[str] = "douyu"
    default_urls: ClassVar[tuple[str, ...]] = ("wss://danmuproxy.douyu.com:8506/",)
    heartbeat_secs: ClassVar[float] = 45.0
    origin: ClassVar[str] = "https://www.douyu.com"

    def handshake(self) -> list[Frame]:
        """Log in to the room and join the all-users group."""
        rid = self.info.room_id
        return [
            pack(stt_encode({"type": "loginreq", "roomid": rid})),
            pack(stt_encode({"type": "joingroup", "rid": rid, "gid": "-9999"})),
        ]

    def heartbeat(self) -> Frame:
        """The `mrkl` keep-alive."""
        return pack(stt_encode({"type": "mrkl"}))

    def decode(self, frame: Frame, now: float) -> Decoded:
        """Decode the packets of a binary frame."""
        if isinstance(frame, str):
            raise ValueError("douyu sends binary frames only")
        out = Decoded()
        for body in unpack(frame):
            item = parse_record(stt_decode(body), now)
            if item is not None:
                out.items.append(item)
        return out


def _int(record: dict[str, str], key: str, default: int = 0) -> int:
    value = record.get(key, "")
    return int(value) if value.lstrip("-").isdigit() else default


def parse_record(rec: dict[str, str], now: float) -> DanmuItem | None:
    """Turn one STT record into a message or control event (None: not recorded)."""
    kind = rec.get("type", "")
    uid, name = rec.get("uid", ""), rec.get("nn", "")
    if kind == "chatmsg":
        return DanmuMessage(
            MessageKind.CHAT,
            uid,
            name,
            rec.get("txt", ""),
            received_at=now,
            id=rec.get("cid") or None,
            color=_COLORS.get(_int(rec, "col"), 0xFFFFFF),
        )
    if kind == "dgb":
        return DanmuMessage(
            MessageKind.GIFT,
            uid,
            name,
            received_at=now,
            # gfid is a gift type, not an event: name it, but never dedupe on it
            gift_name=rec.get("gfn") or f"gift {rec.get('gfid', '')}".strip(),
            count=max(1, _int(rec, "gfcnt", 1)),
        )
    if kind == "uenter":
        return DanmuMessage(MessageKind.USER_JOIN, uid, name, received_at=now)
    if kind in ("anbc", "rnewbc"):
        return DanmuMessage(
            MessageKind.GUARD,
            uid or rec.get("donerid", ""),
            name or rec.get("unk", ""),
            received_at=now,
            gift_name=f"noble {rec.get('nl', '')}".strip(),
            level=_int(rec, "nl"),
        )
    if kind == "rss":
        live = rec.get("ss") == "1"
        return ControlEvent(
            ControlKind.STREAM_STARTED if live else ControlKind.STREAM_CLOSED,
            detail="rss",
            received_at=now,
        )
    return None

"""Douyin chat: protobuf `PushFrame`s over a websocket, gzip payloads, acks.

Each binary frame is a `PushFrame` (log id 2, headers 5, payload type 7, payload 8)
whose payload is a gzip-compressed `Response` (messages 1, internal_ext 5,
need_ack 9). Each `Message` names its `method` (WebcastChatMessage, …) and carries
its own protobuf payload. When `need_ack` is set we answer at once with a
`PushFrame{log_id, payload_type "ack", payload internal_ext}`; every 10 s we send
`PushFrame{payload_type "hb"}`. Field numbers come from the published schema
(tests/resources/danmu/douyin/douyin.proto).

The websocket URL needs Douyin's request signature, so the platform module builds
it: connection info `ws_urls` is required; the cookie (ttwid) is sent as a header.
"""

from __future__ import annotations

import gzip
import zlib
from typing import ClassVar

from activities.danmu import protowire as pw
from activities.danmu.codec import DanmuCodec, DanmuProtocolError
from activities.danmu.models import (
    ControlEvent,
    ControlKind,
    DanmuItem,
    DanmuMessage,
    Decoded,
    Frame,
    MessageKind,
)

# SocialMessage.action: 1 = followed (3 = shared, not recorded)
_FOLLOW_ACTION = 1
# ControlMessage.action 3 = the stream ended
_ENDED_ACTION = 3


def push_frame(payload_type: str, payload: bytes = b"", log_id: int = 0) -> bytes:
    """Encode a client `PushFrame`."""
    pairs: list[tuple[int, int | str | bytes]] = []
    if log_id:
        pairs.append((2, log_id))
    pairs.append((7, payload_type))
    if payload:
        pairs.append((8, payload))
    return pw.encode(pairs)


class DouyinCodec(DanmuCodec):
    """Douyin's webcast push protocol."""

    platform: ClassVar[str] = "douyin"
    heartbeat_secs: ClassVar[float] = 10.0
    origin: ClassVar[str] = "https://live.douyin.com"

    def urls(self) -> list[str]:
        """The signed URLs the platform module built.

        Raises:
            DanmuProtocolError: there are none (Douyin has no unsigned endpoint).
        """
        if not self.info.ws_urls:
            raise DanmuProtocolError("douyin danmu needs a signed ws_url")
        return list(self.info.ws_urls)

    def handshake(self) -> list[Frame]:
        """Nothing: the signed URL is the login."""
        return []

    def heartbeat(self) -> Frame:
        """`PushFrame{payload_type: "hb"}` (bytes 3a 02 68 62)."""
        return push_frame("hb")

    def decode(self, frame: Frame, now: float) -> Decoded:
        """Decode one push frame, acknowledging it when asked."""
        if isinstance(frame, str):
            raise ValueError("douyin sends binary frames only")
        outer = pw.parse(frame)
        payload = pw.get_bytes(outer, 8)
        if pw.get_str(outer, 7) not in ("msg", ""):
            return Decoded()  # heartbeat echoes and the like
        headers = {
            pw.get_str(h, 1): pw.get_str(h, 2)
            for h in map(pw.parse, pw.repeated(outer, 5))
        }
        if (
            headers.get("compress_type", "gzip") == "gzip"
            and payload[:2] == b"\x1f\x8b"
        ):
            try:
                payload = gzip.decompress(payload)
            except (OSError, EOFError, zlib.error) as err:
                raise ValueError(f"douyin payload does not inflate: {err}") from err
        response = pw.parse(payload)
        out = Decoded()
        if pw.get_int(response, 9):
            out.replies.append(
                push_frame("ack", pw.get_bytes(response, 5), pw.get_int(outer, 2))
            )
        for raw in pw.repeated(response, 1):
            message = pw.parse(raw)
            item = parse_message(pw.get_str(message, 1), pw.get_bytes(message, 2), now)
            if item is not None:
                out.items.append(item)
        return out


def _user(fields: pw.Fields, number: int) -> tuple[str, str]:
    user = pw.get_message(fields, number)
    uid = pw.get_int(user, 1)
    return (str(uid) if uid else "", pw.get_str(user, 3))


def _common(fields: pw.Fields) -> tuple[str | None, int | None]:
    common = pw.get_message(fields, 1)
    msg_id, created = pw.get_int(common, 2), pw.get_int(common, 4)
    return (str(msg_id) if msg_id else None, created or None)


def parse_message(method: str, payload: bytes, now: float) -> DanmuItem | None:
    """Turn one `Message` into a message or control event (None: not recorded)."""
    if method == "WebcastControlMessage":
        fields = pw.parse(payload)
        if pw.get_int(fields, 2) == _ENDED_ACTION:
            return ControlEvent(
                ControlKind.STREAM_CLOSED, detail=pw.get_str(fields, 3), received_at=now
            )
        return None
    if method not in _USER_METHODS:
        return None
    fields = pw.parse(payload)
    msg_id, created = _common(fields)
    if method == "WebcastChatMessage":
        uid, name = _user(fields, 2)
        sent = pw.get_int(fields, 15) * 1000 or created
        return DanmuMessage(
            MessageKind.CHAT,
            uid,
            name,
            pw.get_str(fields, 3),
            received_at=now,
            id=msg_id,
            sent_at_ms=sent,
        )
    if method == "WebcastGiftMessage":
        uid, name = _user(fields, 7)
        gift = pw.get_message(fields, 15)
        count = pw.get_int(fields, 29) or pw.get_int(fields, 6) or pw.get_int(fields, 5)
        return DanmuMessage(
            MessageKind.GIFT,
            uid,
            name,
            received_at=now,
            id=msg_id,
            sent_at_ms=created,
            gift_name=pw.get_str(gift, 16),
            count=max(1, count),
            # one diamond (抖币) is 0.1 CNY: 100 thousandths
            price=pw.get_int(gift, 12) * 100,
            currency="CNY",
        )
    uid, name = _user(fields, 2)
    if method == "WebcastMemberMessage":
        kind = MessageKind.USER_JOIN
    elif pw.get_int(fields, 4) == _FOLLOW_ACTION:  # WebcastSocialMessage
        kind = MessageKind.FOLLOW
    else:
        return None
    return DanmuMessage(kind, uid, name, received_at=now, id=msg_id, sent_at_ms=created)


_USER_METHODS = frozenset(
    {
        "WebcastChatMessage",
        "WebcastGiftMessage",
        "WebcastMemberMessage",
        "WebcastSocialMessage",
    }
)

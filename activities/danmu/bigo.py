"""Bigo Live chat: `<event id>{json}` text frames over a websocket.

The server opens with a challenge (event 256); we answer it (79108, an MD5 over the
web client's constants, the time and the challenge's tail) and log in as the guest
the platform module obtained from getWebSocketLink (512279). Once the login is
accepted (512535, res 200) we enter the room (1304). Chat arrives as event 2584
whose payload's base64 `content` is JSON (`n` nick, `m` text); tag 6 is a gift. A
ping (791) goes out every 10 s.

Connection info: `room_id` the Bigo room id, `token` the guest `uidToken`, params
`user_id` and `device_id` (required) and `password` for a protected room.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any, ClassVar

from activities.danmu.codec import DanmuCodec
from activities.danmu.models import DanmuMessage, Decoded, Frame, MessageKind

EID_CHALLENGE, EID_CHALLENGE_REPLY = 256, 79108
EID_LOGIN, EID_LOGIN_REPLY, EID_ENTER, EID_TEXT, EID_PING = (
    512279,
    512535,
    1304,
    2584,
    791,
)
TAG_CHAT, TAG_DANMAKU, TAG_GIFT = 1, 2, 6


def pack(event: int, body: dict[str, Any]) -> str:
    """One frame."""
    return f"{event}{json.dumps(body, separators=(',', ':'), ensure_ascii=False)}"


def unpack(frame: str) -> tuple[int, dict[str, Any]]:
    """Split a frame into its event id and JSON body.

    Raises:
        ValueError: it is not `<digits>{json}`.
    """
    brace = frame.find("{")
    if brace <= 0 or not frame[:brace].strip().isdigit():
        raise ValueError(f"not a bigo frame: {frame[:40]!r}")
    body = json.loads(frame[brace:])
    if not isinstance(body, dict):
        raise ValueError("bigo frame body is not an object")
    return int(frame[:brace]), body


class BigoCodec(DanmuCodec):
    """Bigo's web chat protocol."""

    platform: ClassVar[str] = "bigo"
    default_urls: ClassVar[tuple[str, ...]] = (
        "wss://wss.bigolive.tv/live/official/web",
    )
    heartbeat_secs: ClassVar[float] = 10.0
    origin: ClassVar[str] = "https://www.bigo.tv"

    def handshake(self) -> list[Frame]:
        """Nothing: the server speaks first (its challenge)."""
        self.require("user_id")
        self.require("device_id")
        return []

    def heartbeat(self) -> Frame:
        """The room ping."""
        ms = str(int(time.time() * 1000))
        return pack(EID_PING, {"status": "0", "seqid": ms, "flag": "0", "roomId": "0"})

    def _challenge_reply(self, challenge: str) -> str:
        stamp = str(int(time.time()))
        material = f"60#4#5#{stamp}#1#1#1#1#{challenge[-8:]}"
        sign = hashlib.md5(material.encode()).hexdigest()
        return pack(
            EID_CHALLENGE_REPLY,
            {
                "appId": "60",
                "osType": "4",
                "clientVersion": "5",
                "timeStamp": stamp,
                "nonce": "1",
                "reservedForSecurity": "1",
                "appSign": "1",
                "redundancy": "1",
                "sign": sign,
            },
        )

    def decode(self, frame: Frame, now: float) -> Decoded:
        """Decode one frame, driving the challenge → login → enter handshake."""
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        event, body = unpack(text)
        out = Decoded()
        params = self.info.params
        if event == EID_CHALLENGE and body.get("challenge"):
            out.replies.append(self._challenge_reply(str(body["challenge"])))
            out.replies.append(
                pack(
                    EID_LOGIN,
                    {
                        "uid": params["user_id"],
                        "cookie": self.info.token,
                        "deviceId": params["device_id"],
                        "clientType": "7",
                        "lang": "en",
                    },
                )
            )
        elif event == EID_LOGIN_REPLY and str(body.get("res")) == "200":
            out.replies.append(
                pack(
                    EID_ENTER,
                    {
                        "secretKey": params.get("password") or "0",
                        "roomId": self.info.room_id,
                        "seqId": str(int(now * 1000)),
                        "clientType": "7",
                        "version": "15",
                        "deviceid": params["device_id"],
                        "other": [],
                    },
                )
            )
        elif event == EID_TEXT:
            item = parse_text(body, now)
            if item is not None:
                out.items.append(item)
        return out


def parse_text(body: dict[str, Any], now: float) -> DanmuMessage | None:
    """Turn one room text event into a message (None: a tag we do not record)."""
    payload = body.get("payload") or {}
    tag = int(payload.get("tag", 0) or 0)
    if tag not in (TAG_CHAT, TAG_DANMAKU, TAG_GIFT):
        return None
    content = json.loads(base64.b64decode(str(payload.get("content", ""))) or b"{}")
    uid = str(payload.get("uid") or body.get("from_uid") or "")
    seq = payload.get("seqId") or body.get("seqId")
    msg_id = str(seq) if seq else None
    nick = str(content.get("n") or content.get("nick") or uid)
    if tag == TAG_GIFT:
        count = content.get("c") or content.get("count") or 1
        return DanmuMessage(
            MessageKind.GIFT,
            uid,
            nick,
            received_at=now,
            id=msg_id,
            gift_name=str(content.get("giftName") or content.get("name") or "gift"),
            count=max(1, int(count)),
        )
    text = str(content.get("m") or content.get("msg") or "")
    if not text:
        return None
    return DanmuMessage(MessageKind.CHAT, uid, nick, text, received_at=now, id=msg_id)

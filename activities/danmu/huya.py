"""Huya chat: TARS-encoded `WebSocketCommand`s, with WUP requests inside.

Every frame is a bare `WebSocketCommand` struct (0 iCmdType, 1 vData). We join the
room's broadcast groups with a RegisterGroupReq (type 16: `live:<uid>` and
`chat:<uid>`), and every 60 s send a WupReq (type 3) wrapping the `onlineui` /
`OnUserHeartBeat` call the web player makes. Pushes arrive as MsgPushReq (type 7):
a `WSPushMessage` (1 iUri, 2 sMsg, 5 lMsgId) whose sMsg is, for uri 1400, a
`MessageNotice` (chat) and, for uri 6501, a `SendItemSubBroadcastPacket` (gift).
Tag numbers follow Huya's web client (HUYA.* classes of its TAF bundle).

Connection info: `room_id` is the presenter uid (lYyid); optional params `top_sid`
and `sub_sid` (the channel ids) go into the heartbeat; `token` into the register.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any, ClassVar

from activities.danmu.codec import DanmuCodec
from activities.danmu.models import DanmuMessage, Decoded, Frame, MessageKind
from activities.danmu.tars import Struct, decode_struct, encode_struct

CMD_WUP_REQ, CMD_MSG_PUSH, CMD_REGISTER_GROUP = 3, 7, 16
URI_CHAT, URI_GIFT = 1400, 6501


def command(cmd_type: int, data: bytes) -> bytes:
    """A bare `WebSocketCommand`."""
    return encode_struct({0: cmd_type, 1: data})


def wup_request(servant: str, func: str, request: Struct) -> bytes:
    """A version-3 WUP `RequestPacket` (length-prefixed) calling `servant.func`."""
    body = {"tReq": encode_struct({0: request})}
    packet = encode_struct(
        {
            1: 3,
            2: 0,
            3: 0,
            4: 0,
            5: servant,
            6: func,
            7: encode_struct({0: body}),
            8: 0,
            9: {},
            10: {},
        }
    )
    return struct.pack(">I", len(packet) + 4) + packet


class HuyaCodec(DanmuCodec):
    """Huya's TARS websocket protocol."""

    platform: ClassVar[str] = "huya"
    default_urls: ClassVar[tuple[str, ...]] = ("wss://cdnws.api.huya.com:443",)
    heartbeat_secs: ClassVar[float] = 60.0
    origin: ClassVar[str] = "https://www.huya.com"

    def _uid(self) -> int:
        if not self.info.room_id.isdigit():
            raise ValueError(
                f"huya room_id must be the presenter uid: {self.info.room_id!r}"
            )
        return int(self.info.room_id)

    def handshake(self) -> list[Frame]:
        """Join the presenter's live and chat groups."""
        uid = self._uid()
        register = encode_struct(
            {0: [f"live:{uid}", f"chat:{uid}"], 1: self.info.token}
        )
        return [command(CMD_REGISTER_GROUP, register)]

    def heartbeat(self) -> Frame:
        """The player's `OnUserHeartBeat` WUP call."""
        ua = f"webh5&{datetime.now(UTC):%y%m%d%H%M}&websocket"
        user = Struct({0: 0, 1: "", 2: "", 3: ua, 4: ""})
        params = self.info.params
        request = Struct(
            {
                0: user,
                1: int(params.get("top_sid", 0)),
                2: int(params.get("sub_sid", 0)),
                4: self._uid(),
                5: True,
                6: 1,
            }
        )
        return command(CMD_WUP_REQ, wup_request("onlineui", "OnUserHeartBeat", request))

    def decode(self, frame: Frame, now: float) -> Decoded:
        """Decode one command; only message pushes carry chat."""
        if isinstance(frame, str):
            raise ValueError("huya sends binary frames only")
        cmd = decode_struct(frame)
        out = Decoded()
        if cmd.get(0) != CMD_MSG_PUSH or not isinstance(cmd.get(1), bytes):
            return out
        push = decode_struct(cmd[1])
        body = push.get(2)
        if not isinstance(body, bytes):
            return out
        msg_id = str(push[5]) if push.get(5) else None
        item = parse_push(int(push.get(1, 0)), decode_struct(body), now, msg_id)
        if item is not None:
            out.items.append(item)
        return out


def parse_push(
    uri: int, fields: dict[int, Any], now: float, msg_id: str | None
) -> DanmuMessage | None:
    """Turn one pushed struct into a message (None: a uri we do not record)."""
    if uri == URI_CHAT:
        sender: dict[int, Any] = fields.get(0) or {}
        bullet: dict[int, Any] = fields.get(6) or {}
        color = int(bullet.get(0, -1))
        return DanmuMessage(
            MessageKind.CHAT,
            str(sender.get(0, "")),
            str(sender.get(2, "")),
            str(fields.get(3, "")),
            received_at=now,
            id=msg_id,
            color=color & 0xFFFFFF if color > 0 else 0xFFFFFF,
        )
    if uri == URI_GIFT:
        return DanmuMessage(
            MessageKind.GIFT,
            str(fields.get(4, "")),
            str(fields.get(6, "")),
            received_at=now,
            id=str(fields[1]) if fields.get(1) else msg_id,  # strPayId
            gift_name=f"item {fields.get(0, '')}",
            count=max(1, int(fields.get(2, 1))),
        )
    return None

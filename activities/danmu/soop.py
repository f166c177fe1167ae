"""SOOP (AfreecaTV) chat: text records in a fixed ASCII envelope over a websocket.

A packet is ESC TAB, the service code (4 digits), the body length (6 digits), "00",
then the body: fields each preceded by FF (0x0c) and a final FF. We send LOGIN
(service 1, guest flag 16) on open and JOINCH (2) with the chat room number and the
`ftk` ticket once LOGIN is answered; KEEPALIVE (0) every 60 s. CHATMESG (5) is chat,
balloons, fan letters, chocolates and gems are gifts, SENDSUBSCRIPTION (108) a
subscription.

Connection info: `ws_urls` (`wss://<chdomain>:<chpt+1>/Websocket/<bjid>` from the
player API), `token` the ftk, params `chatno` (required) and `password`.
"""

from __future__ import annotations

from typing import ClassVar

from activities.danmu.codec import DanmuCodec, DanmuProtocolError
from activities.danmu.models import DanmuMessage, Decoded, Frame, MessageKind

FF, ACK, DC1, DC2 = "\x0c", "\x06", "\x11", "\x12"
SVC_KEEPALIVE, SVC_LOGIN, SVC_JOINCH, SVC_CHATMESG = 0, 1, 2, 5
SVC_SUBSCRIPTION = 108
# service -> (gift name, uid field, nick field, count field)
_GIFTS = {
    18: ("balloon", 1, 2, 3),
    33: ("balloon", 1, 2, 3),
    20: ("fan letter", 2, 3, 7),
    34: ("fan letter", 2, 3, 7),
    37: ("chocolate", 1, 2, 3),
    38: ("chocolate", 1, 2, 3),
    120: ("gem", 1, 2, 3),
}
BALLOON_PRICE = 100_000  # one star balloon is about 100 KRW, in thousandths


def pack(service: int, fields: list[str]) -> bytes:
    """One packet."""
    body = (FF + FF.join(fields) + FF if fields else FF).encode()
    return f"\x1b\t{service:04d}{len(body):06d}00".encode() + body


def unpack(data: bytes) -> list[tuple[int, list[str]]]:
    """Every (service, fields) packet of a frame.

    Raises:
        ValueError: a header is not ESC TAB + digits.
    """
    out: list[tuple[int, list[str]]] = []
    pos = 0
    while len(data) - pos >= 14:
        head = data[pos : pos + 14]
        if head[:2] != b"\x1b\t" or not head[2:12].isdigit():
            raise ValueError(f"not a SOOP packet header: {head!r}")
        service, length = int(head[2:6]), int(head[6:12])
        body = data[pos + 14 : pos + 14 + length].decode("utf-8", "replace")
        pos += 14 + length
        out.append((service, body.strip(FF).split(FF) if body.strip(FF) else []))
    return out


class SoopCodec(DanmuCodec):
    """SOOP's chat protocol."""

    platform: ClassVar[str] = "soop"
    heartbeat_secs: ClassVar[float] = 60.0
    origin: ClassVar[str] = "https://play.sooplive.co.kr"

    def urls(self) -> list[str]:
        """The chat server URL from the player API.

        Raises:
            DanmuProtocolError: there is none.
        """
        if not self.info.ws_urls:
            raise DanmuProtocolError("soop danmu needs the chat server ws_url")
        return list(self.info.ws_urls)

    def subprotocols(self) -> list[str]:
        """SOOP's chat servers speak the `chat` subprotocol."""
        return ["chat"]

    def handshake(self) -> list[Frame]:
        """A guest LOGIN."""
        self.require("chatno")
        return [pack(SVC_LOGIN, ["", "", "16"])]

    def heartbeat(self) -> Frame:
        """KEEPALIVE."""
        return pack(SVC_KEEPALIVE, [])

    def _join(self) -> bytes:
        log = "".join(
            f"{ACK}&{ACK}{k}{ACK}={ACK}{v}"
            for k, v in (
                ("set_bps", "8000"),
                ("view_bps", "1000"),
                ("quality", "normal"),
            )
        )
        password = self.info.params.get("password", "")
        info = f"log{DC1}{log}{DC2}pwd{DC1}{password}{DC2}auth_info{DC1}NULL{DC2}"
        return pack(
            SVC_JOINCH, [self.require("chatno"), self.info.token, "0", "", info]
        )

    def decode(self, frame: Frame, now: float) -> Decoded:
        """Decode the packets of a binary frame; answer LOGIN with JOINCH."""
        data = frame.encode() if isinstance(frame, str) else frame
        out = Decoded()
        for service, fields in unpack(data):
            if service == SVC_LOGIN:
                out.replies.append(self._join())
            elif service == SVC_CHATMESG and len(fields) > 1 and fields[0]:
                nick = fields[5] if len(fields) > 5 and fields[5] else fields[1]
                out.items.append(
                    DanmuMessage(
                        MessageKind.CHAT, fields[1], nick, fields[0], received_at=now
                    )
                )
            elif service in _GIFTS:
                out.items.append(_gift(service, fields, now))
            elif service == SVC_SUBSCRIPTION and len(fields) > 2:
                out.items.append(
                    DanmuMessage(
                        MessageKind.GUARD,
                        fields[1],
                        fields[2],
                        received_at=now,
                        gift_name="subscription",
                    )
                )
        return out


def _gift(service: int, fields: list[str], now: float) -> DanmuMessage:
    name, uid_at, nick_at, count_at = _GIFTS[service]

    def field(i: int) -> str:
        return fields[i] if i < len(fields) else ""

    count = field(count_at)
    return DanmuMessage(
        MessageKind.GIFT,
        field(uid_at),
        field(nick_at) or field(uid_at),
        received_at=now,
        gift_name=name,
        count=max(1, int(count)) if count.isdigit() else 1,
        price=BALLOON_PRICE if name == "balloon" else 0,
        currency="KRW" if name == "balloon" else "",
    )

"""What flows through the danmu package: connection info in, messages and events out.

`DanmuConnectInfo` is what a platform module produces for a room (inside the
activity, never in a workflow payload: it can hold the user's cookie). Codecs turn
frames into `DanmuMessage`s (what people said and gave) and `ControlEvent`s (what
happened to the room). Messages are plain slotted dataclasses: thousands are made per
second, and a pydantic model per message would cost more than the decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, Field

Frame = bytes | str
"""One websocket message: binary protocols use bytes, text protocols str."""


class DanmuConnectInfo(BaseModel):
    """How to reach one room's chat, as the platform module resolved it.

    Holds credentials (`cookie`, `token`): build it inside the danmu activity and
    never pass it through a Temporal payload. Both are left out of `repr`.
    """

    platform: str = Field(description="Lowercase platform name (bilibili, twitch, …)")
    room_id: str = Field(
        description="The id the chat protocol joins: Bilibili's real room id, the "
        "Twitch channel login, Douyu's rid, Huya's presenter uid, Douyin's room id…"
    )
    ws_urls: list[str] = Field(
        default_factory=list,
        description="Websocket URLs to try in turn, rotating on each reconnect; "
        "empty = the protocol's public default",
    )
    token: str = Field(
        default="",
        repr=False,
        description="Per-connection auth token (Bilibili danmu-info key, SOOP ftk…)",
    )
    cookie: str = Field(
        default="",
        repr=False,
        description="The user's cookie header; empty = a guest connection",
    )
    user_agent: str = Field(
        default="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0 Safari/537.36",
        description="User-Agent of the websocket handshake",
    )
    params: dict[str, str] = Field(
        default_factory=dict,
        description="Protocol-specific values; each codec documents the keys it reads",
    )


class MessageKind(StrEnum):
    """What a chat message is."""

    CHAT = "chat"
    GIFT = "gift"
    SUPER_CHAT = "super_chat"
    GUARD = "guard"  # Bilibili guard purchase, Twitch/SOOP subscription
    USER_JOIN = "user_join"
    FOLLOW = "follow"
    SYSTEM = "system"  # moderation, raids, announcements


# The kinds a Bilibili-style XML file records (as BililiveRecorder does); the rest
# only feed the statistics.
XML_KINDS = frozenset(
    {MessageKind.CHAT, MessageKind.GIFT, MessageKind.SUPER_CHAT, MessageKind.GUARD}
)


@dataclass(slots=True, frozen=True)
class DanmuMessage:
    """One chat message or paid event, as received.

    Attributes:
        kind: what it is.
        user_id: the sender's platform id (empty when the platform hides it).
        user_name: the sender's display name.
        text: what was said (chat, super chat, sub message).
        received_at: wall-clock time of receipt (epoch seconds); places it in a file.
        id: the platform's message id when it gives one; deduplicates reconnects.
        sent_at_ms: the platform's own timestamp (epoch ms), when it gives one.
        color: 0xRRGGBB.
        mode: Bilibili display mode (1 scroll, 4 bottom, 5 top).
        size: font size (Bilibili's 25 = normal).
        gift_name: gift, guard or subscription tier name.
        count: how many gifts / months.
        price: unit price in thousandths of the platform's currency (Bilibili's
            gold: 1000 = 1 CNY; Twitch: 1 bit = 1000).
        currency: the currency `price` is counted in (CNY, bits, …); empty = free.
        duration_secs: how long a super chat stays pinned.
        level: guard level (1 governor … 3 captain) or subscription tier.
    """

    kind: MessageKind
    user_id: str
    user_name: str
    text: str = ""
    received_at: float = 0.0
    id: str | None = None
    sent_at_ms: int | None = None
    color: int = 0xFFFFFF
    mode: int = 1
    size: int = 25
    gift_name: str = ""
    count: int = 1
    price: int = 0
    currency: str = ""
    duration_secs: int = 0
    level: int = 0

    @property
    def value(self) -> float:
        """Total worth in whole currency units (price * count / 1000)."""
        return self.price * self.count / 1000


class ControlKind(StrEnum):
    """Something that happened to the room rather than in its chat."""

    STREAM_CLOSED = "stream_closed"
    STREAM_STARTED = "stream_started"
    ROOM_CHANGED = "room_changed"


@dataclass(slots=True, frozen=True)
class ControlEvent:
    """A room event (stream closed, title changed) decoded from the chat stream."""

    kind: ControlKind
    detail: str = ""
    title: str | None = None
    category: str | None = None
    received_at: float = 0.0


DanmuItem = DanmuMessage | ControlEvent


@dataclass(slots=True)
class Decoded:
    """What one received frame produced.

    Attributes:
        items: messages and control events, in order.
        replies: frames to send back at once (PONG, acks, the next handshake step).
        reconnect: the server asked us to reconnect now (Twitch RECONNECT).
    """

    items: list[DanmuItem] = field(default_factory=list)
    replies: list[Frame] = field(default_factory=list)
    reconnect: bool = False


class DanmuAlertKind(StrEnum):
    """Why the connection raised an alert."""

    DISCONNECTED = "disconnected"
    RECOVERED = "recovered"


@dataclass(slots=True, frozen=True)
class DanmuAlert:
    """The chat has been unreachable too long (or is back after such an outage)."""

    kind: DanmuAlertKind
    platform: str
    room_id: str
    down_secs: float
    last_error: str = ""

"""TwitCasting comments: JSON event lists pushed over a websocket.

The platform module asks `eventpubsuburl.php` (with the movie id, and the password
of a protected stream) for a one-time websocket URL: connection info `ws_urls` is
required. The client sends nothing; every text frame is a JSON array of events
(`{"type": "comment", "id", "message", "createdAt", "author": {...}}`, and `gift`
events with `item` and `sender`).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from activities.danmu.codec import DanmuCodec, DanmuProtocolError
from activities.danmu.models import DanmuMessage, Decoded, Frame, MessageKind


class TwitcastingCodec(DanmuCodec):
    """TwitCasting's event pub-sub websocket."""

    platform: ClassVar[str] = "twitcasting"
    origin: ClassVar[str] = "https://twitcasting.tv"

    def urls(self) -> list[str]:
        """The one-time URL from eventpubsuburl.php.

        Raises:
            DanmuProtocolError: there is none.
        """
        if not self.info.ws_urls:
            raise DanmuProtocolError("twitcasting danmu needs the pub-sub ws_url")
        return list(self.info.ws_urls)

    def handshake(self) -> list[Frame]:
        """Nothing: subscribing is the URL itself."""
        return []

    def heartbeat(self) -> Frame | None:
        """None: websocket pings keep the socket alive."""
        return None

    def decode(self, frame: Frame, now: float) -> Decoded:
        """Decode a JSON event or event list."""
        events = json.loads(frame)
        out = Decoded()
        for event in events if isinstance(events, list) else [events]:
            item = parse_event(event, now) if isinstance(event, dict) else None
            if item is not None:
                out.items.append(item)
        return out


def _who(user: Any) -> tuple[str, str]:
    if not isinstance(user, dict):
        return "", ""
    uid = str(user.get("id") or user.get("screenName") or user.get("screen_id") or "")
    name = str(user.get("name") or user.get("screenName") or uid)
    return uid, name


def parse_event(event: dict[str, Any], now: float) -> DanmuMessage | None:
    """Turn one event into a message (None: a type we do not record)."""
    kind = event.get("type")
    msg_id = str(event["id"]) if event.get("id") is not None else None
    created = event.get("createdAt")
    sent = int(created) if isinstance(created, int | float) else None
    if kind == "comment":
        uid, name = _who(event.get("author") or event.get("from_user"))
        return DanmuMessage(
            MessageKind.CHAT,
            uid,
            name,
            str(event.get("message", "")),
            received_at=now,
            id=msg_id,
            sent_at_ms=sent,
        )
    if kind == "gift":
        uid, name = _who(event.get("sender") or event.get("author"))
        item = event.get("item") or {}
        return DanmuMessage(
            MessageKind.GIFT,
            uid,
            name,
            str(event.get("message", "")),
            received_at=now,
            id=msg_id,
            sent_at_ms=sent,
            gift_name=str(item.get("name", "")) if isinstance(item, dict) else "",
        )
    return None

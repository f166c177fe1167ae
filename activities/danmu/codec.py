"""The protocol seam: one sans-IO codec per chat protocol.

A codec never touches the network. `DanmuConnection` opens the websocket, sends what
`handshake()` returns, sends `heartbeat()` every `heartbeat_secs`, and hands every
received frame to `decode()`, which returns messages, control events and the frames
to send back. A fresh codec is built for every connection attempt, so handshake state
(Bigo's challenge, SOOP's login) never leaks across a reconnect.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from activities.danmu.models import DanmuConnectInfo, Decoded, Frame


class DanmuProtocolError(ValueError):
    """The connection info cannot be used by this protocol (a missing parameter)."""


class DanmuCodec(ABC):
    """Base of every chat protocol.

    Attributes:
        platform: the platform name it serves (`DanmuConnectInfo.platform`).
        default_urls: public endpoints used when the info names none.
        heartbeat_secs: how often `heartbeat()` is sent.
        origin: the Origin header the platform's web client sends.
    """

    platform: ClassVar[str]
    default_urls: ClassVar[tuple[str, ...]] = ()
    heartbeat_secs: ClassVar[float] = 30.0
    origin: ClassVar[str] = ""

    def __init__(self, info: DanmuConnectInfo) -> None:
        self.info = info

    def urls(self) -> list[str]:
        """Websocket URLs to try, in order."""
        return list(self.info.ws_urls) or list(self.default_urls)

    def headers(self) -> dict[str, str]:
        """Extra headers of the websocket handshake."""
        headers = {"User-Agent": self.info.user_agent}
        if self.origin:
            headers["Origin"] = self.origin
        if self.info.cookie:
            headers["Cookie"] = self.info.cookie
        return headers

    def subprotocols(self) -> list[str]:
        """Websocket subprotocols to offer (none by default)."""
        return []

    @abstractmethod
    def handshake(self) -> list[Frame]:
        """Frames to send right after the websocket opens."""

    @abstractmethod
    def heartbeat(self) -> Frame | None:
        """The frame to send every `heartbeat_secs` (None: the protocol has none)."""

    @abstractmethod
    def decode(self, frame: Frame, now: float) -> Decoded:
        """Decode one received frame; `now` stamps the messages (epoch seconds).

        Raises:
            ValueError: the frame is malformed (the connection counts and skips it).
        """

    def require(self, key: str) -> str:
        """A `params` value this protocol cannot work without.

        Raises:
            DanmuProtocolError: it is missing or empty.
        """
        value = self.info.params.get(key, "")
        if not value:
            raise DanmuProtocolError(
                f"{self.platform} danmu needs params[{key!r}] in its connection info"
            )
        return value

    def cookie_value(self, name: str) -> str:
        """One value of the user's cookie ('' when absent)."""
        # by hand: http.cookies drops a whole header on one value it dislikes
        for part in self.info.cookie.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                return value.strip()
        return ""

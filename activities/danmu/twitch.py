"""Twitch chat: IRC over a websocket, read anonymously.

We log in as `justinfan<digits>` (Twitch's read-only anonymous nick), request the
tags and commands capabilities, and join `#<room_id>` (the channel login). One
websocket text frame may carry several CRLF-terminated IRC lines. Cheers (PRIVMSG
with `bits`) are gifts, USERNOTICE carries subscriptions, gifted subs and raids,
CLEARCHAT/CLEARMSG are moderation, PING wants a PONG and RECONNECT a new
connection.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from activities.danmu.codec import DanmuCodec
from activities.danmu.models import DanmuMessage, Decoded, Frame, MessageKind

# IRCv3 tag escapes (https://ircv3.net/specs/extensions/message-tags)
_TAG_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_SUB_TIERS = {"1000": 1, "2000": 2, "3000": 3, "Prime": 1}
# list prices in thousandths of a USD, so subscriptions rank beside cheers
_SUB_PRICES = {"1000": 4990, "2000": 9990, "3000": 24990, "Prime": 4990}
_SUB_IDS = frozenset({"sub", "resub"})
_GIFT_SUB_IDS = frozenset({"subgift", "anonsubgift"})
_MYSTERY_IDS = frozenset({"submysterygift", "anonsubmysterygift"})


def unescape_tag(value: str) -> str:
    """Undo IRCv3 tag escaping; an unknown escape keeps its letter, a lone `\\` goes."""
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(_TAG_ESCAPES.get(following, following))
        else:
            out.append(char)
    return "".join(out)


@dataclass(slots=True)
class IrcLine:
    """One parsed IRC line; `params` excludes the trailing one."""

    tags: dict[str, str]
    prefix: str
    command: str
    params: list[str]
    trailing: str = ""

    @property
    def nick(self) -> str:
        """The nick of the prefix (`nick!user@host`)."""
        return self.prefix.split("!", 1)[0]

    @property
    def text(self) -> str:
        """The trailing parameter without a CTCP ACTION wrapper (`/me`)."""
        text = self.trailing
        if text.startswith("\x01ACTION ") and text.endswith("\x01"):
            return text[8:-1]
        return text


def parse_line(line: str) -> IrcLine:
    """Parse one IRC line (without its CRLF).

    Raises:
        ValueError: the line has no command.
    """
    tags: dict[str, str] = {}
    rest = line
    if rest.startswith("@"):
        raw_tags, _, rest = rest[1:].partition(" ")
        for item in raw_tags.split(";"):
            key, _, value = item.partition("=")
            tags[key] = unescape_tag(value)
    rest = rest.lstrip(" ")
    prefix = ""
    if rest.startswith(":"):
        prefix, _, rest = rest[1:].partition(" ")
    head, sep, trailing = rest.partition(" :")
    words = head.split()
    if not words:
        raise ValueError(f"IRC line without a command: {line[:80]!r}")
    # `trailing` is only the ` :` parameter: a bare `#channel` is not message text
    return IrcLine(tags, prefix, words[0].upper(), words[1:], trailing if sep else "")


class TwitchCodec(DanmuCodec):
    """Twitch IRC over websocket, anonymous and read-only."""

    platform: ClassVar[str] = "twitch"
    default_urls: ClassVar[tuple[str, ...]] = ("wss://irc-ws.chat.twitch.tv:443",)
    # Twitch PINGs us about every 5 minutes; our own PING keeps NATs and proxies
    # from dropping an idle socket and shows a dead one within a minute
    heartbeat_secs: ClassVar[float] = 60.0

    def headers(self) -> dict[str, str]:
        """No cookie: the anonymous login needs none."""
        return {"User-Agent": self.info.user_agent}

    def handshake(self) -> list[Frame]:
        """Capabilities, the anonymous login and the JOIN."""
        channel = self.info.room_id.lstrip("#").lower()
        return [
            "CAP REQ :twitch.tv/tags twitch.tv/commands",
            "PASS SCHMOOPIIE",
            f"NICK justinfan{random.randint(10_000, 99_999)}",
            f"JOIN #{channel}",
        ]

    def heartbeat(self) -> Frame:
        """A client PING; the server answers PONG."""
        return "PING :tmi.twitch.tv"

    def decode(self, frame: Frame, now: float) -> Decoded:
        """Decode every IRC line of a text frame."""
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        out = Decoded()
        for raw in text.split("\n"):
            raw = raw.rstrip("\r")
            if raw:
                self._line(parse_line(raw), now, out)
        return out

    def _line(self, line: IrcLine, now: float, out: Decoded) -> None:
        if line.command == "PING":
            out.replies.append(f"PONG :{line.trailing or 'tmi.twitch.tv'}")
        elif line.command == "RECONNECT":
            out.reconnect = True
        elif line.command == "PRIVMSG":
            out.items.extend(_privmsg(line, now))
        elif line.command == "USERNOTICE":
            out.items.append(_usernotice(line, now))
        elif line.command == "CLEARCHAT":
            out.items.append(_clearchat(line, now))
        elif line.command == "CLEARMSG":
            login = line.tags.get("login", "")
            out.items.append(
                _system(line, now, f"message by {login} deleted: {line.text}")
            )


def _user(line: IrcLine) -> tuple[str, str]:
    login = line.tags.get("login") or line.nick
    return line.tags.get("user-id", ""), line.tags.get("display-name") or login


def _sent_ms(line: IrcLine) -> int | None:
    value = line.tags.get("tmi-sent-ts", "")
    return int(value) if value.isdigit() else None


def _color(line: IrcLine) -> int:
    value = line.tags.get("color", "").lstrip("#")
    try:
        return int(value, 16) & 0xFFFFFF if value else 0xFFFFFF
    except ValueError:
        return 0xFFFFFF


def _privmsg(line: IrcLine, now: float) -> list[DanmuMessage]:
    uid, name = _user(line)
    text = line.text
    msg_id = line.tags.get("id") or None
    chat = DanmuMessage(
        MessageKind.CHAT,
        uid,
        name,
        text,
        received_at=now,
        id=msg_id,
        sent_at_ms=_sent_ms(line),
        color=_color(line),
    )
    bits = line.tags.get("bits", "")
    if not bits.isdigit():
        return [chat]
    cheer = DanmuMessage(
        MessageKind.GIFT,
        uid,
        name,
        received_at=now,
        id=f"{msg_id}:bits" if msg_id else None,
        sent_at_ms=chat.sent_at_ms,
        gift_name="bits",
        count=int(bits),
        price=1000,
        currency="bits",
    )
    return [chat, cheer]


def _usernotice(line: IrcLine, now: float) -> DanmuMessage:
    uid, name = _user(line)
    kind_id = line.tags.get("msg-id", "")
    plan = line.tags.get("msg-param-sub-plan", "")
    common = {
        "received_at": now,
        "id": line.tags.get("id") or None,
        "sent_at_ms": _sent_ms(line),
    }
    if kind_id in _SUB_IDS | _GIFT_SUB_IDS | _MYSTERY_IDS:
        if kind_id in _MYSTERY_IDS:
            count = line.tags.get("msg-param-mass-gift-count", "1")
        elif kind_id in _SUB_IDS:
            count = line.tags.get("msg-param-cumulative-months", "1")
        else:
            count = line.tags.get("msg-param-gift-months", "1")
        return DanmuMessage(
            MessageKind.GUARD,
            uid,
            name,
            line.text or line.tags.get("system-msg", ""),
            gift_name=line.tags.get("msg-param-sub-plan-name") or plan,
            count=int(count) if count.isdigit() else 1,
            price=_SUB_PRICES.get(plan, 0),
            currency="USD" if plan in _SUB_PRICES else "",
            level=_SUB_TIERS.get(plan, 0),
            **common,  # type: ignore[arg-type]
        )
    text = line.tags.get("system-msg", "") or kind_id
    if line.text:
        text = f"{text} {line.text}".strip()
    return DanmuMessage(MessageKind.SYSTEM, uid, name, text, **common)  # type: ignore[arg-type]


def _clearchat(line: IrcLine, now: float) -> DanmuMessage:
    target = line.trailing
    duration = line.tags.get("ban-duration")
    if not target:
        text = "chat cleared"
    elif duration:
        text = f"{target} timed out for {duration} s"
    else:
        text = f"{target} banned"
    return _system(line, now, text)


def _system(line: IrcLine, now: float, text: str) -> DanmuMessage:
    return DanmuMessage(
        MessageKind.SYSTEM,
        line.tags.get("target-user-id", ""),
        "",
        text,
        received_at=now,
        id=line.tags.get("target-msg-id") or None,
        sent_at_ms=_sent_ms(line),
    )

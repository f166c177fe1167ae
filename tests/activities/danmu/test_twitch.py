"""Twitch IRC codec against twitch-irc-rs's captured lines."""

from __future__ import annotations

from collections import Counter

import pytest

from activities.danmu import DanmuConnectInfo, MessageKind
from activities.danmu.twitch import TwitchCodec, parse_line, unescape_tag
from tests.fakes.danmu.frames import twitch_lines

CODEC = TwitchCodec(DanmuConnectInfo(platform="twitch", room_id="Pajlada"))


def test_every_captured_line_parses() -> None:
    kinds: Counter[str] = Counter()
    for line in twitch_lines():
        decoded = CODEC.decode(line + "\r\n", 1.0)
        kinds.update(item.kind.value for item in decoded.items)
    # 15 PRIVMSG (one with bits: chat + gift); 21 USERNOTICE of which 12 are subs
    # (sub, resub, gifted, mystery), 9 other notices + 3 CLEARCHAT + 2 CLEARMSG
    assert kinds == {"chat": 15, "gift": 1, "guard": 12, "system": 14}


def test_handshake_is_anonymous_with_tags() -> None:
    cap, password, nick, join = CODEC.handshake()
    assert cap == "CAP REQ :twitch.tv/tags twitch.tv/commands"
    assert password == "PASS SCHMOOPIIE"
    assert isinstance(nick, str)
    assert nick.startswith("NICK justinfan")
    assert nick[14:].isdigit()
    assert join == "JOIN #pajlada"


def test_ping_pong_and_reconnect() -> None:
    assert CODEC.decode("PING :tmi.twitch.tv\r\n", 1.0).replies == [
        "PONG :tmi.twitch.tv"
    ]
    assert CODEC.decode(":tmi.twitch.tv RECONNECT\r\n", 1.0).reconnect
    assert CODEC.heartbeat() == "PING :tmi.twitch.tv"


def test_several_lines_in_one_frame() -> None:
    lines = [x for x in twitch_lines() if " PRIVMSG " in x][:3]
    assert len(CODEC.decode("\r\n".join(lines) + "\r\n", 1.0).items) == 3


def test_bits_are_a_gift_beside_the_chat() -> None:
    [line] = [x for x in twitch_lines() if "bits=" in x]
    chat, cheer = CODEC.decode(line, 1.0).items
    assert chat.kind is MessageKind.CHAT
    assert chat.text == "trihard1"
    assert (cheer.kind, cheer.count, cheer.currency) == (MessageKind.GIFT, 1, "bits")  # type: ignore[union-attr]
    assert cheer.id == f"{chat.id}:bits"  # type: ignore[union-attr]


def test_subscription_fields() -> None:
    [line] = [x for x in twitch_lines() if "msg-id=resub" in x and "Gutrin" in x]
    [sub] = CODEC.decode(line, 1.0).items
    assert (sub.kind, sub.user_name, sub.text, sub.count, sub.level) == (  # type: ignore[union-attr]
        MessageKind.GUARD,
        "Gutrin",
        "xqcL",
        2,
        1,
    )


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        pytest.param(r"a\sb", "a b", id="space"),
        pytest.param(r"a\:b", "a;b", id="semicolon"),
        pytest.param(r"a\\b", "a\\b", id="backslash"),
        pytest.param(r"a\r\nb", "a\r\nb", id="crlf"),
        pytest.param(r"a\xb", "axb", id="unknown-escape"),
        pytest.param("ab\\", "ab", id="trailing-backslash"),
    ],
)
def test_tag_unescaping(raw: str, value: str) -> None:
    assert unescape_tag(raw) == value


def test_parse_line_parts() -> None:
    line = parse_line(r"@system-msg=hello\sworld;x= :a!a@a PRIVMSG #c :hi :there")
    assert line.tags == {"system-msg": "hello world", "x": ""}
    assert (line.nick, line.command, line.params, line.trailing) == (
        "a",
        "PRIVMSG",
        ["#c"],
        "hi :there",
    )
    with pytest.raises(ValueError, match="without a command"):
        parse_line("@a=b ")

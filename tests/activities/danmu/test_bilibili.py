"""Bilibili codec against the captured frames and command examples."""

from __future__ import annotations

import json

import pytest

from activities.danmu import ControlKind, DanmuConnectInfo, MessageKind
from activities.danmu.bilibili import BilibiliCodec, parse_command, unpack
from tests.fakes.danmu.frames import (
    RESOURCES,
    bili_command,
    bili_danmu,
    bili_frame,
    bili_packet,
)

PACKETS = RESOURCES / "bilibili" / "ws_packets"


def codec(**kw: str) -> BilibiliCodec:
    return BilibiliCodec(
        DanmuConnectInfo(platform="bilibili", room_id="22608112", **kw)
    )


def test_heartbeat_is_the_captured_frame() -> None:
    assert codec().heartbeat() == (PACKETS / "heartbeat.bin").read_bytes()


def test_auth_matches_the_captured_shape() -> None:
    captured = json.loads(unpack((PACKETS / "auth.bin").read_bytes())[0][1])
    [frame] = codec(
        token="k", cookie="DedeUserID=160148624; SESSDATA=s; buvid3=b"
    ).handshake()
    assert isinstance(frame, bytes)
    [(op, body)] = unpack(frame)
    ours = json.loads(body)
    assert op == 7
    assert ours.keys() - {"buvid"} == captured.keys()
    assert ours | {"key": captured["key"]} == captured | {"buvid": "b"}


def test_guest_auth_has_uid_zero_and_sends_no_cookie() -> None:
    guest = codec(token="k", cookie="DedeUserID=1")  # no SESSDATA: not logged in
    [(_, body)] = unpack(guest.handshake()[0])  # type: ignore[arg-type]
    assert json.loads(body)["uid"] == 0
    assert "Cookie" not in guest.headers()


def test_heartbeat_reply_honours_the_declared_length() -> None:
    # 20 bytes declared, then 15 bytes of echoed "[object Object]"
    assert unpack((PACKETS / "heartbeat_reply.bin").read_bytes()) == [
        (3, b"\x00\x00\t\xa2")
    ]
    assert (
        codec().decode((PACKETS / "heartbeat_reply.bin").read_bytes(), 1.0).items == []
    )


def test_captured_brotli_frame_unpacks() -> None:
    [(op, body)] = unpack(
        (PACKETS / "notification_brotli_watched_change.bin").read_bytes()
    )
    assert op == 5
    assert json.loads(body)["cmd"] == "WATCHED_CHANGE"


def test_auth_reply_ok_and_refused() -> None:
    assert not codec().decode((PACKETS / "auth_reply.bin").read_bytes(), 1.0).reconnect
    refused = bili_packet(b'{"code":-101}', operation=8, version=1)
    assert codec().decode(refused, 1.0).reconnect


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param("DANMU_MSG", MessageKind.CHAT, id="danmu"),
        pytest.param("SEND_GIFT", MessageKind.GIFT, id="gift"),
        pytest.param("SUPER_CHAT_MESSAGE", MessageKind.SUPER_CHAT, id="sc"),
        pytest.param("GUARD_BUY", MessageKind.GUARD, id="guard"),
        pytest.param("INTERACT_WORD", MessageKind.USER_JOIN, id="interact"),
        pytest.param(
            "INTERACT_WORD_V2", MessageKind.USER_JOIN, id="interact-v2-protobuf"
        ),
        pytest.param("PREPARING", ControlKind.STREAM_CLOSED, id="preparing"),
        pytest.param("PREPARING.with_round", ControlKind.STREAM_CLOSED, id="rotation"),
        pytest.param("LIVE", ControlKind.STREAM_STARTED, id="live"),
    ],
)
def test_every_command_fixture_decodes(name: str, kind: object) -> None:
    item = parse_command(bili_command(name), 5.0)
    assert item is not None
    assert item.kind == kind
    assert item.received_at == 5.0


def test_command_fields() -> None:
    chat = parse_command(bili_command("DANMU_MSG"), 1.0)
    gift = parse_command(bili_command("SEND_GIFT"), 1.0)
    sc = parse_command(bili_command("SUPER_CHAT_MESSAGE"), 1.0)
    guard = parse_command(bili_command("GUARD_BUY"), 1.0)
    v2 = parse_command(bili_command("INTERACT_WORD_V2"), 1.0)
    assert chat
    assert gift
    assert sc
    assert guard
    assert v2
    assert (chat.user_id, chat.user_name, chat.text) == (
        "6088969",
        "tim1997",
        "白花300块[热]",
    )
    assert (chat.id, chat.color, chat.sent_at_ms) == (
        "364b06e3c561af3d5921f1253d66c1d575",
        9920249,
        1723979200649,
    )
    assert (gift.gift_name, gift.count, gift.price, gift.value) == (
        "小花花",
        1,
        100,
        0.1,
    )
    assert (sc.price, sc.duration_secs, sc.value) == (30_000, 60, 30.0)
    assert (guard.level, guard.value) == (3, 198.0)
    assert (v2.user_id, v2.user_name) == ("439367700", "StarSea246")
    assert parse_command(bili_command("WATCHED_CHANGE"), 1.0) is None


@pytest.mark.parametrize(
    "version", [pytest.param(v, id=f"protover-{v}") for v in (0, 2, 3)]
)
def test_every_compression_variant_decodes_nested_packets(version: int) -> None:
    commands = [bili_danmu(i, f"m{i}") for i in range(50)] + [bili_command("SEND_GIFT")]
    decoded = codec().decode(bili_frame(commands, version), 2.0)
    assert [m.text for m in decoded.items[:50]] == [f"m{i}" for i in range(50)]  # type: ignore[union-attr]
    assert decoded.items[-1].kind is MessageKind.GIFT


def test_room_change_and_variant_cmd_names() -> None:
    room = parse_command(
        {"cmd": "ROOM_CHANGE", "data": {"title": "新", "area_name": "游戏"}}, 1.0
    )
    assert room is not None
    assert room.kind is ControlKind.ROOM_CHANGED
    assert (room.title, room.category) == ("新", "游戏")  # type: ignore[union-attr]
    variant = {**bili_danmu(1, "x"), "cmd": "DANMU_MSG:4:0:2:2:2:0"}
    assert parse_command(variant, 1.0).kind is MessageKind.CHAT  # type: ignore[union-attr]


def test_corrupt_compressed_body_is_a_value_error() -> None:
    bad = bili_packet(b"\xff\xff\xff\xff", operation=5, version=3)
    with pytest.raises(ValueError, match="inflate"):
        codec().decode(bad, 1.0)

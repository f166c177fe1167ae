"""Douyu, Huya, Douyin, SOOP, Bigo and TwitCasting codecs against frames built
from their published layouts (no captures of these exist in the fixtures)."""

from __future__ import annotations

import json

import pytest

from activities.danmu import (
    ControlKind,
    DanmuConnectInfo,
    DanmuProtocolError,
    MessageKind,
    codec_for,
)
from activities.danmu import protowire as pw
from activities.danmu.bigo import BigoCodec
from activities.danmu.douyin import DouyinCodec
from activities.danmu.douyu import DouyuCodec, stt_decode, stt_encode, unpack
from activities.danmu.huya import HuyaCodec
from activities.danmu.soop import SoopCodec
from activities.danmu.tars import Struct, decode_struct, encode_struct
from activities.danmu.twitcasting import TwitcastingCodec
from tests.fakes.danmu.douyin_proto import douyin_pb2
from tests.fakes.danmu.frames import (
    bigo_text,
    douyu_frame,
    gzip_bytes,
    huya_chat,
    huya_push,
    soop_packet,
)


def info(platform: str, room: str = "123", **kw: object) -> DanmuConnectInfo:
    return DanmuConnectInfo(platform=platform, room_id=room, **kw)  # type: ignore[arg-type]


def test_registry_knows_every_protocol() -> None:
    for name in (
        "bilibili",
        "twitch",
        "douyu",
        "huya",
        "douyin",
        "twitcasting",
        "soop",
        "bigo",
    ):
        assert codec_for(name).platform == name
    with pytest.raises(DanmuProtocolError, match="no danmu protocol"):
        codec_for("myspace")


# Douyu ---------------------------------------------------------------------


def test_douyu_stt_round_trip_with_escapes() -> None:
    record = {"type": "chatmsg", "txt": "a/b@c@=d/", "nn": "x@S"}
    assert stt_decode(stt_encode(record)) == record


def test_douyu_handshake_heartbeat_and_messages() -> None:
    codec = DouyuCodec(info("douyu", "4767111"))
    login, join = (unpack(f)[0] for f in codec.handshake())  # type: ignore[arg-type]
    assert stt_decode(login) == {"type": "loginreq", "roomid": "4767111"}
    assert stt_decode(join) == {"type": "joingroup", "rid": "4767111", "gid": "-9999"}
    assert unpack(codec.heartbeat()) == ["type@=mrkl/"]  # type: ignore[arg-type]
    frame = douyu_frame(
        {
            "type": "chatmsg",
            "uid": "1",
            "nn": "甲",
            "txt": "你好/@",
            "cid": "c1",
            "col": "2",
        },
        {"type": "dgb", "uid": "2", "nn": "乙", "gfid": "824", "gfcnt": "3"},
        {"type": "uenter", "uid": "3", "nn": "丙"},
        {"type": "rss", "rid": "4767111", "ss": "0"},
        {"type": "loginres"},
    )
    chat, gift, join_msg, closed = codec.decode(frame, 1.0).items
    assert (chat.text, chat.id, chat.color) == ("你好/@", "c1", 0x1E90FF)  # type: ignore[union-attr]
    assert (gift.kind, gift.count, gift.id) == (MessageKind.GIFT, 3, None)  # type: ignore[union-attr]
    assert join_msg.kind is MessageKind.USER_JOIN
    assert closed.kind is ControlKind.STREAM_CLOSED


# Huya ----------------------------------------------------------------------

# OnUserHeartBeat as another client (rust-srec) sends it: a fact our TARS reader
# must understand, independently of our encoder (its last, truncated field left out).
HUYA_HEARTBEAT = bytes.fromhex(
    "00031d0000690000006910032c3c4c56086f6e6c696e65756966"
    "0f4f6e557365724865617274426561747d00003c080001060474"
    "5265711d00002f0a0a0c1600260036076164725f77617046000b"
    "1203aef00f2203aef00f3c426d5202605c60017c82000bb01f9c"
    "ac0b8c980ca80c"
)


def test_tars_reads_a_foreign_heartbeat() -> None:
    cmd = decode_struct(HUYA_HEARTBEAT)
    assert cmd[0] == 3  # WupReq
    wup = cmd[1]
    assert int.from_bytes(wup[:4], "big") == len(wup)
    request = decode_struct(wup[4:])
    assert (request[1], request[5], request[6]) == (3, "onlineui", "OnUserHeartBeat")
    body = decode_struct(request[7])[0]
    beat = decode_struct(body["tReq"])[0]
    assert beat[0][3] == "adr_wap"
    assert beat[1] == beat[2] == 0x03AEF00F


def test_tars_round_trip() -> None:
    value = {
        0: 7,
        1: b"\x00\xff",
        2: "长" * 300,
        3: -(2**40),
        4: [1, 2],
        5: {"k": b"v"},
        20: 1.5,
    }
    fields = encode_struct({**value, 6: Struct({0: "x"})})
    assert decode_struct(fields) == {**value, 6: {0: "x"}}
    with pytest.raises(ValueError, match="truncated"):
        decode_struct(fields[:-3])


def test_huya_handshake_heartbeat_and_messages() -> None:
    codec = HuyaCodec(
        info("huya", "1199561289093", params={"top_sid": "5", "sub_sid": "6"})
    )
    [register] = codec.handshake()
    cmd = decode_struct(register)  # type: ignore[arg-type]
    assert cmd[0] == 16
    assert decode_struct(cmd[1])[0] == ["live:1199561289093", "chat:1199561289093"]
    beat = decode_struct(codec.heartbeat())  # type: ignore[arg-type]
    request = decode_struct(beat[1][4:])
    payload = decode_struct(decode_struct(request[7])[0]["tReq"])[0]
    assert (payload[1], payload[2], payload[4]) == (5, 6, 1199561289093)
    [chat] = codec.decode(huya_chat("弹幕 <b>", 42, "虎", 99), 1.0).items
    assert (chat.user_id, chat.user_name, chat.text, chat.id) == (
        "42",
        "虎",
        "弹幕 <b>",
        "99",
    )  # type: ignore[union-attr]
    [gift] = codec.decode(
        huya_push(6501, {0: 4, 1: "pay1", 2: 10, 4: 7, 6: "送"}), 1.0
    ).items
    assert (gift.kind, gift.count, gift.id, gift.user_name) == (
        MessageKind.GIFT,
        10,
        "pay1",
        "送",
    )  # type: ignore[union-attr]
    assert codec.decode(huya_push(8006, {0: 1}), 1.0).items == []


# Douyin --------------------------------------------------------------------


def douyin_frame(
    messages: list[tuple[str, bytes]], need_ack: bool = True, log_id: int = 77
) -> bytes:
    im = douyin_pb2().Webcast.Im
    response = im.Response(need_ack=need_ack, internal_ext="ext-1")
    for method, payload in messages:
        response.messages.add(method=method, payload=payload)
    frame = im.PushFrame(
        LogID=log_id,
        payload_type="msg",
        payload=gzip_bytes(response.SerializeToString()),
    )
    frame.headers.add(key="compress_type", value="gzip")
    data: bytes = frame.SerializeToString()
    return data


def test_douyin_heartbeat_is_the_schema_bytes() -> None:
    codec = DouyinCodec(info("douyin", ws_urls=["wss://signed"]))
    assert codec.heartbeat() == b":\x02hb"
    assert codec.handshake() == []
    with pytest.raises(DanmuProtocolError, match="signed"):
        DouyinCodec(info("douyin")).urls()


def test_douyin_messages_and_ack() -> None:
    pb = douyin_pb2()
    im, data = pb.Webcast.Im, pb.Webcast.Data
    chat = im.ChatMessage(
        common=im.Common(msg_id=5, create_time=1700000000000),
        user=data.User(id=11, nickname="抖"),
        content="hi 👋",
        event_time=1700000000,
    )
    gift = im.GiftMessage(
        common=im.Common(msg_id=6),
        user=data.User(id=12, nickname="g"),
        gift=data.GiftStruct(name="玫瑰", diamond_count=1),
        total_count=3,
    )
    member = im.MemberMessage(
        common=im.Common(msg_id=7), user=data.User(id=13, nickname="m")
    )
    social = im.SocialMessage(
        common=im.Common(msg_id=8), user=data.User(id=14), action=1
    )
    control = im.ControlMessage(action=3, tips="直播已结束")
    frame = douyin_frame(
        [
            ("WebcastChatMessage", chat.SerializeToString()),
            ("WebcastGiftMessage", gift.SerializeToString()),
            ("WebcastMemberMessage", member.SerializeToString()),
            ("WebcastSocialMessage", social.SerializeToString()),
            ("WebcastControlMessage", control.SerializeToString()),
            ("WebcastRoomUserSeqMessage", b""),
        ]
    )
    decoded = DouyinCodec(info("douyin", ws_urls=["wss://x"])).decode(frame, 1.0)
    c, g, m, s, closed = decoded.items
    assert (c.user_id, c.user_name, c.text, c.id, c.sent_at_ms) == (
        "11",
        "抖",
        "hi 👋",
        "5",
        1700000000000,
    )  # type: ignore[union-attr]
    assert (g.gift_name, g.count, g.value) == ("玫瑰", 3, 0.3)  # type: ignore[union-attr]
    assert (m.kind, s.kind) == (MessageKind.USER_JOIN, MessageKind.FOLLOW)
    assert (closed.kind, closed.detail) == (ControlKind.STREAM_CLOSED, "直播已结束")  # type: ignore[union-attr]
    [ack] = decoded.replies
    parsed = im.PushFrame.FromString(ack)
    assert (parsed.LogID, parsed.payload_type, parsed.payload) == (77, "ack", b"ext-1")


def test_douyin_without_ack_and_garbage() -> None:
    codec = DouyinCodec(info("douyin", ws_urls=["wss://x"]))
    assert codec.decode(douyin_frame([], need_ack=False), 1.0).replies == []
    with pytest.raises(ValueError, match=r"varint|wire|protobuf|past the end"):
        codec.decode(b"\xff\xff\xff", 1.0)
    assert pw.parse(pw.encode([(1, -1)])) == {1: [2**64 - 1]}


# SOOP ----------------------------------------------------------------------


def test_soop_login_join_and_messages() -> None:
    codec = SoopCodec(
        info(
            "soop",
            ws_urls=["wss://x"],
            token="ftk1",
            params={"chatno": "88", "password": "pw"},
        )
    )
    [login] = codec.handshake()
    assert login == soop_packet(1, ["", "", "16"])
    [join] = codec.decode(soop_packet(1, ["ok"]), 1.0).replies
    assert isinstance(join, bytes)
    assert join.startswith(b"\x1b\t0002")
    assert join.split(b"\x0c")[1:3] == [b"88", b"ftk1"]
    assert b"pw" in join
    frame = soop_packet(5, ["안녕 <&>", "u1", "0", "0", "ko", "닉"]) + soop_packet(
        18, ["x", "u2", "nick2", "10"]
    )
    chat, balloon = codec.decode(frame, 1.0).items
    assert (chat.text, chat.user_id, chat.user_name) == ("안녕 <&>", "u1", "닉")  # type: ignore[union-attr]
    assert (balloon.count, balloon.value, balloon.currency) == (10, 1000.0, "KRW")  # type: ignore[union-attr]
    with pytest.raises(DanmuProtocolError, match="chatno"):
        SoopCodec(info("soop", ws_urls=["wss://x"])).handshake()


# Bigo ----------------------------------------------------------------------


def test_bigo_challenge_login_enter_and_chat() -> None:
    codec = BigoCodec(
        info("bigo", "room9", token="tok", params={"user_id": "u", "device_id": "d"})
    )
    assert codec.handshake() == []
    reply, login = codec.decode('256{"challenge":"abcdefghijkl"}', 1.0).replies
    assert isinstance(reply, str)
    assert reply.startswith("79108{")
    assert json.loads(login[6:])["cookie"] == "tok"  # type: ignore[index]
    [enter] = codec.decode('512535{"res":"200"}', 1.0).replies
    assert isinstance(enter, str)
    assert json.loads(enter[4:])["roomId"] == "room9"
    [chat] = codec.decode(bigo_text(1, "7", {"n": "B", "m": "hello"}, "s1"), 1.0).items
    assert (chat.user_name, chat.text, chat.id) == ("B", "hello", "s1")  # type: ignore[union-attr]
    [gift] = codec.decode(
        bigo_text(6, "7", {"n": "B", "giftName": "rose", "c": 2}, "s2"), 1.0
    ).items
    assert (gift.gift_name, gift.count) == ("rose", 2)  # type: ignore[union-attr]
    assert str(codec.heartbeat()).startswith("791{")
    with pytest.raises(ValueError, match="not a bigo frame"):
        codec.decode("hello", 1.0)


# TwitCasting ---------------------------------------------------------------


def test_twitcasting_comment_list() -> None:
    codec = TwitcastingCodec(info("twitcasting", ws_urls=["wss://x"]))
    frame = json.dumps(
        [
            {
                "type": "comment",
                "id": 9,
                "message": "こんにちは",
                "createdAt": 1700000000000,
                "author": {"id": "c:abc", "name": "名前", "screenName": "abc"},
            },
            {
                "type": "gift",
                "id": 10,
                "message": "",
                "item": {"name": "お茶"},
                "sender": {"id": "s", "name": "S"},
            },
            {"type": "other"},
        ]
    )
    chat, gift = codec.decode(frame, 1.0).items
    assert (chat.id, chat.user_id, chat.user_name, chat.text) == (
        "9",
        "c:abc",
        "名前",
        "こんにちは",
    )  # type: ignore[union-attr]
    assert (gift.gift_name, gift.user_name) == ("お茶", "S")  # type: ignore[union-attr]
    assert codec.heartbeat() is None

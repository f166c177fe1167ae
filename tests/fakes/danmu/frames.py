"""Server-side frames for each chat protocol, built independently of the codecs.

Bilibili, Douyu, SOOP, Bigo, TwitCasting and Twitch frames are assembled here from
their published layouts; Douyin frames come from protoc-generated classes of the
published schema (`douyin_proto`); Huya frames use `activities.danmu.tars`, whose
decoder is checked separately against a heartbeat captured by another client.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import brotli

from activities.danmu.tars import Struct, encode_struct

RESOURCES = Path(__file__).parents[2] / "resources" / "danmu"


def bili_command(name: str) -> dict[str, Any]:
    """A real command message from the fixtures."""
    data: dict[str, Any] = json.loads(
        (RESOURCES / "bilibili" / "cmd" / f"{name}.json").read_text()
    )
    return data


def bili_packet(body: bytes, operation: int = 5, version: int = 0) -> bytes:
    return struct.pack(">IHHII", 16 + len(body), 16, version, operation, 0) + body


def bili_frame(commands: list[dict[str, Any]], version: int = 3) -> bytes:
    """Notifications (op 5) in a protover 0 (raw), 2 (zlib) or 3 (brotli) frame."""
    inner = b"".join(
        bili_packet(json.dumps(c, ensure_ascii=False).encode()) for c in commands
    )
    if version == 0:
        return inner
    # quality 4: brotli's default 11 takes ~0.1 s a frame, too slow for load tests
    packed = zlib.compress(inner) if version == 2 else brotli.compress(inner, quality=4)
    return bili_packet(packed, 5, version)


def bili_danmu(
    n: int, text: str, uid: int = 6088969, uname: str = "tim1997"
) -> dict[str, Any]:
    """The fixture's DANMU_MSG with its own id, text and sender."""
    cmd = bili_command("DANMU_MSG")
    info = copy.deepcopy(cmd["info"])
    extra = json.loads(info[0][15]["extra"])
    extra["id_str"] = f"id{n:08d}"
    extra["content"] = text
    info[0][15]["extra"] = json.dumps(extra, ensure_ascii=False)
    info[1] = text
    info[2][0], info[2][1] = uid, uname
    return {**cmd, "info": info}


def bili_responder(frame: bytes | str) -> list[bytes | str]:
    """Answer auth with the captured auth reply, heartbeats with the captured reply."""
    assert isinstance(frame, bytes)
    operation = struct.unpack_from(">I", frame, 8)[0]
    packets = RESOURCES / "bilibili" / "ws_packets"
    if operation == 7:
        return [(packets / "auth_reply.bin").read_bytes()]
    if operation == 2:
        return [(packets / "heartbeat_reply.bin").read_bytes()]
    return []


def twitch_lines() -> list[str]:
    """The captured IRC lines, one per entry."""
    return (
        (RESOURCES / "twitch" / "irc_lines.txt")
        .read_text(encoding="utf-8")
        .splitlines()
    )


def twitch_privmsg(n: int, text: str, channel: str = "pajlada") -> str:
    return (
        f"@id=msg-{n:08d};display-name=User{n % 7};user-id={1000 + n % 7};"
        f"tmi-sent-ts=1594545155039 :user{n % 7}!user@user.tmi.twitch.tv "
        f"PRIVMSG #{channel} :{text}\r\n"
    )


def _esc(text: str) -> str:
    return text.replace("@", "@A").replace("/", "@S")


def douyu_frame(*records: dict[str, str]) -> bytes:
    """Server packets (type 690) of STT records."""
    out = b""
    for record in records:
        body = "".join(f"{_esc(k)}@={_esc(v)}/" for k, v in record.items()).encode()
        body += b"\0"
        out += struct.pack("<IIHBB", len(body) + 8, len(body) + 8, 690, 0, 0) + body
    return out


def huya_push(uri: int, fields: dict[int, Any], msg_id: int = 0) -> bytes:
    """A MsgPushReq command carrying one WSPushMessage."""
    push = encode_struct({0: 0, 1: uri, 2: encode_struct(fields), 5: msg_id})
    return encode_struct({0: 7, 1: push})


def huya_chat(text: str, uid: int, nick: str, msg_id: int) -> bytes:
    notice = {
        0: Struct({0: uid, 1: 0, 2: nick, 3: 0}),
        3: text,
        6: Struct({0: 0xFF8800}),
    }
    return huya_push(1400, notice, msg_id)


def soop_packet(service: int, fields: list[str]) -> bytes:
    body = ("\x0c" + "\x0c".join(fields) + "\x0c").encode()
    return f"\x1b\t{service:04d}{len(body):06d}00".encode() + body


def bigo_text(tag: int, uid: str, content: dict[str, Any], seq: str) -> str:
    b64 = base64.b64encode(json.dumps(content, ensure_ascii=False).encode()).decode()
    return "2584" + json.dumps(
        {"payload": {"tag": tag, "uid": uid, "content": b64, "seqId": seq}}
    )


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data)

"""Bilibili's live answers as pydantic models, WBI signing, and rules that read them.

Private to `activities.platforms.bilibili` (no `__extractor__`). WBI: the mixin key
is 32 characters of the two keys `x/web-interface/nav` names (`wbi_img`), reordered
by a fixed table; a signed query is the sorted, encoded parameters plus `wts`, and
`w_rid` = md5(query + mixin key) (bilibili-API-collect, docs/misc/sign/wbi.md).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from pydantic import BaseModel, Field

from activities.contracts import LiveOutcome, StreamInfo, StreamKind
from activities.platforms.base import Outcome
from activities.platforms.web import BROWSER_UA

if TYPE_CHECKING:
    from collections.abc import Mapping

API = "https://api.live.bilibili.com"
NAV_URL = "https://api.bilibili.com/x/web-interface/nav"
WEB_LOCATION = "444.8"  # the live room page, as its player signs it
NOT_FOUND_CODE = 60004
THROTTLED_CODES = frozenset({-412, -352})
MIXIN_TABLE = (
    46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49,
    33, 9, 42, 19, 29, 28, 14, 39, 12, 38, 41, 13, 37, 48, 7, 16, 24, 55, 40, 61,
    26, 17, 0, 1, 60, 51, 30, 4, 22, 25, 54, 21, 56, 59, 6, 63, 57, 62, 11, 36,
    20, 34, 44, 52,
)  # fmt: skip


class Reply(BaseModel):
    code: int
    message: str = ""


class Init(BaseModel):
    room_id: int
    short_id: int = 0
    uid: int
    live_status: int
    is_hidden: bool = False
    is_locked: bool = False
    lock_till: int = 0
    encrypted: bool = False
    pwd_verified: bool = False
    live_time: int = 0


class InitReply(Reply):
    data: Init | None = None


class ByUid(BaseModel):
    title: str = ""
    room_id: int
    uid: int
    online: int | None = None
    live_status: int
    uname: str = ""
    face: str = ""
    area_v2_name: str = ""
    cover_from_user: str = ""


class ByUidReply(Reply):
    # an empty answer is `[]`, not `{}`
    data: dict[str, ByUid] | list[Any] = Field(default_factory=dict)


class UrlInfo(BaseModel):
    host: str
    extra: str


class Codec(BaseModel):
    codec_name: str
    current_qn: int
    base_url: str
    url_info: list[UrlInfo]


class Format(BaseModel):
    format_name: str
    codec: list[Codec]


class Stream(BaseModel):
    protocol_name: str
    format: list[Format]


class Quality(BaseModel):
    qn: int
    desc: str


class PlayUrl(BaseModel):
    g_qn_desc: list[Quality] = Field(default_factory=list)
    stream: list[Stream]


class PlayUrlInfo(BaseModel):
    playurl: PlayUrl


class PlayInfo(BaseModel):
    live_status: int
    encrypted: bool = False
    pwd_verified: bool = False
    playurl_info: PlayUrlInfo | None = None


class PlayReply(Reply):
    data: PlayInfo | None = None


class WbiImg(BaseModel):
    img_url: str
    sub_url: str


class Nav(BaseModel):
    wbi_img: WbiImg


class NavReply(BaseModel):
    data: Nav  # answered to anonymous callers too (with code -101)


class DanmuHost(BaseModel):
    host: str
    wss_port: int = 443


class DanmuInfo(BaseModel):
    token: str
    host_list: list[DanmuHost]


class DanmuInfoReply(Reply):
    data: DanmuInfo | None = None


def mixin_key(img_key: str, sub_key: str) -> str:
    """WBI's mixin key of the two keys `nav` names."""
    both = img_key + sub_key
    return "".join(both[i] for i in MIXIN_TABLE if i < len(both))[:32]


def wbi_sign(params: Mapping[str, Any], mixin: str, wts: int) -> dict[str, str]:
    """`params` with `wts` and `w_rid`, signed as the web signs them."""
    signed = {k: re.sub(r"[!'()*]", "", str(v)) for k, v in params.items()}
    signed["wts"] = str(wts)
    query = "&".join(
        f"{quote(k, safe='')}={quote(signed[k], safe='')}" for k in sorted(signed)
    )
    signed["w_rid"] = hashlib.md5((query + mixin).encode()).hexdigest()
    return signed


def checked(reply: Reply, what: str) -> None:
    if reply.code in THROTTLED_CODES:
        raise Outcome(LiveOutcome.RATE_LIMITED, f"{what}: {reply.message}")
    if reply.code == NOT_FOUND_CODE:
        raise Outcome(LiveOutcome.NOT_FOUND, f"{what}: {reply.message}")
    if reply.code != 0:
        raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: {reply.code} {reply.message}")


def outcome_of(live_status: int) -> tuple[LiveOutcome, str]:
    if live_status == 1:
        return LiveOutcome.LIVE, ""
    if live_status == 2:
        return LiveOutcome.OFFLINE, "a rotation of replays is showing"
    return LiveOutcome.OFFLINE, ""


def fields_of(room: ByUid | None) -> dict[str, Any]:
    if room is None:
        return {}
    return {
        "title": room.title,
        "author": room.uname,
        "category": room.area_v2_name,
        "avatar_url": room.face,
        "cover_url": room.cover_from_user,
        "viewers": room.online if room.live_status == 1 else None,
    }


def streams_of(playurl: PlayUrl) -> list[StreamInfo]:
    """Every stream getRoomPlayInfo lists: per protocol, format, codec and CDN host."""
    names = {q.qn: q.desc for q in playurl.g_qn_desc}
    headers = {"User-Agent": BROWSER_UA, "Referer": "https://live.bilibili.com/"}
    found: list[StreamInfo] = []
    for stream in playurl.stream:
        kind = (
            StreamKind.FLV if stream.protocol_name == "http_stream" else StreamKind.HLS
        )
        for fmt in stream.format:
            for codec in fmt.codec:
                for host in codec.url_info:
                    query = parse_qs(host.extra)
                    expires = query.get("expires", [""])[0]
                    found.append(
                        StreamInfo(
                            url=host.host + codec.base_url + host.extra,
                            kind=kind,
                            quality=names.get(codec.current_qn, str(codec.current_qn)),
                            codec=codec.codec_name,
                            cdn=query.get("cdn", [host_label(host.host)])[0],
                            container=fmt.format_name,
                            headers=headers,
                            expires_at=(
                                datetime.fromtimestamp(int(expires), UTC)
                                if expires.isdigit()
                                else None
                            ),
                        )
                    )
    return found


def stem(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1].split(".", 1)[0]


def host_label(host: str) -> str:
    return (urlsplit(host).hostname or "").split(".", 1)[0]

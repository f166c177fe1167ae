"""Huya's answers and its stream anti-code, for `activities.platforms.huya`.

The models read the mini-program API (`mp.huya.com/cache.php?m=Live&do=profileRoom`)
and the room page's `TT_ROOM_DATA`. `anti_code` signs a stream URL the way Huya's
players do; `streams_of` turns the answer into the stream list.

Anti-code: the answer's `sFlvAntiCode` carries `fm`, base64 of
`<prefix>_$0_$1_$2_$3`. A player fills the template and signs:

    seqid    = uid + now in ms
    u        = uid with its low 32 bits rotated left by 8 (`convertUid`)
    hash     = md5("<seqid>|<ctype>|<t>")
    wsSecret = md5("<prefix>_<u>_<stream name>_<hash>_<wsTime>")

with `ctype` and `wsTime` from the anti-code and `t` the platform id of that ctype
(tars_mp 102, huya_webh5 100, …). The mini-program answer's anti-codes are already
signed for their stream names; a changed name (force-origin drops `-imgplus`) must
be signed again.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from pydantic import BaseModel, ConfigDict, Field, field_validator

from activities.contracts import StreamInfo, StreamKind
from activities.errors import ExtractorError

# ctype → the platform id (`t`) the players send with it
PLATFORM_IDS = {
    "huya_pc_exe": 0,
    "huya_adr": 2,
    "huya_ios": 3,
    "tv_huya_nftv": 10,
    "huya_webh5": 100,
    "tars_mp": 102,
    "tars_mobile": 103,
    "huya_liveshareh5": 104,
}
DEFAULT_CTYPE = "huya_webh5"
ORIGIN_SUFFIX = "-imgplus"  # names the transcoded copy; without it: the source
REPLAY_PREFIX = "【回放】"


class _Camel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class BitRate(_Camel):
    """One quality on offer; `iBitRate` 0 is the source."""

    name: str = Field(alias="sDisplayName")
    bitrate_kbps: int = Field(alias="iBitRate")
    codec_type: int = Field(default=0, alias="iCodecType")


class CdnStream(_Camel):
    """One CDN's copy of the broadcast (`baseSteamInfoList`)."""

    cdn: str = Field(alias="sCdnType")
    name: str = Field(alias="sStreamName")
    flv_url: str = Field(alias="sFlvUrl")
    flv_suffix: str = Field(default="flv", alias="sFlvUrlSuffix")
    flv_anti_code: str = Field(alias="sFlvAntiCode")
    hls_url: str = Field(alias="sHlsUrl")
    hls_suffix: str = Field(default="m3u8", alias="sHlsUrlSuffix")
    hls_anti_code: str = Field(alias="sHlsAntiCode")
    presenter_uid: int = Field(default=0, alias="lPresenterUid")
    priority: int = Field(default=0, alias="iWebPriorityRate")


class _Rates(_Camel):
    rate_array: list[BitRate] = Field(default_factory=list, alias="rateArray")


class StreamData(_Camel):
    """`data.stream`: the CDN copies and the qualities."""

    cdns: list[CdnStream] = Field(default_factory=list, alias="baseSteamInfoList")
    flv: _Rates | None = None


class Profile(_Camel):
    uid: int
    nick: str = ""
    avatar: str = Field(default="", alias="avatar180")
    profile_room: int = Field(default=0, alias="profileRoom")


class LiveData(_Camel):
    introduction: str = ""
    room_name: str = Field(default="", alias="roomName")
    game: str = Field(default="", alias="gameFullName")
    screenshot: str = ""
    user_count: int | None = Field(default=None, alias="userCount")
    start_time: int = Field(default=0, alias="startTime")
    bit_rate_kbps: int = Field(default=0, alias="bitRate")
    bit_rate_info: list[BitRate] = Field(default_factory=list, alias="bitRateInfo")

    @field_validator("bit_rate_info", mode="before")
    @classmethod
    def _json_in_a_string(cls, value: Any) -> Any:
        # the qualities arrive as JSON inside a string
        if isinstance(value, str):
            return json.loads(value) if value else []
        return value


class Room(_Camel):
    """`data` of a profileRoom answer."""

    live_status: str = Field(alias="liveStatus")
    real_live_status: str = Field(default="", alias="realLiveStatus")
    profile: Profile = Field(alias="profileInfo")
    live: LiveData | None = Field(default=None, alias="liveData")
    stream: StreamData | None = None
    top_sid: int = Field(default=0, alias="chTopId")
    sub_sid: int = Field(default=0, alias="subChId")

    @property
    def is_live(self) -> bool:
        return self.live_status == "ON" and self.real_live_status in {"ON", ""}

    @property
    def is_replay(self) -> bool:
        return self.live_status == "REPLAY" or (
            self.live is not None and self.live.introduction.startswith(REPLAY_PREFIX)
        )


class Status(BaseModel):
    """Any profileRoom answer: status 200, else an error whose `data` is `[]`."""

    status: int
    message: str = ""


class Reply(Status):
    """A profileRoom answer with status 200."""

    data: Room


class RoomData(_Camel):
    """The room page's `TT_ROOM_DATA`."""

    state: str = ""
    profile_room: int = Field(default=0, alias="profileRoom")
    introduction: str = ""


SOURCE = BitRate.model_validate({"sDisplayName": "原画", "iBitRate": 0})


def convert_uid(uid: int) -> int:
    """Huya's `convertUid`: the low 32 bits rotated left by 8, the rest kept."""
    low = uid & 0xFFFFFFFF
    rotated = ((low << 8) | (low >> 24)) & 0xFFFFFFFF
    return (uid & ~0xFFFFFFFF) | rotated


def anti_code(stream_name: str, code: str, uid: int, now: float) -> str:
    """Sign `stream_name` with the anti-code `code` as a Huya player would.

    Args:
        stream_name: the stream the URL asks for (`sStreamName`, maybe changed).
        code: the answer's anti-code (`wsSecret=…&wsTime=…&fm=…&ctype=…`).
        uid: the viewer id to sign with.
        now: the current time (epoch seconds).

    Returns:
        The query string to append; `code` itself when it has no `fm` template.

    Raises:
        ExtractorError: `fm` is not the base64 template Huya sends.
    """
    params = dict(parse_qsl(code))
    template = params.get("fm")
    if not template:
        return code
    try:
        prefix = base64.b64decode(template, validate=True).decode().split("_", 1)[0]
    except ValueError as err:
        raise ExtractorError(f"huya anti-code: fm is not base64: {template}") from err
    ctype = params.get("ctype") or DEFAULT_CTYPE
    platform = params.get("t") or str(PLATFORM_IDS.get(ctype, 100))
    ws_time = params.get("wsTime") or f"{int(now) + 86400:x}"
    seqid = uid + int(now * 1000)
    u = convert_uid(uid)
    digest = _md5(f"{seqid}|{ctype}|{platform}")
    signed = {
        "wsSecret": _md5(f"{prefix}_{u}_{stream_name}_{digest}_{ws_time}"),
        "wsTime": ws_time,
        "seqid": str(seqid),
        "ctype": ctype,
        "ver": "1",
        "fs": params.get("fs", ""),
        "fm": template,
        "t": platform,
        "u": str(u),
    }
    return urlencode({k: v for k, v in signed.items() if v})


def expiry(code: str) -> datetime | None:
    """When a signed URL stops working: its `wsTime` (hex epoch seconds)."""
    value = dict(parse_qsl(code)).get("wsTime", "")
    try:
        return datetime.fromtimestamp(int(value, 16), UTC)
    except ValueError:
        return None


def streams_of(
    room: Room,
    headers: dict[str, str],
    *,
    origin: bool = False,
    uid: int = 0,
    now: float = 0.0,
) -> list[StreamInfo]:
    """Every stream of a live room: per CDN (the platform's order), quality, FLV/HLS.

    With `origin`, the transcoded copy's `-imgplus` is dropped from the stream name
    and the anti-code signed again with `uid` at `now`.
    """
    if room.stream is None:
        return []
    live = room.live or LiveData()
    rates = live.bit_rate_info or (
        room.stream.flv.rate_array if room.stream.flv else []
    )
    rates = [r for r in rates if "HDR" not in r.name] or [SOURCE]
    found: list[StreamInfo] = []
    for cdn in sorted(room.stream.cdns, key=lambda c: -c.priority):
        if not cdn.name:
            continue
        name = cdn.name.removesuffix(ORIGIN_SUFFIX) if origin else cdn.name
        for kind, base, suffix, code in (
            (StreamKind.FLV, cdn.flv_url, cdn.flv_suffix, cdn.flv_anti_code),
            (StreamKind.HLS, cdn.hls_url, cdn.hls_suffix, cdn.hls_anti_code),
        ):
            query = anti_code(name, code, uid, now) if name != cdn.name else code
            for rate in rates:
                ratio = f"&ratio={rate.bitrate_kbps}" if rate.bitrate_kbps else ""
                kbps = rate.bitrate_kbps or live.bit_rate_kbps
                found.append(
                    StreamInfo(
                        url=f"{base}/{name}.{suffix}?{query}{ratio}",
                        kind=kind,
                        quality=rate.name,
                        bitrate_bps=kbps * 1000,
                        codec="hevc" if rate.codec_type == 1 else "avc",
                        cdn=cdn.cdn,
                        container="flv" if kind is StreamKind.FLV else "ts",
                        headers=headers,
                        expires_at=expiry(query),
                    )
                )
    return found


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()

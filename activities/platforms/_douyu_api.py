"""Douyu's answers and its play-URL signature, for `activities.platforms.douyu`.

The signature without a JS engine: the web player's `ub98484234` (obfuscated JS,
served per room) has a JS-free sibling the player uses too, the v1 play API.
`getEncryption?did=` answers a key set (`key`, `rand_str`, `enc_time`, `is_special`,
`enc_data`, valid until `expire_at`); a play request is then signed as

    secret = rand_str, then enc_time times: md5(secret + key)
    auth   = md5(secret + key + ("" if is_special else f"{rid}{tt}"))

and POSTed with `enc_data`, `tt` (epoch seconds) and `did` to
`lapi/live/getH5PlayV1/<rid>`. streamlink's Douyu plugin and rust-srec sign the
same way; the test checks `auth` against streamlink's implementation.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from activities.contracts import StreamInfo, StreamKind

OFFLINE_ERRORS = frozenset({-3, -4, -5})  # closed, not live, closeRoom
CLOCK_ERROR = -9  # room_bus_checksevertime: `tt` too far from the server's clock
REGION_ERROR = 126  # "版权原因" (copyright): not licensed in this region
AUTH_FAILED = "鉴权失败"


class Avatar(BaseModel):
    big: str = ""
    middle: str = ""
    small: str = ""


class BetardRoom(BaseModel):
    """`room` of `www.douyu.com/betard/<rid>`."""

    model_config = ConfigDict(populate_by_name=True)

    room_id: int
    room_name: str = ""
    owner_name: str = ""
    nickname: str = ""
    show_status: int  # 1 live, 2 off
    video_loop: int = Field(default=0, alias="videoLoop")  # 1: replays on a loop
    show_time: int = 0
    second_lvl_name: str = ""
    room_pic: str = ""
    avatar: Avatar | str = Field(default_factory=Avatar)
    is_password: int = 0

    @field_validator("room_name", "owner_name", "nickname", mode="before")
    @classmethod
    def _text_or_nothing(cls, value: Any) -> Any:
        # unset text fields arrive as `false`
        return value if isinstance(value, str) else ""

    @property
    def avatar_url(self) -> str:
        if isinstance(self.avatar, str):
            return self.avatar
        return self.avatar.big or self.avatar.middle or self.avatar.small


class Betard(BaseModel):
    room: BetardRoom


class EncKey(BaseModel):
    """`data` of getEncryption: the key set play requests are signed with."""

    key: str
    rand_str: str
    enc_time: int
    enc_data: str
    is_special: int
    expire_at: int = 0


class EncReply(BaseModel):
    error: int
    msg: str = ""
    data: EncKey | None = None


class Cdn(BaseModel):
    name: str = ""
    cdn: str
    is_h265: bool = Field(default=False, alias="isH265")


class Rate(BaseModel):
    name: str
    rate: int
    bit: int = 0  # kbps


class Play(BaseModel):
    """`data` of getH5PlayV1: one signed URL, for the CDN and rate asked."""

    room_id: int
    rtmp_cdn: str
    rtmp_url: str
    rtmp_live: str
    rate: int = 0
    player_1: str | None = None  # HEVC copy, when asked for and offered
    cdns: list[Cdn] = Field(default_factory=list, alias="cdnsWithName")
    multirates: list[Rate] = Field(default_factory=list)


class PlayReply(BaseModel):
    """An error answer carries `data: ""`."""

    error: int
    msg: str = ""
    data: Play | str | None = None


def auth(rid: str, tt: int, key: EncKey) -> str:
    """The `auth` of a getH5PlayV1 request for room `rid` at `tt`."""
    secret = key.rand_str
    for _ in range(key.enc_time):
        secret = _md5(secret + key.key)
    salt = "" if key.is_special == 1 else f"{rid}{tt}"
    return _md5(secret + key.key + salt)


def streams_of(play: Play, headers: dict[str, str]) -> list[StreamInfo]:
    """The stream getH5PlayV1 signed (plus its HEVC copy when one came with it)."""
    rate = next((r for r in play.multirates if r.rate == play.rate), None)
    path = urlsplit(play.rtmp_live).path
    kind = StreamKind.HLS if path.endswith(".m3u8") else StreamKind.FLV
    common: dict[str, Any] = {
        "kind": kind,
        "quality": rate.name if rate else "",
        "bitrate_bps": rate.bit * 1000 if rate else 0,
        "cdn": play.rtmp_cdn,
        "container": "ts" if kind is StreamKind.HLS else "flv",
        "headers": headers,
    }
    found = [StreamInfo(url=f"{play.rtmp_url}/{play.rtmp_live}", codec="avc", **common)]
    if play.player_1:
        found.append(StreamInfo(url=play.player_1, codec="hevc", **common))
    return found


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()

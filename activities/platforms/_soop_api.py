"""SOOP's (AfreecaTV's) answers as pydantic models, and the small readers of them,
for `activities.platforms.soop`.

Nothing of SOOP was captured; the shapes are those the public clients read today.
`player_live_api.php` answers `{"CHANNEL": {...}}` with `RESULT` (1 live, 0 off
air or, with `GDPR` true, a geo stub, -6 sign-in needed; a number or a string),
`BNO`, `BJID`, `BJNICK`, `TITLE`, `CATE`, `CATEGORY_TAGS`, `CTUSER` (viewers),
`RMD`, `CDN`, `BPWD` (Y: a password room), `VIEWPRESET` [{`label`, `name`}], the
chat server (`CHDOMAIN` or `CHIP`, `CHPT`, `CHATNO`, `FTK`) and, to a `type=aid`
request, `AID` (streamlink's `soop` plugin, yt-dlp's `AfreecaTVLiveIE`, rust-srec's
`SoopChannel`). `broad_stream_assign.html` answers `view_url` and `stream_status`;
`st.sooplive.com/api/get_station_status.php` answers `RESULT` (0: no such
account) and `DATA` (`user_nick`, `station_title`, `broad_start` in Korean time).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, Field, field_validator

RESULT_LIVE, RESULT_OFF_AIR, RESULT_SIGN_IN, RESULT_ADULT = 1, 0, -6, -8
# the player asks for these CDNs' web edition (streamlink's CDN_TYPE_MAPPING)
CDN_WEB = {"gs_cdn": "gs_cdn_pc_web", "lg_cdn": "lg_cdn_pc_web"}
KST = timezone(timedelta(hours=9))
_DIGITS = re.compile(r"\d+")


class Preset(BaseModel):
    """One `VIEWPRESET`: a quality the player offers (`name` goes to the API)."""

    label: str = ""
    name: str


class Channel(BaseModel):
    """`CHANNEL` of a player_live_api answer."""

    result: int = Field(alias="RESULT")
    bno: str | None = Field(default=None, alias="BNO")
    bjid: str | None = Field(default=None, alias="BJID")
    nick: str | None = Field(default=None, alias="BJNICK")
    title: str | None = Field(default=None, alias="TITLE")
    category_id: str | None = Field(default=None, alias="CATE")
    category_tags: list[str] | None = Field(default=None, alias="CATEGORY_TAGS")
    viewers: int | None = Field(default=None, alias="CTUSER")
    rmd: str | None = Field(default=None, alias="RMD")
    cdn: str | None = Field(default=None, alias="CDN")
    password_room: str | None = Field(default=None, alias="BPWD")
    aid: str | None = Field(default=None, alias="AID")
    presets: list[Preset] | None = Field(default=None, alias="VIEWPRESET")
    chat_domain: str | None = Field(default=None, alias="CHDOMAIN")
    chat_ip: str | None = Field(default=None, alias="CHIP")
    chat_port: int | None = Field(default=None, alias="CHPT")
    chat_no: str | None = Field(default=None, alias="CHATNO")
    ticket: str | None = Field(default=None, alias="FTK")
    gdpr: bool | None = Field(default=None, alias="GDPR")

    @field_validator("bno", "chat_no", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("chat_port", "viewers", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @property
    def category(self) -> str:
        """The first display tag, else the category id."""
        tags = [t.strip() for t in self.category_tags or [] if t.strip()]
        return tags[0] if tags else (self.category_id or "")


class PlayerReply(BaseModel):
    channel: Channel = Field(alias="CHANNEL")


class Assign(BaseModel):
    """A broad_stream_assign answer: where one quality's playlist is served."""

    view_url: str | None = None
    stream_status: str = ""


class StationData(BaseModel):
    user_nick: str = ""
    station_title: str = ""
    broad_start: str = ""


class Station(BaseModel):
    """A get_station_status answer."""

    result: int = Field(alias="RESULT")
    data: StationData | None = Field(default=None, alias="DATA")

    @property
    def started_at(self) -> datetime | None:
        """`broad_start` (`YYYY-MM-DD HH:MM:SS`, Korean time) as an aware time."""
        text = self.data.broad_start if self.data else ""
        try:
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=KST)
        except ValueError:
            return None


def chat_host(channel: Channel) -> str | None:
    """The chat server's host: `CHDOMAIN`, else `CHIP` (an IPv4 address becomes
    its `chat-<hex>.sooplive.com` name, which the server's certificate covers, as
    rust-srec resolves it)."""
    if channel.chat_domain and channel.chat_domain.strip():
        return channel.chat_domain.strip().lower()
    ip = (channel.chat_ip or "").strip()
    parts = ip.split(".")
    if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
        return "chat-" + "".join(f"{int(p):02x}" for p in parts) + ".sooplive.com"
    return ip.lower() or None


def web_cdn(cdn: str) -> str:
    """The player's `return_type` for the answer's CDN."""
    return next((web for key, web in CDN_WEB.items() if key in cdn), cdn)


def ranked(presets: list[Preset]) -> list[Preset]:
    """The presets worth recording, best first: `original`, then by the largest
    number in the label (1440p before 720p), `auto` left out."""

    def height(preset: Preset) -> int:
        return max((int(d) for d in _DIGITS.findall(preset.label)), default=0)

    kept = [p for p in presets if p.name != "auto"]
    return sorted(kept, key=lambda p: (p.name != "original", -height(p)))


def quality_of(preset: Preset) -> str:
    """A quality name the selection understands: `1080p (source)`, `720p`, …"""
    label = preset.label.strip()
    resolution = label if re.fullmatch(r"\d{3,4}p\d*", label) else ""
    if preset.name == "original":
        return f"{resolution} (source)" if resolution else "source"
    return resolution or preset.name

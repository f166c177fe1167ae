"""
$description Chinese lifestyle platform Xiaohongshu (小红书, RedNote); its live rooms.
$platform redbook
$url https://www.xiaohongshu.com/livestream/569443549099268368
$url https://www.xiaohongshu.com/hina/livestream/569443549099268368?host_id=6509435d0000000017023f36
$url https://xhslink.com/m/844vKmW30jz
$type live
$metadata title
$metadata author
$metadata avatar
$metadata cover

Xiaohongshu's live room page, as it is served today: the page of a room carries
the room's state as `window.__INITIAL_STATE__` (a JavaScript object: bare
`undefined` values become null). `liveStream.pageStatus` says whether the room
exists (its `errorMessage` why not), `liveStatus` whether it broadcasts ("success")
or ended ("end"), and `roomData` names the host and the room: title, cover, the
app deeplink and `pullConfig` (JSON in a string): the H.264 and H.265 streams, each
`master_url` an FLV or HLS URL. A room without `pullConfig` is still playable
through the deeplink's `flvUrl`.

A room id names a room; Xiaohongshu's public web pages answer nothing for a host
between broadcasts (the app API DouyinLiveRecorder used, `live/user_status`, was
dropped in 2025), so a streamer is followed by the room its share link names.
Share links (xhslink.com) redirect to the room page.

Outcomes: a page that does not exist (`pageStatus` not "success") → not found; a
replay in the room (title "…回放…") → offline; the login or captcha page it sends
suspicious clients to → rate limited. Options: `cookies`, `hevc`. No batch status,
no chat protocol.
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, Field, Json

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo, StreamKind
from activities.errors import ExtractorError
from activities.platforms.base import (
    Channel,
    Extractor,
    Outcome,
    PlatformOptions,
    answer,
)
from activities.platforms.web import cookie_header, parse, request

SITE = "https://www.xiaohongshu.com"
ROOM_URL = SITE + "/hina/livestream/{room}"
# the app's own web view, which the room page serves in full
USER_AGENT = "ios/7.830 (ios 17.0; ; iPhone 15 (A2846/A3089/A3090/A3092))"
HEADERS = {"User-Agent": USER_AGENT, "Referer": "https://app.xhs.cn/"}
REPLAY = "回放"
_STATE = re.compile(r"<script>window\.__INITIAL_STATE__=(.*?)</script>", re.S)
_UNDEFINED = re.compile(r"([:,\[]\s*)undefined\b")
_BLOCKED = ("captcha", "website-login")


class RedbookOptions(PlatformOptions):
    """Xiaohongshu's options; `cookies` (web_session) go to the room page."""

    hevc: bool = Field(default=True, description="Also offer H.265 streams")


class _Stream(BaseModel):
    master_url: str
    quality_type_name: str = ""


class _PullConfig(BaseModel):
    h264: list[_Stream] | None = None
    h265: list[_Stream] | None = None


class _Host(BaseModel):
    nickName: str = ""
    avatar: str = ""


class _Room(BaseModel):
    roomTitle: str | None = None
    roomCover: str | None = None
    deeplink: str | None = None
    # a JSON string in today's pages, an object in some older ones
    pullConfig: Json[_PullConfig] | _PullConfig | None = None


class _RoomData(BaseModel):
    hostInfo: _Host = Field(default_factory=_Host)
    roomInfo: _Room = Field(default_factory=_Room)


class _LiveStream(BaseModel):
    pageStatus: str
    liveStatus: str
    errorMessage: str = ""
    roomData: _RoomData = Field(default_factory=_RoomData)


class _State(BaseModel):
    liveStream: _LiveStream


class Redbook(Extractor):
    """Xiaohongshu live rooms (see the module docstring)."""

    platform = "redbook"
    options_model = RedbookOptions
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(
            r"https?://(?:www\.)?(?:xiaohongshu\.com|redelight\.cn)/(?:hina/)?"
            r"livestream/(?:[A-Za-z][\w-]*/)?(?P<channel>\d{6,24})(?:/\d+)?/?"
            r"(?:[?#]\S*)?\Z"
        ),
        "share": re.compile(
            r"https?://xhslink\.com/(?:[a-z]/)?(?P<code>[A-Za-z0-9]{4,16})/?"
            r"(?:\?\S*)?\Z"
        ),
    }

    @property
    def _opts(self) -> RedbookOptions:
        assert isinstance(self.options, RedbookOptions)
        return self.options

    async def check(self, channel: Channel) -> LiveStatus:
        room = channel.reference or await self._follow_share(channel)
        stream = (await self._state(room)).liveStream
        if stream.pageStatus != "success":
            return answer(LiveOutcome.NOT_FOUND, stream.errorMessage or "no such room")
        host, info = stream.roomData.hostInfo, stream.roomData.roomInfo
        title = info.roomTitle or f"{host.nickName} 的直播"
        fields = {
            "title": title,
            "author": host.nickName,
            "avatar_url": host.avatar,
            "cover_url": info.roomCover or "",
        }
        if stream.liveStatus != "success":
            return answer(LiveOutcome.OFFLINE, **fields)
        if REPLAY in title:
            return answer(LiveOutcome.OFFLINE, "a replay is showing", **fields)
        return answer(LiveOutcome.LIVE, streams=self._streams_of(info), **fields)

    def _streams_of(self, room: _Room) -> list[StreamInfo]:
        config = room.pullConfig
        groups = [("avc", config.h264 if config else None)]
        if self._opts.hevc:
            groups.append(("hevc", config.h265 if config else None))
        found = [
            StreamInfo(
                url=stream.master_url,
                kind=_kind(stream.master_url),
                quality=stream.quality_type_name or "原画",
                codec=codec,
                container="flv" if _kind(stream.master_url) is StreamKind.FLV else "ts",
                headers=HEADERS,
            )
            for codec, streams in groups
            for stream in streams or []
        ]
        flv = parse_qs(urlsplit(room.deeplink or "").query).get("flvUrl", [""])[0]
        if not found and flv:
            found.append(StreamInfo(url=flv, kind=StreamKind.FLV, headers=HEADERS))
        return found

    async def _state(self, room: str) -> _State:
        what = "redbook room page"
        headers = dict(HEADERS)
        if self.options.cookies is not None:
            headers |= cookie_header(self.options.cookies.get_secret_value())
        url = ROOM_URL.format(room=room)
        response = await request(self.http, "GET", url, what=what, headers=headers)
        if any(word in response.url.path for word in _BLOCKED):
            raise Outcome(LiveOutcome.RATE_LIMITED, f"{what}: sent to {response.url}")
        if response.status_code == 404:
            raise Outcome(LiveOutcome.NOT_FOUND, f"{what}: no room {room}")
        if response.status_code >= 400:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        found = _STATE.search(response.text)
        if found is None:
            raise ExtractorError(f"{what}: the page holds no __INITIAL_STATE__")
        return parse(_State, _UNDEFINED.sub(r"\1null", found.group(1)), what)

    async def _follow_share(self, channel: Channel) -> str:
        what = "redbook share link"
        response = await request(
            self.http, "GET", channel.url, what=what, follow_redirects=False
        )
        target = response.headers.get("location", "")
        found = self.match(target)
        if found is None or "channel" not in found[1]:
            raise Outcome(LiveOutcome.NOT_FOUND, f"{what} leads to {target!r}")
        return found[1]["channel"]


def _kind(url: str) -> StreamKind:
    return StreamKind.HLS if ".m3u8" in urlsplit(url).path else StreamKind.FLV


__extractor__ = Redbook

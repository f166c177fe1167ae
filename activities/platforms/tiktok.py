"""
$description Global short-video platform (ByteDance); its LIVE broadcasts.
$platform tiktok
$url https://www.tiktok.com/@weathernewslive/live
$url https://www.tiktok.com/@weathernewslive
$url https://m.tiktok.com/share/live/7210809319192726273
$url https://vm.tiktok.com/ZMhvqJ8xY/
$type live
$metadata title
$metadata author
$metadata avatar
$metadata cover
$metadata viewers
$metadata started_at

TikTok's web API, as its LIVE page uses it today. The live check is
`api-live/user/room` for the streamer's unique id (the `@name` of the URL): the
user, their current `roomId`, and the room (`status` 2 = live, 4 = ended, title,
cover, start, viewers). Resolution is separate: `webcast/room/info` for that room id
lists the streams in ByteDance's webcast shape (`_bytedance`). A room id names one
broadcast, so it is learned afresh at every check.

Share links: `m.tiktok.com/share/live/<room id>` names a room (its `owner` names the
streamer), `vm.tiktok.com/<code>` redirects to the streamer's page.

Outcomes: `user_not_found` → not found; room info code 4003110 (LIVE restricted to
adults or some regions) → age restricted; TikTok's notice that it stopped operating
in the viewer's country → region locked; an empty or HTML answer (its bot
protection) → rate limited. Options: `cookies` (a signed-in session opens
restricted rooms), sent to the API only. No batch status: `room/check_alive` takes
room ids, and a streamer's next broadcast has a new one. No chat: TikTok's
webcast push websocket wants a signature only its web page (or a third-party
signing service) computes, and srec has no TikTok chat codec.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel
from typing_extensions import override

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo
from activities.errors import ExtractorError
from activities.platforms import _bytedance as bytedance
from activities.platforms.base import (
    Channel,
    Extractor,
    Outcome,
    PlatformOptions,
    answer,
)
from activities.platforms.web import BROWSER_UA, cookie_header, parse, request

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx

M = TypeVar("M", bound=BaseModel)

SITE = "https://www.tiktok.com"
USER_ROOM_URL = f"{SITE}/api-live/user/room/"
ROOM_INFO_URL = "https://webcast.tiktok.com/webcast/room/info/"
RESTRICTED_CODE = 4003110
NOT_FOUND_MESSAGE = "user_not_found"
# the page TikTok serves where it no longer operates (India)
DISCONTINUED = b"we have discontinued operating TikTok"
HEADERS = {"User-Agent": BROWSER_UA, "Referer": f"{SITE}/"}
_USER = r"@(?P<channel>[\w.-]{2,24})"


class _User(BaseModel):
    uniqueId: str = ""
    nickname: str = ""
    avatarLarger: str = ""
    roomId: str = ""


class _Stats(BaseModel):
    userCount: int | None = None


class _LiveRoom(BaseModel):
    status: int  # 2 live, 4 ended
    title: str = ""
    coverUrl: str = ""
    startTime: int = 0
    liveRoomStats: _Stats | None = None


class _UserRoom(BaseModel):
    user: _User | None = None
    liveRoom: _LiveRoom | None = None


class _UserRoomReply(BaseModel):
    statusCode: int = 0
    message: str = ""
    data: _UserRoom | None = None


class _Owner(BaseModel):
    display_id: str = ""


class _RoomInfo(BaseModel):
    status: int = 0
    owner: _Owner | None = None
    stream_url: bytedance.StreamUrl | None = None
    message: str = ""
    prompts: str = ""


class _RoomInfoReply(BaseModel):
    status_code: int = 0
    data: _RoomInfo | None = None


class TikTok(Extractor):
    """TikTok LIVE (see the module docstring)."""

    platform = "tiktok"
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(
            r"https?://(?:www\.|m\.)?tiktok\.com/"
            + _USER
            + r"(?:/live)?/?(?:[?#]\S*)?\Z"
        ),
        "share": re.compile(
            r"https?://m\.tiktok\.com/share/live/(?P<room>\d+)/?(?:[?#]\S*)?\Z"
        ),
        "short": re.compile(
            r"https?://(?:(?:vm|vt)\.tiktok\.com|(?:www\.)?tiktok\.com/t)/"
            r"(?P<code>[A-Za-z0-9]{5,16})/?(?:\?\S*)?\Z"
        ),
    }

    def __init__(
        self, http: httpx.AsyncClient, options: PlatformOptions | None = None
    ) -> None:
        super().__init__(http, options)
        self._rooms: dict[str, str] = {}  # channel URL → its current room id

    async def check(self, channel: Channel) -> LiveStatus:
        user_id = await self._unique_id(channel)
        what = "tiktok api-live/user/room"
        params = {
            "aid": "1988", "app_name": "tiktok_web", "device_platform": "web_pc",
            "app_language": "en", "browser_language": "en-US", "region": "US",
            "user_is_login": "false", "sourceType": "54", "uniqueId": user_id,
        }  # fmt: skip
        reply = await self._get(_UserRoomReply, USER_ROOM_URL, params, what)
        if reply.message == NOT_FOUND_MESSAGE:
            return answer(LiveOutcome.NOT_FOUND, f"no TikTok user {user_id}")
        if reply.statusCode != 0:
            detail = f"{what}: {reply.statusCode} {reply.message}"
            return answer(LiveOutcome.UNAVAILABLE, detail)
        if reply.data is None:
            raise ExtractorError(
                f"{what}: the answer changed shape: missing field data"
            )
        user, room = reply.data.user, reply.data.liveRoom
        fields: dict[str, Any] = {
            "author": (user.nickname or user.uniqueId) if user else user_id,
            "avatar_url": user.avatarLarger if user else "",
        }
        if user is None or not user.roomId or room is None:
            return answer(LiveOutcome.OFFLINE, "no LIVE room", **fields)
        fields.update(title=room.title, cover_url=room.coverUrl)
        if room.status != 2:
            return answer(LiveOutcome.OFFLINE, **fields)
        self._rooms[channel.url] = user.roomId
        return answer(
            LiveOutcome.LIVE,
            viewers=room.liveRoomStats.userCount if room.liveRoomStats else None,
            started_at=(
                datetime.fromtimestamp(room.startTime, UTC) if room.startTime else None
            ),
            **fields,
        )

    @override
    async def resolve(self, channel: Channel, status: LiveStatus) -> list[StreamInfo]:
        room_id = self._rooms.get(channel.url) or channel.groups.get("room", "")
        info = await self._room_info(room_id)
        if info.status != 2 or info.stream_url is None:
            raise Outcome(LiveOutcome.OFFLINE, "tiktok room/info: the LIVE ended")
        return bytedance.streams_of(info.stream_url, HEADERS)

    async def _unique_id(self, channel: Channel) -> str:
        """The streamer's `@name`: in the URL, behind a redirect, or the owner's."""
        if channel.reference:
            return channel.reference
        if channel.matcher == "share":
            owner = (await self._room_info(channel.groups["room"])).owner
            if owner is None or not owner.display_id:
                raise Outcome(LiveOutcome.NOT_FOUND, "the shared room has no owner")
            return owner.display_id
        what = "tiktok short link"
        response = await request(
            self.http, "GET", channel.url, what=what, follow_redirects=False
        )
        target = response.headers.get("location", "")
        found = self.match(target)
        if found is None or "channel" not in found[1]:
            raise Outcome(LiveOutcome.NOT_FOUND, f"{what} leads to {target!r}")
        return found[1]["channel"]

    async def _room_info(self, room_id: str) -> _RoomInfo:
        what = "tiktok room/info"
        params = {"aid": "1988", "room_id": room_id}
        reply = await self._get(_RoomInfoReply, ROOM_INFO_URL, params, what)
        words = f"{reply.data.prompts or reply.data.message}" if reply.data else ""
        if reply.status_code == RESTRICTED_CODE:
            detail = words or "LIVE restricted by age or region"
            raise Outcome(LiveOutcome.AGE_RESTRICTED, f"{what}: {detail}")
        if reply.status_code != 0:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: {reply.status_code} {words}"
            )
        if reply.data is None:
            raise ExtractorError(
                f"{what}: the answer changed shape: missing field data"
            )
        return reply.data

    async def _get(
        self, model: type[M], url: str, params: Mapping[str, str], what: str
    ) -> M:
        headers = dict(HEADERS)
        if self.options.cookies is not None:
            headers |= cookie_header(self.options.cookies.get_secret_value())
        response = await request(
            self.http, "GET", url, params=params, headers=headers, what=what
        )
        body = response.content.strip()
        if DISCONTINUED in body:
            raise Outcome(
                LiveOutcome.REGION_LOCKED, f"{what}: TikTok is unavailable here"
            )
        if response.status_code >= 400:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        if not body or body.startswith(b"<"):
            raise Outcome(LiveOutcome.RATE_LIMITED, f"{what}: bot protection (no data)")
        return parse(model, body, what)


__extractor__ = TikTok

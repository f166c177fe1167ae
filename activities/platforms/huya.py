"""
$description Chinese live-streaming platform for games and entertainment (虎牙直播).
$platform huya
$url https://www.huya.com/660000
$url https://www.huya.com/lpl
$url https://m.huya.com/660000
$type live
$metadata title
$metadata author
$metadata category
$metadata avatar
$metadata cover
$metadata viewers
$metadata started_at

Huya's mini-program API, as its WeChat player uses it today: one GET of
`mp.huya.com/cache.php?m=Live&do=profileRoom&roomid=<room>` answers the room's
status (`liveStatus` and `realLiveStatus` ON), its title, streamer, game, viewers and
start, and every stream: per CDN (`baseSteamInfoList`: AL, TX, HS, …, in the
platform's order of preference) an FLV and an HLS URL, each at every quality the
room offers (`bitRateInfo`; `ratio=<kbps>` asks for one, none for the source). The
URLs carry a signed anti-code (`wsSecret`, valid until `wsTime`), so the streams
come with the check. A room named by its alias (`huya.com/lpl`) is resolved to its
number through the room page's `TT_ROOM_DATA`.

Options: `force_origin` drops the transcoded copy's `-imgplus` from the stream name
and signs the anti-code again for the source (`_huya_api.anti_code`); cookies go to
the API only. Outcomes: status 422 "主播不存在" (or the page's "找不到这个主播") → not
found; the page's "涉嫌违规" (under rectification) → banned; a replay (`liveStatus`
REPLAY, or a 【回放】 title) → offline. Chat: `danmu_info` gives the presenter
uid and the channel ids the Huya danmu protocol joins with.
"""

from __future__ import annotations

import json
import random
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from activities.contracts import LiveOutcome, LiveStatus
from activities.danmu.models import DanmuConnectInfo
from activities.errors import ExtractorError
from activities.platforms._huya_api import Reply, Room, RoomData, Status, streams_of
from activities.platforms.base import (
    Channel,
    Extractor,
    Outcome,
    PlatformOptions,
    answer,
)
from activities.platforms.web import BROWSER_UA, cookie_header, parse, request

if TYPE_CHECKING:
    import httpx

MP_URL = "https://mp.huya.com/cache.php"
PAGE_URL = "https://www.huya.com/{room}"
HEADERS = {
    "User-Agent": BROWSER_UA,
    "Referer": "https://www.huya.com/",
    "Origin": "https://www.huya.com",
}
NOT_FOUND_WORDS = ("主播不存在", "找不到这个主播")
BANNED_WORDS = "该主播涉嫌违规，正在整改中"  # noqa: RUF001 - the page's own words
_ROOM_DATA = re.compile(r"var\s+TT_ROOM_DATA\s*=\s*")
# first path segments that are Huya pages, not rooms
_RESERVED = "g|l|video|search|myfollow|download|e|cache\\.php|index\\.php"
_ROOM = r"(?P<channel>(?!(?:" + _RESERVED + r")(?:[/?#]|\Z))[A-Za-z0-9_-]{2,40})"
_TAIL = r"/?(?:[?#]\S*)?\Z"
# Huya's and streamlink's players sign with a throwaway viewer id in this range
_VIEWER_UIDS = (12340000, 12349999)


class HuyaOptions(PlatformOptions):
    """Huya's options."""

    force_origin: bool = Field(
        default=False,
        description="Record the source stream: drop the transcoded copy's "
        "`-imgplus` and sign the URL again",
    )


class Huya(Extractor):
    """Huya rooms through the mini-program API (see the module docstring)."""

    platform = "huya"
    options_model = HuyaOptions
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(r"https?://(?:www\.)?huya\.com/" + _ROOM + _TAIL),
        "mobile": re.compile(r"https?://m\.huya\.com/" + _ROOM + _TAIL),
    }

    def __init__(
        self, http: httpx.AsyncClient, options: PlatformOptions | None = None
    ) -> None:
        super().__init__(http, options)
        self._rooms: dict[str, Room] = {}

    @property
    def _opts(self) -> HuyaOptions:
        assert isinstance(self.options, HuyaOptions)
        return self.options

    def _headers(self) -> dict[str, str]:
        cookies = self.options.cookies
        return HEADERS | cookie_header(cookies.get_secret_value() if cookies else None)

    async def _room(self, channel: Channel) -> Room:
        """The profileRoom answer of the channel's room (asked once per instance)."""
        ref = channel.reference
        if not ref:
            raise ExtractorError(f"no Huya room in {channel.url}")
        if ref not in self._rooms:
            number = ref if ref.isdigit() else await self._room_number(ref)
            what = "huya profileRoom"
            params = {"m": "Live", "do": "profileRoom", "roomid": number}
            params["showSecret"] = "1"
            response = await request(
                self.http, "GET", MP_URL, params=params, headers=self._headers(),
                what=what,
            )  # fmt: skip
            status = parse(Status, response, what)
            if status.status != 200:
                words = status.message
                if status.status == 422 or any(w in words for w in NOT_FOUND_WORDS):
                    raise Outcome(LiveOutcome.NOT_FOUND, f"room {ref}: {words}")
                raise Outcome(
                    LiveOutcome.UNAVAILABLE, f"{what}: {status.status} {words}"
                )
            reply = parse(Reply, response, what)
            self._rooms[ref] = reply.data
        return self._rooms[ref]

    async def _room_number(self, alias: str) -> str:
        """The number of the room named `alias`, from its page's TT_ROOM_DATA."""
        what = "huya room page"
        response = await request(
            self.http, "GET", PAGE_URL.format(room=alias), headers=self._headers(),
            what=what,
        )  # fmt: skip
        page = response.text
        if response.status_code == 404 or any(w in page for w in NOT_FOUND_WORDS):
            raise Outcome(LiveOutcome.NOT_FOUND, f"no Huya room {alias}")
        if BANNED_WORDS in page:
            raise Outcome(LiveOutcome.BANNED, f"room {alias}: {BANNED_WORDS}")
        found = _ROOM_DATA.search(page)
        if found is None:
            raise ExtractorError(f"{what}: no TT_ROOM_DATA in {alias}'s page")
        try:
            data, _ = json.JSONDecoder().raw_decode(page, found.end())
        except ValueError as err:
            raise ExtractorError(f"{what}: TT_ROOM_DATA is not JSON") from err
        room = parse(RoomData, json.dumps(data), what)
        if not room.profile_room:
            raise Outcome(LiveOutcome.NOT_FOUND, f"{alias} has no room number")
        return str(room.profile_room)

    async def check(self, channel: Channel) -> LiveStatus:
        room = await self._room(channel)
        live = room.live
        fields = {
            "title": (live.introduction or live.room_name) if live else "",
            "author": room.profile.nick,
            "avatar_url": room.profile.avatar,
            "category": live.game if live else "",
            "cover_url": live.screenshot if live else "",
        }
        if room.is_replay:
            return answer(LiveOutcome.OFFLINE, "a replay is showing", **fields)
        if not room.is_live or live is None:
            return answer(LiveOutcome.OFFLINE, **fields)
        viewer = random.randint(*_VIEWER_UIDS)
        streams = streams_of(
            room, HEADERS, origin=self._opts.force_origin, uid=viewer, now=time.time()
        )
        return answer(
            LiveOutcome.LIVE,
            viewers=live.user_count,
            started_at=(
                datetime.fromtimestamp(live.start_time, UTC)
                if live.start_time
                else None
            ),
            streams=streams,
            **fields,
        )

    async def danmu_info(self, channel: Channel) -> DanmuConnectInfo:
        room = await self._room(channel)
        cookies = self.options.cookies
        return DanmuConnectInfo(
            platform=self.platform,
            room_id=str(room.profile.uid),
            cookie=cookies.get_secret_value() if cookies else "",
            user_agent=BROWSER_UA,
            params={"top_sid": str(room.top_sid), "sub_sid": str(room.sub_sid)},
        )


__extractor__ = Huya

"""
$description Chinese short-video platform (ByteDance); its live rooms (抖音直播).
$platform douyin
$url https://live.douyin.com/745964462470
$url https://www.douyin.com/root/live/745964462470
$url https://v.douyin.com/iRNBho6/
$url https://webcast.amemv.com/douyin/webcast/reflow/7521591388094384905
$type live
$metadata title
$metadata author
$metadata avatar
$metadata cover
$metadata viewers

Douyin's live web API, as the room page uses it today. One call answers both the
live check and the streams: `webcast/room/web/enter` for the room's `web_rid` (the
number in its live.douyin.com URL), signed with `a_bogus` and sent with a `ttwid`
cookie, which Douyin hands out to anyone (`ttwid/union/register`, kept two hours
and shared by the process; a user's own cookie wins). The answer names the
streamer, the room (`status` 2 = live, 4 = ended) and its streams (`_bytedance`).

Share links (v.douyin.com) redirect to the mobile share page of a room
(webcast.amemv.com `reflow/<room id>`), whose `reflow/info` names the `web_rid`.

Outcomes: the prompt "直播已结束" → offline; "你不在主播设置的可见范围内" → private;
no streamer and no room → not found, as is a closed account ("账号已注销"); an
empty or HTML answer (Douyin's risk control) → rate limited. Options: `cookies`
(sent to the API only), `origin_quality` (also offer the untranscoded source).
Chat (`danmu_info`): the webcast push websocket for the room id, with the X-Bogus
`signature` of its parameters and the `ttwid` cookie. No batch status call.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from pydantic import Field

from activities.contracts import LiveOutcome, LiveStatus
from activities.danmu.models import DanmuConnectInfo
from activities.errors import ExtractorError
from activities.platforms import _bytedance as bytedance
from activities.platforms import _douyin_api as api
from activities.platforms._douyin_sign import a_bogus, x_bogus
from activities.platforms.base import (
    Channel,
    Extractor,
    Outcome,
    PlatformOptions,
    answer,
)
from activities.platforms.web import BROWSER_UA, parse, request

if TYPE_CHECKING:
    from collections.abc import Mapping

TTWID_TTL_SECS = 2 * 3600.0
_RESERVED = r"(?!(?:category|search|hot|user|ranklist|favicon\.ico)\b)"
_RID = _RESERVED + r"(?P<channel>[A-Za-z0-9_.-]{2,40})/?(?:[?#]\S*)?\Z"


class DouyinOptions(PlatformOptions):
    """Douyin's options; `cookies` (a logged-in session) are sent to the API."""

    origin_quality: bool = Field(
        default=False,
        description="Also offer the untranscoded source where Douyin's origin "
        "quality is itself a transcode (`_or4`)",
    )


class Douyin(Extractor):
    """Douyin live rooms (see the module docstring)."""

    platform = "douyin"
    options_model = DouyinOptions
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(r"https?://live\.douyin\.com/" + _RID),
        "web": re.compile(
            r"https?://(?:www\.)?douyin\.com/(?:root/|follow/)?live/" + _RID
        ),
        "share": re.compile(
            r"https?://v\.douyin\.com/(?P<code>[A-Za-z0-9_-]{4,16})/?(?:\?\S*)?\Z"
        ),
        "reflow": re.compile(
            r"https?://webcast\.amemv\.com/douyin/webcast/reflow/(?P<room>\d+)"
            r"/?(?:\?\S*)?\Z"
        ),
    }
    # process-wide: Douyin gives any visitor a ttwid, valid far longer than this
    _ttwid: ClassVar[tuple[str, float] | None] = None

    @classmethod
    def forget(cls) -> None:
        """Drop the process-wide ttwid."""
        cls._ttwid = None

    @property
    def _opts(self) -> DouyinOptions:
        assert isinstance(self.options, DouyinOptions)
        return self.options

    async def check(self, channel: Channel) -> LiveStatus:
        reply = await self._enter(await self._web_rid(channel))
        return _status(reply, self._opts.origin_quality)

    async def danmu_info(self, channel: Channel) -> DanmuConnectInfo:
        """The webcast push websocket of the room, signed as the web page signs it."""
        data = await self._enter(await self._web_rid(channel))
        room = data.enter_room_id or (data.data[0].id_str if data.data else "")
        if not room:
            raise Outcome(LiveOutcome.NOT_FOUND, data.message or "no such room")
        user = api.user_unique_id()
        query = urlencode(api.ws_params(room, user))
        stub = hashlib.md5(api.ws_signed(room, user).encode()).hexdigest()
        # its alphabet has '+' and '/': sent raw, a '+' would arrive as a space
        signature = quote(x_bogus(stub), safe="")
        return DanmuConnectInfo(
            platform=self.platform,
            room_id=room,
            ws_urls=[
                f"{host}{api.WS_PATH}?{query}&signature={signature}"
                for host in api.WS_HOSTS
            ],
            cookie=await self._cookie(),
            user_agent=BROWSER_UA,
        )

    # --- requests ----------------------------------------------------------------

    async def _enter(self, web_rid: str) -> api.EnterData:
        what = "douyin room/web/enter"
        body = await self._get(api.ENTER_URL, api.enter_params(web_rid), what)
        return _data(parse(api.EnterReply, body, what), what)

    async def _web_rid(self, channel: Channel) -> str:
        """The room's web_rid: in the URL, or behind a share link's redirect."""
        if channel.reference:
            return channel.reference
        found = channel
        if channel.matcher == "share":
            what = "douyin share link"
            response = await request(
                self.http, "GET", channel.url, what=what, follow_redirects=False
            )
            target = response.headers.get("location", "")
            leads = self.match(target)
            if leads is None or leads[0] == "share":
                raise Outcome(LiveOutcome.NOT_FOUND, f"{what} leads to {target!r}")
            found = self.channel(target)
        if found.reference:
            return found.reference
        return await self._reflow(found)

    async def _reflow(self, channel: Channel) -> str:
        what = "douyin reflow/info"
        sec_user_id = parse_qs(urlsplit(channel.url).query).get("sec_user_id", [""])
        params = api.reflow_params(channel.groups.get("room", ""), sec_user_id[0])
        reply = parse(
            api.ReflowReply, await self._get(api.REFLOW_URL, params, what), what
        )
        owner = reply.data.room.owner if reply.data and reply.data.room else None
        if reply.status_code != 0 or owner is None or not owner.web_rid:
            detail = reply.data.prompts or reply.data.message if reply.data else ""
            raise Outcome(LiveOutcome.NOT_FOUND, f"{what}: {detail or 'no room'}")
        return owner.web_rid

    async def _get(self, url: str, params: Mapping[str, str], what: str) -> bytes:
        """A GET signed with a_bogus over the exact query sent, with the ttwid."""
        query = urlencode(params)
        signed = f"{url}?{query}&a_bogus={a_bogus(query, BROWSER_UA)}"
        headers = api.HEADERS | {"Cookie": await self._cookie()}
        response = await request(
            self.http,
            "GET",
            signed,
            what=what,
            headers=headers,
            rate_limited=(429, 444),
        )
        body = response.content.strip()
        if response.status_code >= 400:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        if not body or body.startswith(b"<"):
            # Douyin's risk control answers 200 with nothing, or a verify page
            raise Outcome(LiveOutcome.RATE_LIMITED, f"{what}: risk control (no data)")
        return body

    async def _cookie(self) -> str:
        """The user's cookie, with a visitor ttwid unless it has its own."""
        own = self.options.cookies.get_secret_value() if self.options.cookies else ""
        if re.search(r"(?:^|;\s*)ttwid=", own):
            return own
        return "; ".join(filter(None, [f"ttwid={await self._visitor_ttwid()}", own]))

    async def _visitor_ttwid(self) -> str:
        cached = type(self)._ttwid
        if cached is not None and time.monotonic() - cached[1] < TTWID_TTL_SECS:
            return cached[0]
        what = "douyin ttwid"
        response = await request(
            self.http, "POST", api.TTWID_URL, what=what, json=api.TTWID_BODY,
            headers={"User-Agent": BROWSER_UA},
        )  # fmt: skip
        for header in response.headers.get_list("set-cookie"):
            name, _, value = header.split(";", 1)[0].partition("=")
            if name.strip() == "ttwid" and value.strip():
                type(self)._ttwid = (value.strip(), time.monotonic())
                return value.strip()
        raise ExtractorError(f"{what}: HTTP {response.status_code} set no ttwid cookie")


def _data(reply: api.EnterReply, what: str) -> api.EnterData:
    if reply.status_code != 0:
        message = reply.data.message if reply.data else ""
        raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: {reply.status_code} {message}")
    if reply.data is None:
        raise ExtractorError(f"{what}: the answer changed shape: missing field data")
    return reply.data


def _status(data: api.EnterData, origin_quality: bool) -> LiveStatus:
    """What the enter answer says about the room."""
    user, room = data.user, (data.data[0] if data.data else None)
    fields: dict[str, Any] = {
        "author": user.nickname if user else "",
        "avatar_url": _first(user.avatar_thumb if user else None),
        "title": room.title if room else "",
        "cover_url": _first(room.cover if room else None),
    }
    if api.PROMPT_HIDDEN in data.prompts:
        return answer(LiveOutcome.PRIVATE, data.prompts, **fields)
    if api.PROMPT_ENDED in data.prompts:
        return answer(LiveOutcome.OFFLINE, data.prompts, **fields)
    if user is None and room is None:
        detail = data.message or data.prompts or "no such room"
        return answer(LiveOutcome.NOT_FOUND, detail)
    if user is not None and user.closed:
        return answer(LiveOutcome.NOT_FOUND, "the account was closed", **fields)
    if room is None:
        # an audio or VR room the web player cannot show
        return answer(LiveOutcome.UNAVAILABLE, "the web API lists no room", **fields)
    if room.status != 2:
        return answer(LiveOutcome.OFFLINE, **fields)
    streams = (
        bytedance.streams_of(
            room.stream_url, api.HEADERS, origin_quality=origin_quality
        )
        if room.stream_url
        else []
    )
    stats = room.room_view_stats
    viewers = stats.display_value if stats else None
    return answer(LiveOutcome.LIVE, streams=streams, viewers=viewers, **fields)


def _first(image: api.Image | None) -> str:
    return image.url_list[0] if image is not None and image.url_list else ""


__extractor__ = Douyin

"""
$description Chinese video site; its live rooms (哔哩哔哩直播).
$platform bilibili
$url https://live.bilibili.com/23058
$url https://live.bilibili.com/h5/23058
$url https://b23.tv/AbCdEf1
$type live
$metadata title
$metadata author
$metadata category
$metadata avatar
$metadata cover
$metadata viewers
$metadata started_at

Bilibili's live web API, as the web player uses it today. The live check is
`room/v1/Room/room_init` (short id → room id and uid, live status, locked, hidden
and password flags) and `room/v1/Room/get_status_info_by_uids` (title, streamer,
area, cover, viewers). Resolution is separate: `xlive/web-room/v2/index/
getRoomPlayInfo`, WBI-signed like the web, lists the streams per protocol
(http_stream = FLV, http_hls = HLS), format (flv, ts, fmp4) and codec (avc, hevc)
at the asked quality (`qn`), each on one or more CDN hosts (`url_info` host +
`extra`, which carries the URL's `expires`).

WBI signing (in `_bilibili_api`, with the answers' models) uses the two keys
`x/web-interface/nav` names; they are kept an hour.

Outcomes: code 60004 → not found; a locked room → banned; a hidden or
password-protected room → private; `live_status` 2 (a rotation of replays) →
offline; HTTP 412 and codes -412/-352 (Bilibili's throttling and risk control) →
rate limited. Share links (b23.tv, bili2233.cn) are followed to the room they
name. Batch status: `get_status_info_by_uids` for up to 50 rooms at once (room
→ uid learned once per room from `room_init`).

Chat (`danmu_info`): `xlive/web-room/v1/index/getDanmuInfo`, WBI-signed, gives
the connection token and the websocket hosts (`wss://host:wss_port/sub`) for the
real room id; the user's cookie goes along (its uid and buvid3 log the chat in).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, Field
from typing_extensions import override

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo
from activities.danmu.models import DanmuConnectInfo
from activities.errors import ExtractorError
from activities.platforms import _bilibili_api as api
from activities.platforms.base import (
    Channel,
    Extractor,
    Outcome,
    PlatformOptions,
    answer,
)
from activities.platforms.web import BROWSER_UA, cookie_header, parse, request

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import httpx

M = TypeVar("M", bound=BaseModel)

WBI_KEYS_TTL_SECS = 3600.0
_ROOM = r"(?P<channel>\d+)(?:[/?#]\S*)?\Z"


class BilibiliOptions(PlatformOptions):
    """Bilibili's options; `cookies` (SESSDATA) unlock higher qualities."""

    quality: int = Field(
        default=10000,
        description="qn to ask for: 10000 原画 (origin), 400 蓝光, 250 超清, "
        "150 高清, 80 流畅; 20000 (4K) and 30000 (Dolby) where offered",
    )
    hevc: bool = Field(default=True, description="Also offer HEVC streams")


class Bilibili(Extractor):
    """Bilibili live rooms (see the module docstring)."""

    platform = "bilibili"
    options_model = BilibiliOptions
    batch_size = 50
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(
            r"https?://(?:www\.)?live\.bilibili\.com/(?:blanc/)?" + _ROOM
        ),
        "mobile": re.compile(r"https?://live\.bilibili\.com/h5/" + _ROOM),
        "share": re.compile(
            r"https?://(?:b23\.tv|bili2233\.cn)/(?P<code>[A-Za-z0-9]{4,16})/?"
            r"(?:\?\S*)?\Z"
        ),
    }
    # process-wide: a room's uid never changes; WBI keys rotate daily
    _uids: ClassVar[dict[str, int]] = {}
    _wbi: ClassVar[tuple[str, float] | None] = None

    def __init__(
        self, http: httpx.AsyncClient, options: PlatformOptions | None = None
    ) -> None:
        super().__init__(http, options)
        self._inits: dict[str, api.Init] = {}

    @classmethod
    def forget(cls) -> None:
        """Drop the process-wide caches (room uids, WBI keys)."""
        cls._uids = {}
        cls._wbi = None

    @property
    def _opts(self) -> BilibiliOptions:
        assert isinstance(self.options, BilibiliOptions)
        return self.options

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": BROWSER_UA, "Referer": "https://live.bilibili.com/"}
        if self.options.cookies is not None:
            headers |= cookie_header(self.options.cookies.get_secret_value())
        return headers

    async def _get(
        self,
        model: type[M],
        url: str,
        what: str,
        *,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        coded: bool = True,
    ) -> M:
        """Call the API; with `coded`, a non-zero `code` is an outcome, not data."""
        response = await request(
            self.http,
            method,
            url,
            what=what,
            params=params,
            json=json,
            headers=self._headers(),
            rate_limited=(412, 429),
        )
        if response.status_code >= 400:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        if coded:
            # error answers carry any `data` ({}, [], null): read the code first
            api.checked(parse(api.Reply, response, what), what)
        return parse(model, response, what)

    async def _room(self, channel: Channel, *, fresh: bool = False) -> api.Init:
        """room_init (a share link followed first); kept for ids, asked if `fresh`."""
        ref = channel.reference or await self._follow_share(channel)
        if fresh or ref not in self._inits:
            what = "bilibili room_init"
            reply = await self._get(
                api.InitReply,
                f"{api.API}/room/v1/Room/room_init",
                what,
                params={"id": ref},
            )
            if reply.data is None:
                raise ExtractorError(f"{what}: missing field data")
            self._inits[ref] = reply.data
            self._uids[ref] = reply.data.uid
        return self._inits[ref]

    async def _follow_share(self, channel: Channel) -> str:
        what = "bilibili share link"
        response = await request(
            self.http, "GET", channel.url, what=what, follow_redirects=False
        )
        target = response.headers.get("location", "")
        found = self.match(target)
        if found is None or found[0] == "share" or "channel" not in found[1]:
            raise Outcome(
                LiveOutcome.NOT_FOUND, f"{what} leads to {target or 'nothing'}"
            )
        return found[1]["channel"]

    async def _by_uids(self, uids: Sequence[int]) -> dict[int, api.ByUid]:
        what = "bilibili get_status_info_by_uids"
        url = f"{api.API}/room/v1/Room/get_status_info_by_uids"
        reply = await self._get(
            api.ByUidReply, url, what, method="POST", json={"uids": list(uids)}
        )
        rooms = reply.data if isinstance(reply.data, dict) else {}
        return {room.uid: room for room in rooms.values()}

    async def check(self, channel: Channel) -> LiveStatus:
        # a kept room_init would report the room as at the first look for ever
        init = await self._room(channel, fresh=True)
        if init.is_locked:
            return answer(LiveOutcome.BANNED, f"room locked until {init.lock_till}")
        if init.is_hidden:
            return answer(LiveOutcome.PRIVATE, "room hidden")
        if init.encrypted and not init.pwd_verified:
            return answer(LiveOutcome.PRIVATE, "room needs a password")
        outcome, detail = api.outcome_of(init.live_status)
        fields = api.fields_of((await self._by_uids([init.uid])).get(init.uid))
        if init.live_status == 1 and init.live_time > 0:
            fields["started_at"] = datetime.fromtimestamp(init.live_time, UTC)
        return answer(outcome, detail, **fields)

    @override
    async def resolve(self, channel: Channel, status: LiveStatus) -> list[StreamInfo]:
        init = await self._room(channel)
        what = "bilibili getRoomPlayInfo"
        params = {
            "room_id": init.room_id, "protocol": "0,1", "format": "0,1,2",
            "codec": "0,1" if self._opts.hevc else "0", "qn": self._opts.quality,
            "platform": "web", "ptype": 8, "dolby": 5, "panorama": 1,
            "web_location": api.WEB_LOCATION,
        }  # fmt: skip
        url = f"{api.API}/xlive/web-room/v2/index/getRoomPlayInfo"
        info = (await self._signed(api.PlayReply, url, what, params)).data
        if info is None or info.live_status != 1 or info.playurl_info is None:
            raise Outcome(LiveOutcome.OFFLINE, f"{what}: no stream (not live)")
        if info.encrypted and not info.pwd_verified:
            raise Outcome(LiveOutcome.PRIVATE, "room needs a password")
        return api.streams_of(info.playurl_info.playurl)

    async def _signed(
        self, model: type[M], url: str, what: str, params: Mapping[str, Any]
    ) -> M:
        """A WBI-signed GET; risk control drops the cached keys (they may be stale)."""
        signed = api.wbi_sign(params, await self._mixin(), int(time.time()))
        try:
            return await self._get(model, url, what, params=signed)
        except Outcome as why:
            if why.outcome is LiveOutcome.RATE_LIMITED:
                type(self)._wbi = None  # -352 is also the answer to stale WBI keys
            raise

    async def _mixin(self) -> str:
        cached = type(self)._wbi
        if cached is not None and time.monotonic() - cached[1] < WBI_KEYS_TTL_SECS:
            return cached[0]
        nav = (
            await self._get(api.NavReply, api.NAV_URL, "bilibili nav", coded=False)
        ).data.wbi_img
        key = api.mixin_key(api.stem(nav.img_url), api.stem(nav.sub_url))
        if len(key) < 32:
            raise ExtractorError(f"bilibili nav: WBI keys too short: {nav}")
        type(self)._wbi = (key, time.monotonic())
        return key

    async def danmu_info(self, channel: Channel) -> DanmuConnectInfo:
        """The room's chat: getDanmuInfo's token and hosts, for the real room id."""
        room = str((await self._room(channel)).room_id)
        params = {"id": room, "type": 0, "web_location": api.WEB_LOCATION}
        url = f"{api.API}/xlive/web-room/v1/index/getDanmuInfo"
        what = "bilibili getDanmuInfo"
        reply = await self._signed(api.DanmuInfoReply, url, what, params)
        if reply.data is None:
            raise ExtractorError(f"{what}: missing field data")
        cookies = self.options.cookies
        return DanmuConnectInfo(
            platform=self.platform,
            room_id=room,
            token=reply.data.token,
            ws_urls=[f"wss://{h.host}:{h.wss_port}/sub" for h in reply.data.host_list],
            cookie=cookies.get_secret_value() if cookies is not None else "",
            user_agent=BROWSER_UA,
        )

    async def check_batch(self, channels: Sequence[Channel]) -> dict[str, LiveStatus]:
        found: dict[str, LiveStatus] = {}
        refs: dict[int, str] = {}
        for channel in channels[: self.batch_size]:
            ref = channel.reference
            if ref is None:
                continue  # a share link: only a full check follows it
            try:
                uid = self._uids.get(ref) or (await self._room(channel)).uid
            except Outcome as why:
                if not why.outcome.fatal:
                    raise
                found[ref] = why.status()
                continue
            refs[uid] = ref
        rooms = await self._by_uids(list(refs))
        for uid, ref in refs.items():
            if uid in rooms:
                found[ref] = answer(
                    *api.outcome_of(rooms[uid].live_status), **api.fields_of(rooms[uid])
                )
        return found


__extractor__ = Bilibili

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

WBI: the mixin key is 32 characters of the two keys `x/web-interface/nav` names
(`wbi_img`), reordered by a fixed table; a signed query is the sorted, encoded
parameters plus `wts`, and `w_rid` = md5(query + mixin key). Keys are kept an hour.

Outcomes: code 60004 → not found; a locked room → banned; a hidden or
password-protected room → private; `live_status` 2 (a rotation of replays) →
offline; HTTP 412 and codes -412/-352 (Bilibili's throttling and risk control) →
rate limited. Share links (b23.tv, bili2233.cn) are followed to the room they
name. Batch status: `get_status_info_by_uids` for up to 50 rooms at once (room
→ uid learned once per room from `room_init`).
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

from pydantic import BaseModel, Field
from typing_extensions import override

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo, StreamKind
from activities.errors import ExtractorError
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

API = "https://api.live.bilibili.com"
NAV_URL = "https://api.bilibili.com/x/web-interface/nav"
WEB_LOCATION = "444.8"  # the live room page, as its player signs it
NOT_FOUND_CODE = 60004
THROTTLED_CODES = frozenset({-412, -352})
WBI_KEYS_TTL_SECS = 3600.0
MIXIN_TABLE = (
    46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49,
    33, 9, 42, 19, 29, 28, 14, 39, 12, 38, 41, 13, 37, 48, 7, 16, 24, 55, 40, 61,
    26, 17, 0, 1, 60, 51, 30, 4, 22, 25, 54, 21, 56, 59, 6, 63, 57, 62, 11, 36,
    20, 34, 44, 52,
)  # fmt: skip
_ROOM = r"(?P<channel>\d+)(?:[/?#]\S*)?\Z"


class BilibiliOptions(PlatformOptions):
    """Bilibili's options; `cookies` (SESSDATA) unlock higher qualities."""

    quality: int = Field(
        default=10000,
        description="qn to ask for: 10000 原画 (origin), 400 蓝光, 250 超清, "
        "150 高清, 80 流畅; 20000 (4K) and 30000 (Dolby) where offered",
    )
    hevc: bool = Field(default=True, description="Also offer HEVC streams")


class _Reply(BaseModel):
    code: int
    message: str = ""


class _Init(BaseModel):
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


class _InitReply(_Reply):
    data: _Init | None = None


class _ByUid(BaseModel):
    title: str = ""
    room_id: int
    uid: int
    online: int | None = None
    live_status: int
    uname: str = ""
    face: str = ""
    area_v2_name: str = ""
    cover_from_user: str = ""


class _ByUidReply(_Reply):
    # an empty answer is `[]`, not `{}`
    data: dict[str, _ByUid] | list[Any] = Field(default_factory=dict)


class _UrlInfo(BaseModel):
    host: str
    extra: str


class _Codec(BaseModel):
    codec_name: str
    current_qn: int
    base_url: str
    url_info: list[_UrlInfo]


class _Format(BaseModel):
    format_name: str
    codec: list[_Codec]


class _Stream(BaseModel):
    protocol_name: str
    format: list[_Format]


class _Quality(BaseModel):
    qn: int
    desc: str


class _PlayUrl(BaseModel):
    g_qn_desc: list[_Quality] = Field(default_factory=list)
    stream: list[_Stream]


class _PlayUrlInfo(BaseModel):
    playurl: _PlayUrl


class _PlayInfo(BaseModel):
    live_status: int
    encrypted: bool = False
    pwd_verified: bool = False
    playurl_info: _PlayUrlInfo | None = None


class _PlayReply(_Reply):
    data: _PlayInfo | None = None


class _WbiImg(BaseModel):
    img_url: str
    sub_url: str


class _Nav(BaseModel):
    wbi_img: _WbiImg


class _NavReply(BaseModel):
    data: _Nav  # answered to anonymous callers too (with code -101)


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


def _checked(reply: _Reply, what: str) -> None:
    if reply.code in THROTTLED_CODES:
        raise Outcome(LiveOutcome.RATE_LIMITED, f"{what}: {reply.message}")
    if reply.code == NOT_FOUND_CODE:
        raise Outcome(LiveOutcome.NOT_FOUND, f"{what}: {reply.message}")
    if reply.code != 0:
        raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: {reply.code} {reply.message}")


def _outcome(live_status: int) -> tuple[LiveOutcome, str]:
    if live_status == 1:
        return LiveOutcome.LIVE, ""
    if live_status == 2:
        return LiveOutcome.OFFLINE, "a rotation of replays is showing"
    return LiveOutcome.OFFLINE, ""


def _fields(room: _ByUid | None) -> dict[str, Any]:
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
        self._inits: dict[str, _Init] = {}

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
            _checked(parse(_Reply, response, what), what)
        return parse(model, response, what)

    async def _room(self, channel: Channel) -> _Init:
        """room_init of the channel's room (a share link is followed first)."""
        ref = channel.reference or await self._follow_share(channel)
        if ref not in self._inits:
            what = "bilibili room_init"
            reply = await self._get(
                _InitReply, f"{API}/room/v1/Room/room_init", what, params={"id": ref}
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

    async def _by_uids(self, uids: Sequence[int]) -> dict[int, _ByUid]:
        what = "bilibili get_status_info_by_uids"
        url = f"{API}/room/v1/Room/get_status_info_by_uids"
        reply = await self._get(
            _ByUidReply, url, what, method="POST", json={"uids": list(uids)}
        )
        rooms = reply.data if isinstance(reply.data, dict) else {}
        return {room.uid: room for room in rooms.values()}

    async def check(self, channel: Channel) -> LiveStatus:
        init = await self._room(channel)
        if init.is_locked:
            return answer(LiveOutcome.BANNED, f"room locked until {init.lock_till}")
        if init.is_hidden:
            return answer(LiveOutcome.PRIVATE, "room hidden")
        if init.encrypted and not init.pwd_verified:
            return answer(LiveOutcome.PRIVATE, "room needs a password")
        outcome, detail = _outcome(init.live_status)
        fields = _fields((await self._by_uids([init.uid])).get(init.uid))
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
            "web_location": WEB_LOCATION,
        }  # fmt: skip
        signed = wbi_sign(params, await self._mixin(), int(time.time()))
        url = f"{API}/xlive/web-room/v2/index/getRoomPlayInfo"
        try:
            reply = await self._get(_PlayReply, url, what, params=signed)
        except Outcome as why:
            if why.outcome is LiveOutcome.RATE_LIMITED:
                type(self)._wbi = None  # -352 is also the answer to stale WBI keys
            raise
        info = reply.data
        if info is None or info.live_status != 1 or info.playurl_info is None:
            raise Outcome(LiveOutcome.OFFLINE, f"{what}: no stream (not live)")
        if info.encrypted and not info.pwd_verified:
            raise Outcome(LiveOutcome.PRIVATE, "room needs a password")
        return streams_of(info.playurl_info.playurl)

    async def _mixin(self) -> str:
        cached = type(self)._wbi
        if cached is not None and time.monotonic() - cached[1] < WBI_KEYS_TTL_SECS:
            return cached[0]
        nav = (
            await self._get(_NavReply, NAV_URL, "bilibili nav", coded=False)
        ).data.wbi_img
        key = mixin_key(_stem(nav.img_url), _stem(nav.sub_url))
        if len(key) < 32:
            raise ExtractorError(f"bilibili nav: WBI keys too short: {nav}")
        type(self)._wbi = (key, time.monotonic())
        return key

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
                    *_outcome(rooms[uid].live_status), **_fields(rooms[uid])
                )
        return found


def streams_of(playurl: _PlayUrl) -> list[StreamInfo]:
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
                            cdn=query.get("cdn", [_host_label(host.host)])[0],
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


def _stem(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1].split(".", 1)[0]


def _host_label(host: str) -> str:
    return (urlsplit(host).hostname or "").split(".", 1)[0]


__extractor__ = Bilibili

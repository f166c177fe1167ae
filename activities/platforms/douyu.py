"""
$description Chinese live-streaming platform for games and entertainment (斗鱼直播).
$platform douyu
$url https://www.douyu.com/4767111
$url https://www.douyu.com/topic/wzDBLS6?rid=4921614
$url https://m.douyu.com/4767111
$url https://www.douyu.com/room/share/4767111
$url https://www.douyu.com/pigff
$type live
$metadata title
$metadata author
$metadata category
$metadata avatar
$metadata cover
$metadata started_at

Douyu's web API, as its player uses it today. The live check is
`www.douyu.com/betard/<rid>` (title, streamer, category, cover, `show_status` 1 =
live, `videoLoop` 1 = a loop of replays, `show_time`). Resolution is separate and
signed without a JS engine (`_douyu_api`): `getEncryption` gives a key set (kept
until it expires), and `lapi/live/getH5PlayV1/<rid>` answers one signed FLV URL for
the CDN and rate asked, with its HEVC copy when asked for. A room named by its
alias (`douyu.com/pigff`) is resolved through the mobile page's `roomInfo.rid`.

Options: `cdn` (`hw-h5`, `ws-h5`, `tct-h5`, …; empty: Douyu's choice), `rate` (0 =
the source, else a `multirates` rate), `hevc`, `did` (the device id keys are asked
for); cookies go to the API only. Outcomes: betard's "房间不存在"/"没有开放" page →
not found, "房间已被关闭" → banned, a password room → private, play errors -3..-5 →
offline, 126 → region locked; a signature the server refuses (HTTP 403, "鉴权失败")
or a clock it disputes (-9) is retried once with a fresh key and time. Chat:
`danmu_info` gives the room id the Douyu danmu protocol joins.
"""

from __future__ import annotations

import email.utils
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field
from typing_extensions import override

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo
from activities.danmu.models import DanmuConnectInfo
from activities.errors import ExtractorError
from activities.platforms import _douyu_api as api
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

WEB = "https://www.douyu.com"
MOBILE = "https://m.douyu.com"
# the public web device id streamlink, rust-srec and the H5 player fall back to
DEFAULT_DID = "10000000000000000000000000001501"
KEY_TTL_SECS = 86400.0
HEADERS = {"User-Agent": BROWSER_UA, "Referer": "https://www.douyu.com/"}
NOT_FOUND_WORDS = ("房间不存在", "没有开放")
BANNED_WORDS = "房间已被关闭"
_RID = re.compile(r'"roomInfo":\{"rid":(\d+)')
_TAIL = r"/?(?:[?#]\S*)?\Z"
_RESERVED = "directory|member|topic|room|search|special|cate|japi|lapi|wgapi|api|g_"


class DouyuOptions(PlatformOptions):
    """Douyu's options."""

    cdn: str = Field(
        default="", description="CDN to ask for (hw-h5, ws-h5, tct-h5…); empty: any"
    )
    rate: int = Field(
        default=0, ge=0, description="0 = the source; else a rate Douyu lists"
    )
    hevc: bool = Field(default=False, description="Also ask for the HEVC copy")
    did: str = Field(
        default=DEFAULT_DID,
        pattern=r"^[0-9a-f]{32}$",
        description="Device id the signing keys are asked for",
    )


class Douyu(Extractor):
    """Douyu rooms through betard and the v1 play API (see the module docstring)."""

    platform = "douyu"
    options_model = DouyuOptions
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(
            r"https?://(?:www\.)?douyu(?:tv)?\.com/(?:beta/|topic/)?(?P<channel>\d+)"
            + _TAIL
        ),
        "topic": re.compile(
            r"https?://(?:www\.)?douyu\.com/topic/[\w-]+\?(?:\S*&)?rid=(?P<channel>\d+)"
            r"(?:[&#]\S*)?\Z"
        ),
        "share": re.compile(
            r"https?://(?:www\.)?douyu\.com/room/share/(?P<channel>\d+)" + _TAIL
        ),
        "mobile": re.compile(r"https?://m\.douyu\.com/(?P<channel>\d+)" + _TAIL),
        "alias": re.compile(
            r"https?://(?:www\.|m\.)?douyu\.com/(?P<channel>(?!(?:"
            + _RESERVED
            + r"))[A-Za-z][A-Za-z0-9_]{1,30})"
            + _TAIL
        ),
    }
    # process-wide, per did: (key set, when it expires, server clock - ours)
    _keys: ClassVar[dict[str, tuple[api.EncKey, float, float]]] = {}

    def __init__(
        self, http: httpx.AsyncClient, options: PlatformOptions | None = None
    ) -> None:
        super().__init__(http, options)
        self._rids: dict[str, str] = {}

    @classmethod
    def forget(cls) -> None:
        """Drop the process-wide signing keys."""
        cls._keys = {}

    @property
    def _opts(self) -> DouyuOptions:
        assert isinstance(self.options, DouyuOptions)
        return self.options

    def _headers(self) -> dict[str, str]:
        cookies = self.options.cookies
        return HEADERS | cookie_header(cookies.get_secret_value() if cookies else None)

    async def _rid(self, channel: Channel) -> str:
        ref = channel.reference
        if not ref:
            raise ExtractorError(f"no Douyu room in {channel.url}")
        if ref.isdigit():
            return ref
        if ref not in self._rids:
            what = "douyu mobile page"
            response = await request(
                self.http, "GET", f"{MOBILE}/{ref}", headers=self._headers(), what=what
            )
            found = _RID.search(response.text)
            if response.status_code == 404 or found is None:
                raise Outcome(LiveOutcome.NOT_FOUND, f"no Douyu room named {ref}")
            self._rids[ref] = found.group(1)
        return self._rids[ref]

    async def check(self, channel: Channel) -> LiveStatus:
        rid = await self._rid(channel)
        what = "douyu betard"
        response = await request(
            self.http, "GET", f"{WEB}/betard/{rid}", headers=self._headers(), what=what
        )
        # a room betard cannot describe is answered with an HTML page that says why
        page = response.text.lstrip() if response.text.lstrip().startswith("<") else ""
        if response.status_code == 404 or any(w in page for w in NOT_FOUND_WORDS):
            return answer(LiveOutcome.NOT_FOUND, f"no Douyu room {rid}")
        if BANNED_WORDS in page:
            return answer(LiveOutcome.BANNED, f"room {rid}: {BANNED_WORDS}")
        if response.status_code >= 400:
            return answer(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        room = parse(api.Betard, response, what).room
        fields = {
            "title": room.room_name,
            "author": room.owner_name or room.nickname,
            "avatar_url": room.avatar_url,
            "category": room.second_lvl_name,
            "cover_url": room.room_pic,
        }
        if room.is_password:
            return answer(LiveOutcome.PRIVATE, "room needs a password", **fields)
        if room.show_status != 1:
            return answer(LiveOutcome.OFFLINE, **fields)
        if room.video_loop:
            return answer(LiveOutcome.OFFLINE, "a loop of replays is showing", **fields)
        started = (
            datetime.fromtimestamp(room.show_time, UTC) if room.show_time else None
        )
        return answer(LiveOutcome.LIVE, started_at=started, **fields)

    @override
    async def resolve(self, channel: Channel, status: LiveStatus) -> list[StreamInfo]:
        rid = await self._rid(channel)
        return api.streams_of(await self._play(rid), HEADERS)

    async def _play(self, rid: str) -> api.Play:
        """A signed play URL; a refused signature or disputed clock is tried again."""
        what = "douyu getH5PlayV1"
        for attempt in range(2):
            key, skew = await self._key()
            tt = int(time.time() + skew)
            form = {
                "enc_data": key.enc_data, "tt": str(tt), "did": self._opts.did,
                "auth": api.auth(rid, tt, key), "cdn": self._opts.cdn,
                "rate": str(self._opts.rate), "ver": "Douyu_new", "iar": "0",
                "ive": "0", "rid": rid, "hevc": "1" if self._opts.hevc else "0",
                "fa": "0", "sov": "0",
            }  # fmt: skip
            response = await request(
                self.http, "POST", f"{WEB}/lapi/live/getH5PlayV1/{rid}", data=form,
                headers=self._headers(), what=what,
            )  # fmt: skip
            refused = response.status_code == 403 or api.AUTH_FAILED in response.text
            reply = None if refused else parse(api.PlayReply, response, what)
            if refused or (reply is not None and reply.error == api.CLOCK_ERROR):
                type(self)._keys.pop(self._opts.did, None)
                if attempt == 0:
                    continue
                raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: signature refused")
            assert reply is not None
            if reply.error in api.OFFLINE_ERRORS:
                raise Outcome(LiveOutcome.OFFLINE, f"{what}: {reply.msg}")
            if reply.error == api.REGION_ERROR:
                raise Outcome(LiveOutcome.REGION_LOCKED, f"{what}: {reply.msg}")
            if reply.error != 0 or not isinstance(reply.data, api.Play):
                raise Outcome(
                    LiveOutcome.UNAVAILABLE, f"{what}: {reply.error} {reply.msg}"
                )
            return reply.data
        raise AssertionError("unreachable")

    async def _key(self) -> tuple[api.EncKey, float]:
        """The did's signing keys and the server's clock offset (kept till expiry)."""
        did = self._opts.did
        cached = type(self)._keys.get(did)
        if cached is not None and time.time() < cached[1]:
            return cached[0], cached[2]
        what = "douyu getEncryption"
        response = await request(
            self.http, "GET", f"{WEB}/wgapi/livenc/liveweb/websec/getEncryption",
            params={"did": did}, headers=self._headers(), what=what,
        )  # fmt: skip
        reply = parse(api.EncReply, response, what)
        if reply.error != 0 or reply.data is None:
            raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: {reply.error} {reply.msg}")
        now = time.time()
        skew = _server_time(response.headers.get("date"), now) - now
        expires = reply.data.expire_at or now + KEY_TTL_SECS
        type(self)._keys[did] = (reply.data, float(expires), skew)
        return reply.data, skew

    async def danmu_info(self, channel: Channel) -> DanmuConnectInfo:
        cookies = self.options.cookies
        return DanmuConnectInfo(
            platform=self.platform,
            room_id=await self._rid(channel),
            cookie=cookies.get_secret_value() if cookies else "",
            user_agent=BROWSER_UA,
        )


def _server_time(date: str | None, default: float) -> float:
    """The server's clock from its Date header; play requests are signed with it."""
    try:
        return email.utils.parsedate_to_datetime(date or "").timestamp()
    except (TypeError, ValueError):
        return default


__extractor__ = Douyu

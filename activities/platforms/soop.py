"""
$description Korean live-streaming platform, formerly AfreecaTV (SOOP, 숲).
$platform soop
$url https://play.sooplive.co.kr/example
$url https://play.sooplive.com/example/281234567
$url https://m.sooplive.co.kr/#/player/example
$url https://www.sooplive.com/station/example
$type live
$metadata title
$metadata author
$metadata category
$metadata avatar
$metadata cover
$metadata viewers
$metadata started_at

SOOP's web player, as it is today. The live check is one POST of
`live.sooplive.com/afreeca/player_live_api.php` (`type=live`): `RESULT` 1 is live
with the broadcast number (`BNO`), title, streamer, category, viewers, the playlist
server (`RMD`), CDN and qualities (`VIEWPRESET`), and the chat server; 0 is off
air, or with `GDPR` a geo stub (region locked); -6 asks to sign in (19+ or
subscribers only broadcasts). The station API (`st.sooplive.com/api/
get_station_status.php`) tells an off-air channel from a missing one (`RESULT` 0)
and says when a broadcast started. Resolution is separate and signed: per quality
(`original`, `hd4000`, …, best first) an AID token (`type=aid`, with the room
password) and the playlist URL from `<RMD>/broad_stream_assign.html` (`return_type`
the CDN, `broad_key` `<bno>-common-<quality>-hls`); the URL carries `aid`. The
tokens are short-lived: a refresh resolves again.

Options: `password` (a password room: `BPWD` Y), `cdn` (the `return_type`, e.g.
`gs_cdn_pc_web`, `lg_cdn_pc_web`, `gcp_cdn`; default: the answer's CDN, web
edition), cookies (a signed-in viewer's `AuthTicket`…, for 19+ broadcasts; API
calls only). Outcomes: a password room without the password, or one that refuses
it → private; sign-in needed → age restricted. Chat: `danmu_info` gives the chat
server (`wss://<CHDOMAIN>:<CHPT+1>/Websocket/<BJID>`), the `FTK` ticket and the
room number (`CHATNO`) the SOOP chat protocol joins with.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, SecretStr
from typing_extensions import override

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo, StreamKind
from activities.danmu.models import DanmuConnectInfo
from activities.errors import ExtractorError
from activities.platforms import _soop_api as api
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

log = logging.getLogger(__name__)

PLAYER_URL = "https://live.sooplive.com/afreeca/player_live_api.php"
STATION_URL = "https://st.sooplive.com/api/get_station_status.php"
DEFAULT_RMD = "https://livestream-manager.sooplive.com"
AVATAR_URL = "https://profile.img.sooplive.co.kr/LOGO/{head}/{bjid}/{bjid}.jpg"
COVER_URL = "https://liveimg.sooplive.co.kr/m/{bno}"
ORIGIN = "https://play.sooplive.com"
HEADERS = {"User-Agent": BROWSER_UA, "Referer": f"{ORIGIN}/", "Origin": ORIGIN}
_DOMAIN = r"(?:sooplive\.co\.kr|sooplive\.com|afreecatv\.com)"
_ID = r"(?P<channel>[A-Za-z0-9_]{2,40})"
_BNO = r"(?:/(?P<bno>\d+))?"
_TAIL = r"/?(?:[?#]\S*)?\Z"


class SoopOptions(PlatformOptions):
    """SOOP's options."""

    password: SecretStr | None = Field(
        default=None, description="The room's password, for a password room"
    )
    cdn: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]{2,40}$",
        description="The CDN to ask for (`return_type`: gs_cdn_pc_web, "
        "lg_cdn_pc_web, gcp_cdn, …); default: the one SOOP names",
    )


class Soop(Extractor):
    """SOOP channels through the web player's API (see the module docstring)."""

    platform = "soop"
    options_model = SoopOptions
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(rf"https?://play\.{_DOMAIN}/{_ID}{_BNO}{_TAIL}"),
        "mobile": re.compile(
            rf"https?://m\.{_DOMAIN}/(?:#/player/)?{_ID}{_BNO}{_TAIL}"
        ),
        "station": re.compile(
            r"https?://(?:ch\.(?:sooplive\.co\.kr|sooplive\.com)|bj\.afreecatv\.com"
            rf"|(?:www\.)?sooplive\.com/station)/{_ID}{_TAIL}"
        ),
    }

    def __init__(
        self, http: httpx.AsyncClient, options: PlatformOptions | None = None
    ) -> None:
        super().__init__(http, options)
        self._channels: dict[str, api.Channel] = {}

    @property
    def _opts(self) -> SoopOptions:
        assert isinstance(self.options, SoopOptions)
        return self.options

    @property
    def _password(self) -> str:
        password = self._opts.password
        return password.get_secret_value() if password else ""

    def _headers(self) -> dict[str, str]:
        cookies = self.options.cookies
        return HEADERS | cookie_header(cookies.get_secret_value() if cookies else None)

    async def _player(
        self, bjid: str, bno: str, kind: str, quality: str = "master"
    ) -> api.Channel:
        what = f"soop player_live_api ({kind})"
        form = {
            "bid": bjid, "bno": bno, "type": kind, "player_type": "html5",
            "stream_type": "common", "quality": quality, "mode": "landing",
            "from_api": "0", "is_revive": "false",
            # the room password opens the AID only (streamlink, rust-srec)
            "pwd": self._password if kind == "aid" else "",
        }  # fmt: skip
        response = await request(
            self.http, "POST", PLAYER_URL, params={"bjid": bjid}, data=form,
            headers=self._headers(), what=what,
        )  # fmt: skip
        if response.status_code >= 400:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        return parse(api.PlayerReply, response, what).channel

    async def _live(self, channel: Channel) -> api.Channel:
        """The `type=live` answer of the channel (asked once per instance)."""
        if channel.url not in self._channels:
            bjid = _bjid(channel)
            info = await self._player(bjid, channel.groups.get("bno", ""), "live")
            if info.result in (api.RESULT_SIGN_IN, api.RESULT_ADULT):
                raise Outcome(LiveOutcome.AGE_RESTRICTED, self._sign_in(info.result))
            self._channels[channel.url] = info
        return self._channels[channel.url]

    def _sign_in(self, result: int) -> str:
        who = "these cookies" if self.options.cookies else "a guest"
        return f"RESULT {result}: a 19+ or subscribers-only broadcast {who} may not see"

    async def _station(self, bjid: str) -> api.Station:
        what = "soop station"
        response = await request(
            self.http, "GET", STATION_URL, params={"szBjId": bjid},
            headers=self._headers(), what=what,
        )  # fmt: skip
        if response.status_code >= 400:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        return parse(api.Station, response, what)

    async def check(self, channel: Channel) -> LiveStatus:
        bjid = _bjid(channel)
        info = await self._live(channel)
        if info.result == api.RESULT_OFF_AIR:
            if info.gdpr:
                return answer(LiveOutcome.REGION_LOCKED, "SOOP answers a GDPR stub")
            station = await self._station(bjid)
            if station.result == 0 or station.data is None:
                return answer(LiveOutcome.NOT_FOUND, f"no SOOP channel {bjid}")
            return answer(
                LiveOutcome.OFFLINE, title=station.data.station_title,
                author=station.data.user_nick, avatar_url=_avatar(bjid),
            )  # fmt: skip
        if info.result != api.RESULT_LIVE:
            return answer(LiveOutcome.UNAVAILABLE, f"player answered {info.result}")
        fields: dict[str, Any] = {
            "title": info.title or "",
            "author": info.nick or bjid,
            "category": info.category,
            "avatar_url": _avatar(info.bjid or bjid),
            "cover_url": COVER_URL.format(bno=info.bno) if info.bno else "",
            "viewers": info.viewers,
        }
        if info.password_room == "Y" and not self._password:
            return answer(LiveOutcome.PRIVATE, "a password room", **fields)
        try:
            started = (await self._station(bjid)).started_at
        except (Outcome, ExtractorError) as why:  # the start is a detail
            log.warning("soop: no start time for %s (%s)", bjid, why)
            started = None
        return answer(LiveOutcome.LIVE, started_at=started, **fields)

    @override
    async def resolve(self, channel: Channel, status: LiveStatus) -> list[StreamInfo]:
        info = await self._live(channel)
        if not info.bno:
            raise ExtractorError("soop player_live_api: missing field CHANNEL.BNO")
        bjid = info.bjid or _bjid(channel)
        presets = api.ranked(info.presets or []) or [api.Preset(name="master")]
        cdn = self._opts.cdn or api.web_cdn(info.cdn or "gcp_cdn")
        streams: list[StreamInfo] = []
        for preset in presets:
            aid = await self._aid(bjid, info, preset.name)
            url = await self._view_url(info.rmd or DEFAULT_RMD, cdn, info.bno, preset)
            if url is None:
                continue
            streams.append(
                StreamInfo(
                    url=url + ("&" if "?" in url else "?") + f"aid={aid}",
                    kind=StreamKind.HLS, quality=api.quality_of(preset),
                    cdn=cdn,
                    headers=HEADERS,
                )
            )  # fmt: skip
        return streams

    async def _aid(self, bjid: str, info: api.Channel, quality: str) -> str:
        """The AID token of one quality (the room password goes with it)."""
        assert info.bno is not None
        token = await self._player(bjid, info.bno, "aid", quality)
        if token.result in (api.RESULT_SIGN_IN, api.RESULT_ADULT):
            raise Outcome(LiveOutcome.AGE_RESTRICTED, self._sign_in(token.result))
        if token.result != api.RESULT_LIVE and info.password_room == "Y":
            raise Outcome(LiveOutcome.PRIVATE, "the room password was refused")
        if token.result == api.RESULT_OFF_AIR:
            raise Outcome(LiveOutcome.OFFLINE, "the broadcast ended")
        if token.result != api.RESULT_LIVE or not token.aid:
            raise ExtractorError(
                f"soop player_live_api (aid): no AID (RESULT {token.result})"
            )
        return token.aid

    async def _view_url(
        self, rmd: str, cdn: str, bno: str, preset: api.Preset
    ) -> str | None:
        what = f"soop stream assign ({preset.name})"
        params = {"return_type": cdn, "broad_key": f"{bno}-common-{preset.name}-hls"}
        response = await request(
            self.http, "GET", f"{rmd.rstrip('/')}/broad_stream_assign.html",
            params=params, headers=self._headers(), what=what,
        )  # fmt: skip
        if response.status_code >= 400:
            log.warning("%s: HTTP %s", what, response.status_code)
            return None
        return parse(api.Assign, response, what).view_url or None

    async def danmu_info(self, channel: Channel) -> DanmuConnectInfo:
        info = await self._live(channel)
        if info.result != api.RESULT_LIVE:
            raise Outcome(LiveOutcome.OFFLINE, "soop chat joins a live broadcast")
        host, port, chatno = api.chat_host(info), info.chat_port, info.chat_no
        if not (host and port and chatno):
            missing = "CHDOMAIN" if not host else "CHPT" if not port else "CHATNO"
            raise ExtractorError(f"soop player_live_api: missing field {missing}")
        bjid = info.bjid or _bjid(channel)
        params = {"chatno": chatno}
        if self._password:
            params["password"] = self._password
        cookies = self.options.cookies
        return DanmuConnectInfo(
            platform=self.platform,
            room_id=bjid,
            # the websocket listens one port above the chat port
            ws_urls=[f"wss://{host}:{port + 1}/Websocket/{bjid}"],
            token=info.ticket or "",
            cookie=cookies.get_secret_value() if cookies else "",
            user_agent=BROWSER_UA,
            params=params,
        )


def _bjid(channel: Channel) -> str:
    bjid = channel.reference
    if not bjid:
        raise ExtractorError(f"no SOOP channel in {channel.url}")
    return bjid.lower()


def _avatar(bjid: str) -> str:
    bjid = bjid.lower()
    return AVATAR_URL.format(head=bjid[:2], bjid=bjid)


__extractor__ = Soop

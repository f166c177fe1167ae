"""
$description Global live-streaming platform (BIGO LIVE).
$platform bigo
$url https://www.bigo.tv/221338632
$url https://www.bigo.tv/ja/221338632
$url https://slink.bigovideo.tv/AbCd12
$type live
$metadata title
$metadata author
$metadata avatar
$metadata cover

Bigo's web API, as its player uses it today. The live check is one POST of the
room's site id to `ta.bigo.tv/official_website/studio/getInternalStudioInfo`:
`alive` 1 with a `roomId` is live, `hls_src` its HLS playlist, `roomTopic`,
`nick_name` and `snapshot` the metadata; a `roomId` of null names no channel. The
request carries the player's web token (`_bigo_api`: minted at `sec.bigo.sg`; the
studio may hold back `hls_src` without it), and a room password as `verify`
(md5) with `isEncrypt`. Resolution reads the playlist: a stream whose segments Bigo
scrambles (`#EXT-X-BIGO-WEB-PROTECTION`) is recorded through streamlink's Bigo
plugin (a `streamlink` stream), any other is plain HLS. Share links
(`slink.bigovideo.tv`) are followed to the channel they open.

Options: `password` (a protected room), `hevc` (ask for HEVC), `mint_token`
(False: ask without the token); cookies go to the API only. Outcomes: a protected
room without the right password → private. Chat: `danmu_info` logs in as a guest
(`getWebSocketLink`: `uidToken`, user and device id) for the live room's id.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, SecretStr, ValidationError
from typing_extensions import override

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo, StreamKind
from activities.danmu.models import DanmuConnectInfo
from activities.errors import ExtractorError
from activities.platforms import _bigo_api as api
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

STUDIO_URL = "https://ta.bigo.tv/official_website/studio/getInternalStudioInfo"
WS_LINK_URL = "https://ta.bigo.tv/official_website/studio/getWebSocketLink"
TOKEN_URL = "https://sec.bigo.sg/v1/webjs/{step}"
HEADERS = {
    "User-Agent": BROWSER_UA,
    "Referer": "https://www.bigo.tv/",
    "Origin": "https://www.bigo.tv",
}
_WEB_URL = re.compile(r'property="al:web:url"\s+content="([^"]+)"')
_RESERVED = "games|user|about|faq|privacy|terms|download|contact|search|live|show"
_SITE = r"(?P<channel>(?!(?:" + _RESERVED + r")(?:[/?#]|\Z))[\w.-]{3,40})"
_TAIL = r"/?(?:[?#]\S*)?\Z"


class BigoOptions(PlatformOptions):
    """Bigo's options."""

    password: SecretStr | None = Field(
        default=None, description="The room's password, for a protected room"
    )
    hevc: bool = Field(default=False, description="Ask for HEVC where offered")
    mint_token: bool = Field(
        default=True, description="Ask with the web player's token (see the module)"
    )


class Bigo(Extractor):
    """Bigo channels through the studio API (see the module docstring)."""

    platform = "bigo"
    options_model = BigoOptions
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(
            r"https?://(?:www\.)?bigo\.tv/(?:[a-z]{2}(?:-[a-z]{2,4})?/)?"
            + _SITE
            + _TAIL
        ),
        "share": re.compile(
            r"https?://slink\.bigovideo\.tv/(?P<code>[A-Za-z0-9_-]{3,40})" + _TAIL
        ),
    }

    def __init__(
        self, http: httpx.AsyncClient, options: PlatformOptions | None = None
    ) -> None:
        super().__init__(http, options)
        self._studios: dict[str, tuple[str, api.Studio]] = {}

    @property
    def _opts(self) -> BigoOptions:
        assert isinstance(self.options, BigoOptions)
        return self.options

    def _headers(self) -> dict[str, str]:
        cookies = self.options.cookies
        return HEADERS | cookie_header(cookies.get_secret_value() if cookies else None)

    async def _studio(self, channel: Channel) -> tuple[str, api.Studio]:
        """The site id and studio answer of the channel (asked once per instance)."""
        if channel.url not in self._studios:
            site = channel.reference or await self._follow_share(channel)
            form = {"siteId": site, "verify": ""}
            if self._opts.password is not None:
                secret = self._opts.password.get_secret_value().encode()
                form |= {"verify": hashlib.md5(secret).hexdigest(), "isEncrypt": "1"}
            token = await self._token() if self._opts.mint_token else None
            if token:
                form |= {"token": token, "supportHevc": "1" if self._opts.hevc else "0"}
            what = "bigo studio"
            response = await request(
                self.http, "POST", STUDIO_URL, data=form, headers=self._headers(),
                what=what,
            )  # fmt: skip
            reply = parse(api.StudioReply, response, what)
            if reply.code != 0:
                raise Outcome(
                    LiveOutcome.UNAVAILABLE, f"{what}: {reply.code} {reply.msg}"
                )
            if reply.data is None or (
                reply.data.room_id is None and not reply.data.nick_name
            ):
                raise Outcome(LiveOutcome.NOT_FOUND, f"no Bigo channel {site}")
            self._studios[channel.url] = (site, reply.data)
        return self._studios[channel.url]

    async def _token(self) -> str | None:
        """The web player's token; without one the studio is asked anyway."""
        callback = f"jsonpcallback_{int(time.time() * 1000)}_{secrets.randbelow(10**6)}"
        try:
            response = await request(
                self.http, "GET", TOKEN_URL.format(step="t"), what="bigo token time",
                params={"callback": callback}, headers=HEADERS,
            )  # fmt: skip
            payload = api.token_payload(
                api.token_time(response.text), secrets.token_hex(16)
            )
            data = api.b64(api.encrypt_openssl(payload, api.TOKEN_PASSPHRASE))
            response = await request(
                self.http, "GET", TOKEN_URL.format(step="status"), what="bigo token",
                params={"callback": callback, "data": data}, headers=HEADERS,
            )  # fmt: skip
            return api.token_of(response.text)
        except (Outcome, ExtractorError, ValidationError) as err:
            log.warning("bigo: no web token (%s); asking without it", err)
            return None

    async def _follow_share(self, channel: Channel) -> str:
        what = "bigo share link"
        response = await request(
            self.http, "GET", channel.url, what=what, headers=HEADERS
        )
        found = self.match(str(response.url))
        if found is not None and "channel" in found[1]:
            return found[1]["channel"]
        meta = _WEB_URL.search(response.text)
        query = urlsplit(html.unescape(meta.group(1))).query if meta else ""
        site = parse_qs(query).get("h", [""])[0]
        if not site:
            raise Outcome(
                LiveOutcome.NOT_FOUND, f"{what} {channel.url} names no channel"
            )
        return site

    async def check(self, channel: Channel) -> LiveStatus:
        _, studio = await self._studio(channel)
        fields = {
            "title": studio.room_topic or studio.game_title or studio.nick_name,
            "author": studio.nick_name,
            "avatar_url": studio.avatar or "",
            "cover_url": studio.snapshot or "",
        }
        if studio.pass_room and not studio.hls_src and self._opts.password is None:
            return answer(LiveOutcome.PRIVATE, "room needs a password", **fields)
        if not studio.is_live:
            return answer(LiveOutcome.OFFLINE, **fields)
        if studio.pass_room and not studio.hls_src:
            return answer(
                LiveOutcome.PRIVATE, "the room password was refused", **fields
            )
        return answer(LiveOutcome.LIVE, **fields)

    @override
    async def resolve(self, channel: Channel, status: LiveStatus) -> list[StreamInfo]:
        site, studio = await self._studio(channel)
        if not studio.hls_src:
            return []
        try:
            response = await request(
                self.http, "GET", studio.hls_src, headers=HEADERS, what="bigo playlist"
            )
        except Outcome as why:
            log.warning("bigo: cannot read %s (%s)", studio.hls_src, why)
            response = None
        if response is not None and api.PROTECTION_TAG in response.text:
            # scrambled segments: only streamlink's Bigo plugin can read them
            page = f"https://www.bigo.tv/{site}"
            return [StreamInfo(url=page, kind=StreamKind.STREAMLINK, quality="live")]
        return [
            StreamInfo(
                url=studio.hls_src, kind=StreamKind.HLS, quality="live",
                codec="hevc" if self._opts.hevc else "", headers=HEADERS,
            )
        ]  # fmt: skip

    async def danmu_info(self, channel: Channel) -> DanmuConnectInfo:
        _, studio = await self._studio(channel)
        if not studio.is_live or studio.room_id is None:
            raise Outcome(LiveOutcome.OFFLINE, "bigo chat joins a live room only")
        what = "bigo getWebSocketLink"
        device = f"web_{secrets.token_hex(16)}"
        response = await request(
            self.http, "POST", WS_LINK_URL, data={"deviceId": device},
            headers=self._headers(), what=what,
        )  # fmt: skip
        reply = parse(api.WsLinkReply, response, what)
        if reply.code != 0 or reply.data is None:
            raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: {reply.code} {reply.msg}")
        params = {
            "user_id": reply.data.user_id,
            "device_id": reply.data.device_id or device,
        }
        if self._opts.password is not None:
            params["password"] = self._opts.password.get_secret_value()
        cookies = self.options.cookies
        return DanmuConnectInfo(
            platform=self.platform,
            room_id=studio.room_id,
            token=reply.data.uid_token.removesuffix("###VER2"),
            cookie=cookies.get_secret_value() if cookies else "",
            user_agent=BROWSER_UA,
            params=params,
        )


__extractor__ = Bigo

"""
$description Global live-streaming platform owned by Amazon.
$platform twitch
$url https://www.twitch.tv/abby_
$url https://m.twitch.tv/abby_
$url https://player.twitch.tv/?channel=abby_
$type live
$metadata title
$metadata author
$metadata category
$metadata avatar
$metadata viewers
$metadata started_at

Twitch's web player, as it is today. The live check is one batched GQL POST of the
persisted queries `ChannelShell` (does the user exist, is the viewer allowed) and
`StreamMetadata` (stream type, start, viewers, game, last broadcast title).
Resolution is separate: the `PlaybackAccessToken` query gives a signed token, and
usher's HLS master playlist for the channel lists the variants (source first).
The token says when it expires and whether the viewer's region is blocked.

Outcomes: `UserDoesNotExist` → not found, or banned when its reason is a ToS or
DMCA closure; a channel the viewer may not watch (subscriber-only) → private;
usher's `content_geoblocked` → region locked; a stream that is not `live` (a rerun)
→ offline. Options: an OAuth token (`Authorization: OAuth …`, sent to GQL only)
and the codecs to ask usher for. Batch status: up to 30 `StreamMetadata` queries in
one GQL POST; it cannot tell banned from not found.
Chat (`danmu_info`): the IRC websocket, joined anonymously with the channel login.
The answers' models and the GQL queries are in `_twitch_api`.

VODs and clips are not claimed here: streamlink's plugin takes them.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, SecretStr
from typing_extensions import override

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo, StreamKind
from activities.danmu.models import DanmuConnectInfo
from activities.errors import ExtractorError
from activities.hls.playlist import (
    MasterPlaylist,
    PlaylistError,
    parse_playlist,
)
from activities.platforms import _twitch_api as api
from activities.platforms.base import (
    Channel,
    Extractor,
    Outcome,
    PlatformOptions,
    answer,
)
from activities.platforms.web import BROWSER_UA, cookie_header, parse, request

if TYPE_CHECKING:
    from collections.abc import Sequence

# first path segments that are Twitch pages, not channels
_RESERVED = (
    "directory|videos|settings|subscriptions|inventory|wallet|drops|search|p|"
    "downloads|jobs|turbo|friends|messages|payments|prime|store|login|signup|"
    "team|moderator|popout|embed|clip|collections|u|event"
)
_LOGIN = r"(?P<channel>(?!(?:" + _RESERVED + r")(?:[/?#]|\Z))[A-Za-z0-9_]{2,25})"
_TAIL = r"(?:/(?:home|about|schedule))?/?(?:[?#][^\s]*)?\Z"


Codec = Literal["h264", "h265", "av1"]


class TwitchOptions(PlatformOptions):
    """Twitch's options."""

    oauth_token: SecretStr | None = Field(
        default=None, description="A user's OAuth token (ad-free, subscriber-only)"
    )
    supported_codecs: list[Codec] = Field(
        default_factory=lambda: list[Codec](["h264"]),
        description="Codecs to ask usher for; h265/av1 offer higher qualities",
    )


class Twitch(Extractor):
    """Twitch channels through GQL and usher (see the module docstring)."""

    platform = "twitch"
    options_model = TwitchOptions
    batch_size = 30
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(r"https?://(?:www\.|go\.)?twitch\.tv/" + _LOGIN + _TAIL),
        "mobile": re.compile(r"https?://m\.twitch\.tv/" + _LOGIN + _TAIL),
        "player": re.compile(
            r"https?://player\.twitch\.tv/\?(?:[^#\s]*&)?channel="
            + _LOGIN
            + r"(?:[&#][^\s]*)?\Z"
        ),
    }

    @property
    def _opts(self) -> TwitchOptions:
        assert isinstance(self.options, TwitchOptions)
        return self.options

    async def _gql(self, body: Any, what: str) -> bytes:
        headers = {"Client-ID": api.CLIENT_ID, "User-Agent": BROWSER_UA}
        headers["Device-ID"] = secrets.token_hex(16)
        if self._opts.oauth_token is not None:
            headers["Authorization"] = (
                f"OAuth {self._opts.oauth_token.get_secret_value()}"
            )
        if self.options.cookies is not None:
            headers |= cookie_header(self.options.cookies.get_secret_value())
        response = await request(
            self.http, "POST", api.GQL_URL, json=body, headers=headers, what=what
        )
        if response.status_code == 401:
            raise ExtractorError(f"{what}: Twitch refused the OAuth token")
        if response.status_code >= 400:
            raise ExtractorError(f"{what}: HTTP {response.status_code}")
        return response.content

    async def check(self, channel: Channel) -> LiveStatus:
        login = _login(channel)
        body = [
            api.query("ChannelShell", api.CHANNEL_SHELL, login=login),
            api.query(
                "StreamMetadata",
                api.STREAM_METADATA,
                channelLogin=login,
                includeIsDJ=True,
            ),
        ]
        what = "twitch gql"
        shell, meta = parse(api.CheckReply, await self._gql(body, what), what).root
        api.failed(shell, what)
        api.failed(meta, what)
        user = shell.data.userOrError if shell.data else None
        if user is None or user.typename == "UserDoesNotExist":
            reason = user.reason if user else ""
            if reason in api.BANNED_REASONS:
                return answer(LiveOutcome.BANNED, f"{login}: {reason}")
            return answer(LiveOutcome.NOT_FOUND, f"no Twitch user {login}")
        if user.typename != "User":
            raise ExtractorError(f"{what}: userOrError is a {user.typename}")
        status = api.status_of(
            meta.data.user if meta.data else None,
            author=user.displayName or user.login,
            avatar_url=user.profileImageURL,
        )
        viewer = user.channel.viewer if user.channel else None
        if status.is_live and viewer is not None and not viewer.isAuthorized:
            return status.model_copy(
                update={
                    "is_live": False,
                    "outcome": LiveOutcome.PRIVATE,
                    "detail": viewer.restrictionType or "not authorized",
                }
            )
        return status

    @override
    async def resolve(self, channel: Channel, status: LiveStatus) -> list[StreamInfo]:
        login = _login(channel)
        what = "twitch access token"
        variables = {"isLive": True, "login": login, "isVod": False, "vodID": ""}
        body = api.query(
            "PlaybackAccessToken",
            api.ACCESS_TOKEN,
            playerType="site",
            platform="site",
            **variables,
        )
        reply = parse(api.Reply[api.TokenData], await self._gql(body, what), what)
        api.failed(reply, what)
        token = reply.data.streamPlaybackAccessToken if reply.data else None
        if token is None:
            raise Outcome(LiveOutcome.OFFLINE, f"{what}: no token (not live)")
        claims = parse(api.TokenValue, token.value, what)
        if claims.geoblock_reason:
            raise Outcome(LiveOutcome.REGION_LOCKED, claims.geoblock_reason)
        return await self._variants(login, token, claims)

    async def _variants(
        self, login: str, token: api.Token, claims: api.TokenValue
    ) -> list[StreamInfo]:
        what = "twitch usher"
        params = {
            "player": "twitchweb",
            "p": secrets.randbelow(999_999),
            "allow_source": "true",
            "allow_audio_only": "true",
            "playlist_include_framerate": "true",
            "fast_bread": "true",
            "supported_codecs": ",".join(self._opts.supported_codecs),
            "sig": token.signature,
            "token": token.value,
        }
        url = api.USHER_URL.format(login=login)
        response = await request(self.http, "GET", url, params=params, what=what)
        if response.status_code == 404:
            raise Outcome(LiveOutcome.OFFLINE, f"{what}: the broadcast ended")
        if response.status_code >= 400:
            raise api.usher_refusal(response.content, response.status_code)
        try:
            master = parse_playlist(response.text, str(response.url))
        except PlaylistError as err:
            raise ExtractorError(f"{what}: {err}") from err
        if not isinstance(master, MasterPlaylist):
            raise ExtractorError(f"{what}: expected a master playlist")
        expires = (
            datetime.fromtimestamp(claims.expires, UTC) if claims.expires else None
        )
        return [
            StreamInfo(
                url=variant.url,
                kind=StreamKind.HLS,
                quality=variant.names[0] if variant.names else "",
                bitrate_bps=variant.bandwidth or variant.average_bandwidth,
                codec=variant.codecs[0].split(".")[0] if variant.codecs else "",
                cdn=variant.pathway or "",
                container="ts",
                expires_at=expires,
            )
            for variant in master.variants
        ]

    async def check_batch(self, channels: Sequence[Channel]) -> dict[str, LiveStatus]:
        logins = [_login(c) for c in channels[: self.batch_size]]
        body = [
            api.query("StreamMetadata", api.STREAM_METADATA, channelLogin=login)
            for login in logins
        ]
        what = "twitch gql batch"
        replies = parse(api.BatchReply, await self._gql(body, what), what).root
        if len(replies) != len(logins):
            raise ExtractorError(f"{what}: {len(replies)} answers to {len(logins)}")
        found: dict[str, LiveStatus] = {}
        for login, reply in zip(logins, replies, strict=True):
            if reply.errors:
                found[login] = answer(LiveOutcome.UNAVAILABLE, reply.errors[0].message)
            else:
                found[login] = api.status_of(reply.data.user if reply.data else None)
        return found

    async def danmu_info(self, channel: Channel) -> DanmuConnectInfo:
        """Twitch chat: IRC over a websocket, joined anonymously by channel login.

        No request is needed: the anonymous login (`justinfan…`) reads any channel,
        and the user's OAuth token stays with GQL (chat would not need it to read).
        """
        return DanmuConnectInfo(
            platform=self.platform, room_id=_login(channel), ws_urls=[api.IRC_URL]
        )


def _login(channel: Channel) -> str:
    login = channel.reference
    if not login:
        raise ExtractorError(f"no Twitch login in {channel.url}")
    return login.lower()


__extractor__ = Twitch

"""
$description Global live-streaming platform for artists and creators (Picarto).
$platform picarto
$url https://picarto.tv/Example
$url https://www.picarto.tv/streampopout/Example/public
$type live
$metadata title
$metadata author
$metadata category
$metadata avatar
$metadata cover
$metadata viewers

Picarto's public API and web player, as they are today. The live check is one GET
of the public API's channel details (`api.picarto.tv/api/v1/channel/name/<name>`:
`online`, `title`, `category`, `viewers`, `avatar`, `thumbnails`, `private`; 404
for no such channel). Resolution is separate: the web player's channel detail
(`ptvintern.picarto.tv/api/channel/detail/<name>`) names the channel's stream
(`getMultiStreams`: the one whose `channelId` is the channel's) and the edge to ask
(`getLoadBalancerUrl`); the stream is `https://<edge>/stream/hls/<stream name>/
index.m3u8`, whose variants are listed. Batch status: the public API's list of
every channel on air (`online?adult=true&gaming=true`) answers any number of
channels in one request; a channel not on it is off air (or gone: one check tells).

Outcomes: a private stream (`private`, invitation only) → private. Adult channels
play like any other. Cookies go to the API calls only. VODs (`/<name>/videos/<id>`,
`videopopout`) are not claimed here: streamlink's plugin takes them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo, StreamKind
from activities.errors import ExtractorError
from activities.hls.playlist import (
    MasterPlaylist,
    PlaylistError,
    parse_playlist,
)
from activities.platforms import _picarto_api as api
from activities.platforms.base import Channel, Extractor, Outcome, answer
from activities.platforms.web import BROWSER_UA, cookie_header, parse, request

if TYPE_CHECKING:
    from collections.abc import Sequence

API_URL = "https://api.picarto.tv/api/v1"
DETAIL_URL = "https://ptvintern.picarto.tv/api/channel/detail/{name}"
HLS_URL = "{edge}/stream/hls/{stream}/index.m3u8"
SITE = "https://picarto.tv"
HEADERS = {"User-Agent": BROWSER_UA, "Referer": f"{SITE}/", "Origin": SITE}
# first path segments that are Picarto pages, not channels
_RESERVED = (
    "videopopout|streampopout|chatpopout|settings|explore|communities|search|"
    "site|login|register|dashboard|following|subscriptions|notifications"
)
_NAME = r"(?P<channel>(?!(?:" + _RESERVED + r")(?:[/?#]|\Z))[A-Za-z0-9_-]{1,40})"
_TAIL = r"/?(?:[?#]\S*)?\Z"


class Picarto(Extractor):
    """Picarto channels through the public API (see the module docstring)."""

    platform = "picarto"
    batch_size = 500
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(r"https?://(?:www\.)?picarto\.tv/" + _NAME + _TAIL),
        "popout": re.compile(
            r"https?://(?:www\.)?picarto\.tv/streampopout/" + _NAME + r"/public" + _TAIL
        ),
    }

    def _headers(self) -> dict[str, str]:
        cookies = self.options.cookies
        return HEADERS | cookie_header(cookies.get_secret_value() if cookies else None)

    async def _get(self, url: str, what: str, **params: str) -> Any:
        response = await request(
            self.http, "GET", url, params=params or None, headers=self._headers(),
            what=what,
        )  # fmt: skip
        if response.status_code == 404:
            raise Outcome(LiveOutcome.NOT_FOUND, f"{what}: no such channel")
        if response.status_code >= 400:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        return response

    async def check(self, channel: Channel) -> LiveStatus:
        name = _name(channel)
        what = "picarto channel details"
        response = await self._get(f"{API_URL}/channel/name/{name}", what)
        details = parse(api.Details, response, what)
        if details.online and details.private:
            detail = details.private_message or "a private stream (invitation only)"
            return answer(LiveOutcome.PRIVATE, detail, **_fields(details))
        if not details.online:
            return answer(LiveOutcome.OFFLINE, **_fields(details))
        return answer(LiveOutcome.LIVE, **_fields(details))

    @override
    async def resolve(self, channel: Channel, status: LiveStatus) -> list[StreamInfo]:
        name = _name(channel)
        what = "picarto channel detail"
        detail = parse(
            api.Detail, await self._get(DETAIL_URL.format(name=name), what), what
        )
        if detail.channel is None:
            raise Outcome(LiveOutcome.NOT_FOUND, f"{what}: no channel {name}")
        if detail.channel.private:
            raise Outcome(LiveOutcome.PRIVATE, "a private stream (invitation only)")
        stream, edge = detail.stream_name(), detail.edge()
        if stream is None or edge is None:
            return []  # on air, but the edge has nothing yet
        return await self._variants(HLS_URL.format(edge=edge, stream=stream))

    async def _variants(self, url: str) -> list[StreamInfo]:
        """The streams of the edge's playlist: its variants, or itself."""
        what = "picarto playlist"
        response = await request(self.http, "GET", url, headers=HEADERS, what=what)
        if response.status_code >= 400:
            return []  # the edge has not the stream (yet)
        try:
            playlist = parse_playlist(response.text, str(response.url))
        except PlaylistError as err:
            raise ExtractorError(f"{what}: {err}") from err
        if not isinstance(playlist, MasterPlaylist):
            return [StreamInfo(url=url, kind=StreamKind.HLS, quality="live")]
        return [
            StreamInfo(
                url=variant.url,
                kind=StreamKind.HLS,
                quality=_quality(variant.names, variant.resolution),
                bitrate_bps=variant.bandwidth or variant.average_bandwidth,
                codec=variant.codecs[0].split(".")[0] if variant.codecs else "",
                headers=HEADERS,
            )
            for variant in playlist.variants
        ]

    async def check_batch(self, channels: Sequence[Channel]) -> dict[str, LiveStatus]:
        what = "picarto online"
        response = await self._get(
            f"{API_URL}/online", what, adult="true", gaming="true"
        )
        on_air = {c.name.lower(): c for c in parse(api.Online, response, what).root}
        found: dict[str, LiveStatus] = {}
        for channel in channels[: self.batch_size]:
            name = _name(channel)
            listed = on_air.get(name.lower())
            found[name] = (
                answer(LiveOutcome.LIVE, **_fields(listed))
                if listed is not None
                else answer(
                    LiveOutcome.OFFLINE, "not on Picarto's list of live channels"
                )
            )
        return found


def _fields(listed: api.Listed) -> dict[str, Any]:
    return {
        "title": listed.title.strip(),
        "author": listed.name,
        "category": listed.category[0] if listed.category else "",
        "avatar_url": listed.avatar,
        "cover_url": listed.thumbnails.web if listed.thumbnails else "",
        "viewers": listed.viewers,
    }


def _quality(names: tuple[str, ...], resolution: tuple[int, int] | None) -> str:
    """A variant's name: its own, else its height."""
    if names:
        return names[0]
    return f"{resolution[1]}p" if resolution else "live"


def _name(channel: Channel) -> str:
    name = channel.reference
    if not name:
        raise ExtractorError(f"no Picarto channel in {channel.url}")
    return name


__extractor__ = Picarto

"""
$description Any site one of streamlink's plugins handles (YouTube, Kick, Chzzk, …).
$platform streamlink
$url https://www.youtube.com/@channel/live
$url https://kick.com/channel
$url hls://https://cdn.example.com/live/master.m3u8
$type live
$metadata title
$metadata author
$metadata category

The fallback for every URL no native module claims and one of streamlink's plugins
does (tried last, after `generic`), and for any URL whose streamer's options say
`extractor: streamlink`. streamlink's Python API runs in a thread (it blocks): the
URL is live when the plugin offers streams; title, author and category are the
plugin's metadata. Each stream becomes a `StreamInfo`: a plain HLS stream keeps its
playlist URL and the headers it is fetched with (User-Agent, Referer, Origin, the
plugin's own; never cookies), a plain HTTP stream of an `.flv` is FLV, and every
other stream (DASH, muxed, a plugin's own HLS with ad filtering, …) is `streamlink`:
its URL is the page URL and the streamlink engine records it.

Outcomes: no streams, or the plugin's "no streams" → offline; any other plugin
error → unavailable (streamlink does not tell a missing channel from an outage).
"""

from __future__ import annotations

import asyncio
import re
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo, StreamKind
from activities.platforms.base import Channel, Extractor, answer

if TYPE_CHECKING:
    from collections.abc import Mapping

    from streamlink.plugin import Plugin
    from streamlink.session.session import Streamlink as Session
    from streamlink.stream.stream import Stream

# URLs a plugin may claim: web pages, and streamlink's own protocol prefixes
_CANDIDATE = re.compile(r"(?:https?|hls|hlsvariant|dash|httpstream)://\S+\Z")
_SYNONYMS = frozenset({"best", "worst", "best-unfiltered", "worst-unfiltered"})
_KEPT_HEADERS = ("user-agent", "referer", "origin")
HTTP_TIMEOUT_SECS = 20.0


class Streamlink(Extractor):
    """Resolves URLs through streamlink's plugins (see the module docstring).

    `plugins` adds plugins to streamlink's own (a subclass sets it; tests use
    `with_plugins`). The session that matches URLs is built once per class;
    each check gets a fresh one, so cookies and plugin state never leak between
    streamers.
    """

    platform = "streamlink"
    priority = -2000
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {"live": _CANDIDATE}
    plugins: ClassVar[Mapping[str, type[Plugin]]] = {}
    _matching: ClassVar[Session | None] = None

    @classmethod
    def with_plugins(cls, plugins: Mapping[str, type[Plugin]]) -> type[Streamlink]:
        """A subclass that also knows `plugins` (by name)."""
        name = f"{cls.__name__}With{''.join(p.title() for p in plugins)}"
        return type(name, (cls,), {"plugins": dict(plugins), "_matching": None})

    @classmethod
    def new_session(cls) -> Session:
        """A streamlink session with srec's plugins and settings."""
        from streamlink.session.session import Streamlink as Session

        session = Session({"no-plugin-cache": True, "http-timeout": HTTP_TIMEOUT_SECS})
        if cls.plugins:
            session.plugins.update(cls.plugins)
        return session

    @classmethod
    def match(cls, url: str) -> tuple[str, dict[str, str]] | None:
        """A URL matches when one of streamlink's plugins claims it."""
        if not _CANDIDATE.match(url):
            return None
        if cls._matching is None:
            cls._matching = cls.new_session()
        found = cls._matching.plugins.match_url(url)
        if found is None:
            return None
        name, plugin = found
        groups = {"plugin": name}
        for matcher in plugin.matchers or ():
            hit = matcher.pattern.match(url)
            if hit:
                groups |= {k: v for k, v in hit.groupdict().items() if v}
                break
        return "live", groups

    async def check(self, channel: Channel) -> LiveStatus:
        return await asyncio.to_thread(self._probe, channel.url)

    def _probe(self, url: str) -> LiveStatus:
        from streamlink.exceptions import NoPluginError, NoStreamsError, PluginError

        session = self.new_session()
        if self.options.cookies is not None:
            jar = SimpleCookie(self.options.cookies.get_secret_value())
            for name, morsel in jar.items():
                session.http.cookies.set(name, morsel.value)
        try:
            _, plugin_class, resolved = session.resolve_url_no_redirect(url)
            plugin = plugin_class(session, resolved)
            streams = plugin.streams()
        except NoStreamsError as err:
            return answer(LiveOutcome.OFFLINE, str(err))
        except NoPluginError:
            return answer(LiveOutcome.NOT_FOUND, "no streamlink plugin for this URL")
        except (PluginError, OSError) as err:
            return answer(LiveOutcome.UNAVAILABLE, f"streamlink: {err}")
        meta = _metadata(plugin)
        named = [(n, s) for n, s in streams.items() if n not in _SYNONYMS]
        if not named:
            return answer(LiveOutcome.OFFLINE, **meta)
        # streamlink orders worst to best; the picker keeps the order it is given
        infos = [_info(name, stream, url) for name, stream in reversed(named)]
        return answer(LiveOutcome.LIVE, streams=infos, **meta)


def _metadata(plugin: Plugin) -> dict[str, Any]:
    try:
        return {
            "title": plugin.get_title() or "",
            "author": plugin.get_author() or "",
            "category": plugin.get_category() or "",
        }
    except Exception:  # a plugin's metadata is a nicety; its bugs must not cost a check
        return {}


def _info(name: str, stream: Stream, page_url: str) -> StreamInfo:
    """One streamlink stream as srec's engines can take it."""
    from streamlink.stream.hls.hls import HLSStream
    from streamlink.stream.http import HTTPStream

    if type(stream) in (HLSStream, HTTPStream):
        assert isinstance(stream, HTTPStream)
        prepared = stream.session.http.prepare_new_request(**stream.args)
        url = str(prepared.url)
        custom = {k.lower() for k in stream.args.get("headers") or {}}
        headers = {
            k: v
            for k, v in prepared.headers.items()
            if k.lower() in _KEPT_HEADERS or k.lower() in custom - {"cookie"}
        }
        if isinstance(stream, HLSStream):
            return StreamInfo(
                url=url, kind=StreamKind.HLS, quality=name, headers=headers
            )
        if urlsplit(url).path.lower().endswith(".flv"):
            return StreamInfo(
                url=url, kind=StreamKind.FLV, quality=name, headers=headers
            )
    return StreamInfo(url=page_url, kind=StreamKind.STREAMLINK, quality=name)


__extractor__ = Streamlink

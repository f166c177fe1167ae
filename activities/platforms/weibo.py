"""
$description Chinese microblogging site (微博); its live broadcasts.
$platform weibo
$url https://weibo.com/u/6034381748
$url https://weibo.com/l/wblive/p/show/1022:2321325026370190442592
$url https://m.weibo.cn/u/6034381748
$type live
$metadata title
$metadata author
$metadata avatar
$metadata cover

Weibo's web API, as weibo.com uses it today. A broadcast is a post: its live id
(`1022:…`) names it. For a streamer (`u/<uid>`), the live check reads their latest
posts (`ajax/statuses/mymblog`) for one whose `page_info.object_type` is "live";
the broadcast itself is `l/pc/anchor/live?live_id=…`: the streamer, the title
(`desc`), the cover, `status` 1 = live, and the pull URLs (`stream_info.pull`:
`live_origin_flv_url`, `live_origin_hls_url`). Those are Weibo's transcode (a
`_<suffix>` on the file name); without the suffix and its query they are the
untranscoded source, which is offered first.

Weibo answers only visitors with a session: a request it redirects to
passport.weibo.com gets the guest cookies (`SUB`, `SUBP`) first, as the site does
(`visitor/genvisitor`, then `visitor/visitor?a=incarnate`), kept for the process;
a user's own cookies are sent instead when set (and said to need renewing when
Weibo refuses them).

Outcomes: "LiveRoom does not exists!" → not found; a user the posts API does not
know → not found; HTTP 418 (Weibo's anti-crawler answer) → rate limited; no live
post among the latest → offline. Options: `cookies`, `origin_quality`. No batch
status, no chat protocol.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import TYPE_CHECKING, ClassVar, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo, StreamKind
from activities.platforms import _weibo_api as api
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

M = TypeVar("M", bound=BaseModel)

SITE = "https://weibo.com"
POSTS_URL = f"{SITE}/ajax/statuses/mymblog"
LIVE_URL = f"{SITE}/l/pc/anchor/live"
PASSPORT = "passport.weibo.com"
GENVISITOR_URL = f"https://{PASSPORT}/visitor/genvisitor"
INCARNATE_URL = f"https://{PASSPORT}/visitor/visitor"
NO_ROOM = "LiveRoom does not exists!"
VISITOR_TTL_SECS = 24 * 3600.0
WEIBO_THROTTLES = (418, 429)  # 418: its anti-crawler answer
HEADERS = {"User-Agent": BROWSER_UA, "Referer": f"{SITE}/"}
_UID = r"(?P<channel>\d{5,12})/?(?:[?#]\S*)?\Z"


class WeiboOptions(PlatformOptions):
    """Weibo's options; `cookies` (SUB, SUBP of a login) replace the guest ones."""

    origin_quality: bool = Field(
        default=True,
        description="Offer the untranscoded source (the pull URL without its "
        "transcode suffix) before Weibo's transcode",
    )


class Weibo(Extractor):
    """Weibo live broadcasts (see the module docstring)."""

    platform = "weibo"
    options_model = WeiboOptions
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(
            r"https?://(?:www\.)?weibo\.com/l/wblive/p/show/(?P<channel>\d+:\d+)"
            r"/?(?:[?#]\S*)?\Z"
        ),
        "user": re.compile(r"https?://(?:www\.)?weibo\.com/(?:u/)?" + _UID),
        "mobile": re.compile(r"https?://m\.weibo\.cn/(?:u|profile)/" + _UID),
    }
    # process-wide guest session: Weibo hands one to any browser
    _visitor: ClassVar[tuple[str, float] | None] = None

    @classmethod
    def forget(cls) -> None:
        """Drop the process-wide guest cookies."""
        cls._visitor = None

    @property
    def _opts(self) -> WeiboOptions:
        assert isinstance(self.options, WeiboOptions)
        return self.options

    async def check(self, channel: Channel) -> LiveStatus:
        ref = channel.reference or ""
        live_id = ref if channel.matcher == "live" else await self._latest_live(ref)
        if live_id is None:
            return answer(LiveOutcome.OFFLINE, "no live broadcast among the posts")
        what = "weibo anchor/live"
        reply = await self._get(api.LiveReply, LIVE_URL, {"live_id": live_id}, what)
        if reply.error_code != 0:
            outcome = LiveOutcome.NOT_FOUND if reply.msg == NO_ROOM else None
            detail = f"{what}: {reply.error_code} {reply.msg}"
            return answer(outcome or LiveOutcome.UNAVAILABLE, detail)
        if reply.data is None:
            return answer(LiveOutcome.OFFLINE, f"{what}: no broadcast data")
        item, user = reply.data.item, reply.data.user_info
        fields = {
            "title": item.desc,
            "author": user.screen_name,
            "avatar_url": user.profile_image_url,
            "cover_url": item.cover,
        }
        if item.status != 1:
            return answer(LiveOutcome.OFFLINE, **fields)
        pull = item.stream_info.pull if item.stream_info else api.Pull()
        return answer(LiveOutcome.LIVE, streams=self._streams(pull), **fields)

    def _streams(self, pull: api.Pull) -> list[StreamInfo]:
        given = [
            (StreamKind.FLV, pull.live_origin_flv_url),
            (StreamKind.HLS, pull.live_origin_hls_url),
        ]
        found: list[StreamInfo] = []
        if self._opts.origin_quality:
            found += [
                _stream(source, kind, "source")
                for kind, url in given
                if url and (source := api.source_of(url)) != url
            ]
        found += [_stream(url, kind, "transcoded") for kind, url in given if url]
        return found

    async def _latest_live(self, uid: str) -> str | None:
        """The live id of the user's latest live post, if one is among the first."""
        what = "weibo mymblog"
        params = {"uid": uid, "page": "1", "feature": "0"}
        reply = await self._get(api.PostsReply, POSTS_URL, params, what)
        if reply.ok != 1 or reply.data is None:
            if "频繁" in reply.msg:  # "too frequent"
                raise Outcome(LiveOutcome.RATE_LIMITED, f"{what}: {reply.msg}")
            raise Outcome(LiveOutcome.NOT_FOUND, f"{what}: {reply.msg or reply.ok}")
        for post in reply.data.list:
            info = post.page_info
            if info is not None and info.object_type == "live" and info.object_id:
                return info.object_id
        return None

    async def _get(
        self, model: type[M], url: str, params: Mapping[str, str], what: str
    ) -> M:
        """A GET with the session; a redirect to the passport makes a guest first."""
        for attempt in (1, 2):
            headers = HEADERS | {"Cookie": self._cookie()}
            response = await request(
                self.http, "GET", url, what=what, params=params, headers=headers,
                rate_limited=WEIBO_THROTTLES, follow_redirects=False,
            )  # fmt: skip
            location = response.headers.get("location", "")
            if not response.is_redirect:
                break
            if urlsplit(location).hostname != PASSPORT or attempt == 2:
                raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: sent to {location}")
            if self.options.cookies is not None:
                raise Outcome(
                    LiveOutcome.UNAVAILABLE,
                    f"{what}: Weibo refused the configured cookies; renew them",
                )
            type(self)._visitor = (await self._new_visitor(), time.monotonic())
        if response.status_code >= 400:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        return parse(model, response, what)

    def _cookie(self) -> str:
        """The user's cookies, else the process's guest session (none at first)."""
        if self.options.cookies is not None:
            return self.options.cookies.get_secret_value()
        cached = type(self)._visitor
        if cached is not None and time.monotonic() - cached[1] < VISITOR_TTL_SECS:
            return cached[0]
        return ""

    async def _new_visitor(self) -> str:
        """Weibo's first-visit handshake: a visitor id, then the guest cookies."""
        what = "weibo visitor"
        fp = {"os": "1", "browser": "Chrome131,0,0,0", "fonts": "undefined",
              "screenInfo": "1920*1080*24", "plugins": ""}  # fmt: skip
        response = await request(
            self.http, "POST", GENVISITOR_URL, what=what, rate_limited=WEIBO_THROTTLES,
            data={"cb": "gen_callback", "fp": json.dumps(fp, separators=(",", ":"))},
            headers={"User-Agent": BROWSER_UA, "Referer": INCARNATE_URL},
        )  # fmt: skip
        visitor = api.jsonp(response.text, what)
        params = {
            "a": "incarnate", "t": visitor.get("tid", ""), "gc": "",
            "w": "3" if visitor.get("new_tid") in ("True", "true") else "2",
            "c": f"{int(visitor.get('confidence') or 100):03d}",
            "cb": "cross_domain", "from": "weibo", "_rand": str(secrets.randbelow(999)),
        }  # fmt: skip
        response = await request(
            self.http, "GET", INCARNATE_URL, what=what, params=params,
            rate_limited=WEIBO_THROTTLES,
            headers={"User-Agent": BROWSER_UA, "Referer": INCARNATE_URL},
        )  # fmt: skip
        cookies = dict(api.jsonp(response.text, what))
        for header in response.headers.get_list("set-cookie"):
            name, _, value = header.split(";", 1)[0].partition("=")
            cookies[name.strip().lower()] = value.strip()
        if not cookies.get("sub"):
            raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: no guest session given")
        return f"SUB={cookies['sub']}; SUBP={cookies.get('subp', '')}"


def _stream(url: str, kind: StreamKind, quality: str) -> StreamInfo:
    container = "flv" if kind is StreamKind.FLV else "ts"
    return StreamInfo(
        url=url, kind=kind, quality=quality, container=container, headers=HEADERS
    )


__extractor__ = Weibo

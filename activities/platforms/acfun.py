"""
$description Chinese video site; its live rooms (AcFun直播).
$platform acfun
$url https://live.acfun.cn/live/179922
$url https://m.acfun.cn/live/detail/179922
$type live
$metadata title
$metadata author
$metadata avatar
$metadata started_at

AcFun's live web API, as its player uses it today. The live check is the
streamer's profile, `live.acfun.cn/rest/pc-direct/user/userInfo?userId=<uid>`
(`result` 0; `profile.liveId` present while live; name and avatar). While live,
the player logs in as a visitor (`id.app.acfun.cn/rest/app/visitor/login`, with a
random `_did` cookie: `userId` and `acfun.api.visitor_st`) and asks Kuaishou's
live service to play (`api.kuaishouzt.com/rest/zt/live/web/startPlay`, `authorId`
and `pullStreamType=FLV`): `result` 1 answers the title (`caption`), the start
(`liveStartTime`, ms) and `videoPlayRes`, JSON in a string whose
`liveAdaptiveManifest[].adaptationSet.representation[]` are the FLV streams, one
per quality, each signed with an `auth_key` that starts with its expiry.

Cookies (a logged-in user's) go to the API only. Outcomes: a profile answer with a
non-zero `result` → not found (no other per-user failure is documented); startPlay
without `result` 1 → offline (it ended between the calls).
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, Field

from activities.contracts import LiveOutcome, LiveStatus, StreamInfo, StreamKind
from activities.platforms.base import Channel, Extractor, Outcome, answer
from activities.platforms.web import BROWSER_UA, cookie_header, parse, request

USER_INFO_URL = "https://live.acfun.cn/rest/pc-direct/user/userInfo"
VISITOR_URL = "https://id.app.acfun.cn/rest/app/visitor/login"
START_PLAY_URL = "https://api.kuaishouzt.com/rest/zt/live/web/startPlay"
HEADERS = {"User-Agent": BROWSER_UA, "Referer": "https://live.acfun.cn/"}
_TAIL = r"/?(?:[?#]\S*)?\Z"


class _Profile(BaseModel):
    name: str = ""
    head_url: str = Field(default="", alias="headUrl")
    live_id: str | None = Field(default=None, alias="liveId")


class _UserInfo(BaseModel):
    result: int
    error_msg: str = ""
    profile: _Profile | None = None


class _Visitor(BaseModel):
    result: int
    error_msg: str = ""
    user_id: int | None = Field(default=None, alias="userId")
    visitor_st: str | None = Field(default=None, alias="acfun.api.visitor_st")


class _Play(BaseModel):
    caption: str = ""
    live_start_ms: int = Field(default=0, alias="liveStartTime")
    video_play_res: str = Field(alias="videoPlayRes")


class _StartPlay(BaseModel):
    result: int
    error_msg: str = ""
    data: _Play | None = None


class _Representation(BaseModel):
    url: str
    bitrate: int = 0  # kbps
    name: str = ""


class _AdaptationSet(BaseModel):
    representation: list[_Representation]


class _Manifest(BaseModel):
    adaptation_set: _AdaptationSet = Field(alias="adaptationSet")


class _VideoPlayRes(BaseModel):
    manifests: list[_Manifest] = Field(alias="liveAdaptiveManifest")


class Acfun(Extractor):
    """AcFun live rooms (see the module docstring)."""

    platform = "acfun"
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(r"https?://live\.acfun\.cn/live/(?P<channel>\d+)" + _TAIL),
        "mobile": re.compile(
            r"https?://m\.acfun\.cn/live/(?:detail/)?(?P<channel>\d+)" + _TAIL
        ),
    }

    def _headers(self) -> dict[str, str]:
        cookies = self.options.cookies
        return HEADERS | cookie_header(cookies.get_secret_value() if cookies else None)

    async def check(self, channel: Channel) -> LiveStatus:
        uid = channel.reference or ""
        what = "acfun userInfo"
        response = await request(
            self.http, "GET", USER_INFO_URL, params={"userId": uid},
            headers=self._headers(), what=what,
        )  # fmt: skip
        info = parse(_UserInfo, response, what)
        if info.result != 0 or info.profile is None:
            return answer(
                LiveOutcome.NOT_FOUND, f"no AcFun user {uid}: {info.error_msg}"
            )
        fields = {"author": info.profile.name, "avatar_url": info.profile.head_url}
        if not info.profile.live_id:
            return answer(LiveOutcome.OFFLINE, **fields)
        play = await self._start_play(uid)
        streams = streams_of(
            parse(_VideoPlayRes, play.video_play_res, "acfun videoPlayRes")
        )
        started = (
            datetime.fromtimestamp(play.live_start_ms / 1000, UTC)
            if play.live_start_ms
            else None
        )
        return answer(
            LiveOutcome.LIVE, title=play.caption, started_at=started, streams=streams,
            **fields,
        )  # fmt: skip

    async def _start_play(self, uid: str) -> _Play:
        """The play answer of a live room, as a freshly logged-in visitor."""
        did = "web_" + "".join(
            secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16)
        )
        what = "acfun visitor login"
        response = await request(
            self.http, "POST", VISITOR_URL, data={"sid": "acfun.api.visitor"},
            headers=self._headers() | {"Cookie": f"_did={did}"}, what=what,
        )  # fmt: skip
        visitor = parse(_Visitor, response, what)
        if visitor.result != 0 or visitor.user_id is None or not visitor.visitor_st:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: {visitor.result} {visitor.error_msg}"
            )
        params = {
            "subBiz": "mainApp", "kpn": "ACFUN_APP", "kpf": "PC_WEB",
            "userId": str(visitor.user_id), "did": did,
            "acfun.api.visitor_st": visitor.visitor_st,
        }  # fmt: skip
        what = "acfun startPlay"
        response = await request(
            self.http, "POST", START_PLAY_URL, params=params,
            data={"authorId": uid, "pullStreamType": "FLV"}, headers=self._headers(),
            what=what,
        )  # fmt: skip
        play = parse(_StartPlay, response, what)
        if play.result != 1 or play.data is None:
            raise Outcome(
                LiveOutcome.OFFLINE, f"{what}: {play.result} {play.error_msg}"
            )
        return play.data


def streams_of(res: _VideoPlayRes) -> list[StreamInfo]:
    """The FLV streams of a videoPlayRes, one per quality."""
    found: list[StreamInfo] = []
    for manifest in res.manifests:
        for rep in manifest.adaptation_set.representation:
            query = parse_qs(urlsplit(rep.url).query)
            deadline = query.get("auth_key", [""])[0].split("-", 1)[0]
            found.append(
                StreamInfo(
                    url=rep.url,
                    kind=StreamKind.FLV,
                    quality=rep.name,
                    bitrate_bps=rep.bitrate * 1000,
                    cdn=(urlsplit(rep.url).hostname or "").split(".", 1)[0],
                    container="flv",
                    headers=HEADERS,
                    expires_at=(
                        datetime.fromtimestamp(int(deadline), UTC)
                        if deadline.isdigit()
                        else None
                    ),
                )
            )
    return found


__extractor__ = Acfun

"""
$description Korean live-streaming platform for personal broadcasts (PandaTV, 팬더티비).
$platform pandatv
$url https://www.pandalive.co.kr/live/play/example
$url https://www.pandalive.co.kr/play/example
$url https://m.pandalive.co.kr/live/play/example
$url https://www.pandalive.co.kr/channel/example
$type live
$metadata title
$metadata author
$metadata category
$metadata avatar
$metadata cover
$metadata viewers
$metadata started_at

PandaTV is pandalive.co.kr, the Korean platform: what streamlink (`pandalive`),
yt-dlp (`PandaTvIE`), rust-srec (`pandatv`) and DouyinLiveRecorder (`PandaTV`) mean
by the name today (the Chinese panda.tv closed in 2019). Its web API, as the
player uses it: a POST of `api.pandalive.co.kr/v1/member/bj` says whether the user
exists (`유저 정보가 없습니다` when not) and, with `media`, whether and what it
broadcasts (title, adult, password). A live room is watched with a POST of
`v1/live/play` (`action=watch`, the room password): the broadcast's category,
viewers and start, and its playlists (`PlayList.hls`, `hls2`, `hls3`: Amazon IVS
master playlists whose variants the engine ranks); or, with HTTP 400, a refusal
(`errorData.code`).

Options: `password` (a password room), cookies (a signed-in, adult-verified viewer's
`sessKey`…, for 19+ rooms; API calls only). Outcomes: a password room without the
password, or a refused one (`needPw`, `wrongPw`), a login or paid room → private;
an adult room without cookies (`isAdult`, `needAdult`) → age restricted; `castEnd`
→ offline.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, SecretStr

from activities.contracts import LiveOutcome, LiveStatus
from activities.errors import ExtractorError
from activities.platforms import _pandatv_api as api
from activities.platforms.base import (
    Channel,
    Extractor,
    Outcome,
    PlatformOptions,
    answer,
)
from activities.platforms.web import BROWSER_UA, cookie_header, parse, request

if TYPE_CHECKING:
    pass

API_URL = "https://api.pandalive.co.kr/v1"
SITE = "https://www.pandalive.co.kr"
# user ids; social-login ids carry their provider (`1506087545@ka`)
_ID = r"(?P<channel>[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{2,16})?)"
_TAIL = r"/?(?:[?#]\S*)?\Z"


class PandaTvOptions(PlatformOptions):
    """PandaTV's options."""

    password: SecretStr | None = Field(
        default=None, description="The room's password, for a password room"
    )


class PandaTv(Extractor):
    """PandaTV (pandalive.co.kr) rooms through the web API (see the module)."""

    platform = "pandatv"
    options_model = PandaTvOptions
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(
            r"https?://(?:www\.)?pandalive\.co\.kr/(?:live/)?play/" + _ID + _TAIL
        ),
        "mobile": re.compile(
            r"https?://m\.pandalive\.co\.kr/(?:live/)?play/" + _ID + _TAIL
        ),
        "channel": re.compile(
            r"https?://(?:www\.|m\.)?pandalive\.co\.kr/channel/"
            + _ID
            + r"(?:/home)?"
            + _TAIL
        ),
    }

    @property
    def _password(self) -> str:
        assert isinstance(self.options, PandaTvOptions)
        password = self.options.password
        return password.get_secret_value() if password else ""

    def _headers(self, user: str, *, api_call: bool = True) -> dict[str, str]:
        # the media tokens are scoped to the site's origin: streams send it too
        headers = {
            "User-Agent": BROWSER_UA,
            "Origin": SITE,
            "Referer": f"{SITE}/live/play/{user}",
        }
        cookies = self.options.cookies if api_call else None
        return headers | cookie_header(cookies.get_secret_value() if cookies else None)

    async def _post(self, path: str, form: dict[str, str], user: str) -> Any:
        what = f"pandatv {path}"
        response = await request(
            self.http, "POST", f"{API_URL}/{path}", data=form,
            headers=self._headers(user), what=what,
        )  # fmt: skip
        # a refusal comes with HTTP 400 and a body that says why
        if response.status_code > 400:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        return response

    async def check(self, channel: Channel) -> LiveStatus:
        user = _user(channel)
        what = "pandatv member/bj"
        form = {"userId": user, "info": "media fanGrade"}
        member = parse(api.Member, await self._post("member/bj", form, user), what)
        if not member.result:
            if api.NO_SUCH_USER in member.message:
                return answer(LiveOutcome.NOT_FOUND, f"{user}: {member.message}")
            return answer(LiveOutcome.UNAVAILABLE, f"{what}: {member.message}")
        if member.bj is None:
            raise ExtractorError(
                f"{what}: the answer changed shape: missing field bjInfo"
            )
        bj, media = member.bj, member.media
        fields: dict[str, Any] = {
            "title": bj.channel_title or bj.nick,
            "author": bj.nick,
            "avatar_url": bj.avatar,
        }
        if media is None or not media.is_live:
            return answer(LiveOutcome.OFFLINE, **fields)
        fields |= {"title": media.title or fields["title"], "cover_url": media.cover}
        if media.is_password and not self._password:
            return answer(LiveOutcome.PRIVATE, "a password room", **fields)
        if media.is_adult and self.options.cookies is None:
            return answer(
                LiveOutcome.AGE_RESTRICTED,
                "a 19+ room: set the cookies of an adult-verified account",
                **fields,
            )
        return await self._watch(user, fields)

    async def _watch(self, user: str, fields: dict[str, Any]) -> LiveStatus:
        """The live/play answer: the broadcast's details and its playlists."""
        what = "pandatv live/play"
        form = {
            "action": "watch", "userId": user, "password": self._password,
            "shareLinkType": "",
        }  # fmt: skip
        play = parse(api.Play, await self._post("live/play", form, user), what)
        if not play.result:
            code = play.error.code if play.error else ""
            outcome = api.REFUSALS.get(code, LiveOutcome.UNAVAILABLE)
            return answer(outcome, f"{what}: {code or '?'} {play.message}", **fields)
        if play.media is None or play.playlist is None:
            missing = "media" if play.media is None else "PlayList"
            raise ExtractorError(
                f"{what}: the answer changed shape: missing field {missing}"
            )
        media = play.media
        if not media.is_live:
            return answer(LiveOutcome.OFFLINE, **fields)
        streams = api.streams_of(play.playlist, self._headers(user, api_call=False))
        return answer(
            LiveOutcome.LIVE,
            title=media.title or fields["title"],
            author=media.nick or fields["author"],
            avatar_url=media.avatar or fields["avatar_url"],
            cover_url=media.cover or fields.get("cover_url", ""),
            category=media.category,
            viewers=media.viewers,
            started_at=media.started_at,
            streams=streams,
        )


def _user(channel: Channel) -> str:
    user = channel.reference
    if not user:
        raise ExtractorError(f"no PandaTV user in {channel.url}")
    return user


__extractor__ = PandaTv

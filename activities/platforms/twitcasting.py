"""
$description Japanese live-streaming platform for phone and PC broadcasts (ツイキャス).
$platform twitcasting
$url https://twitcasting.tv/c:example
$url https://twitcasting.tv/example_user/movie/812345678
$type live
$metadata title
$metadata author
$metadata category
$metadata viewers
$metadata started_at

TwitCasting's web player, as it is today. The live check is one GET of
`twitcasting.tv/streamserver.php?target=<user>&mode=client&player=pc_web`: the
user's current movie (`movie.id`, `movie.live`) and its streams, HLS per quality
(`tc-hls`: high, medium, low) and fragmented MP4 over a websocket (`llfmp4`: main,
mobilesource, base). A live movie's title, subtitle (`telop`), category, viewers
and start come from the front-end API (`frontendapi.twitcasting.tv/movies/<id>/
status/viewer` and `/info`) with the viewer token of `happytoken.php`. HLS goes to
our engines; the websocket streams only streamlink reads (its `ws_<name>`). A
`streamserver.php` answer with no movie is a user who never broadcast, or none at
all: the user's page tells (404). A movie URL names its user; the user's current
broadcast is what is recorded.

Protected broadcasts: a password-protected movie's streams carry `word=md5(password)`
(streamlink, yt-dlp); without the `password` option a movie whose viewer token is
refused, or a live one with no stream on offer (members only: yt-dlp asks for a
login), is private. Cookies (a signed-in member) go to the API calls only. Chat:
`danmu_info` asks `eventpubsuburl.php` for the movie's one-time comment websocket.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import Field, SecretStr

from activities.contracts import LiveOutcome, LiveStatus
from activities.danmu.models import DanmuConnectInfo
from activities.errors import ExtractorError
from activities.platforms import _twitcasting_api as api
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
M = TypeVar("M", api.ViewerStatus, api.MovieInfo)

SITE = "https://twitcasting.tv"
STREAMSERVER_URL = f"{SITE}/streamserver.php"
TOKEN_URL = f"{SITE}/happytoken.php"
PUBSUB_URL = f"{SITE}/eventpubsuburl.php"
FRONTEND_URL = "https://frontendapi.twitcasting.tv/movies/{movie}/{what}"
HEADERS = {"User-Agent": BROWSER_UA, "Referer": f"{SITE}/", "Origin": SITE}
# user ids: Twitter names, or a provider prefix (c: custom, g: Google, f:, ig:, …)
_USER = r"(?P<channel>(?:[a-z]{1,4}:)?[A-Za-z0-9_-]{1,40})"
_TAIL = r"/?(?:[?#]\S*)?\Z"
_HOST = r"https?://(?:www\.)?twitcasting\.tv/"


class TwitcastingOptions(PlatformOptions):
    """TwitCasting's options."""

    password: SecretStr | None = Field(
        default=None, description="The broadcast's password, for a protected movie"
    )


class TwitCasting(Extractor):
    """TwitCasting users through the web player's API (see the module docstring)."""

    platform = "twitcasting"
    options_model = TwitcastingOptions
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(_HOST + _USER + _TAIL),
        "movie": re.compile(
            _HOST + _USER + r"/(?:movie|twplayer)/(?P<movie>\d+)" + _TAIL
        ),
    }

    def __init__(
        self, http: httpx.AsyncClient, options: PlatformOptions | None = None
    ) -> None:
        super().__init__(http, options)
        self._servers: dict[str, api.StreamServer] = {}

    @property
    def _password(self) -> str | None:
        assert isinstance(self.options, TwitcastingOptions)
        password = self.options.password
        return password.get_secret_value() if password else None

    def _headers(self) -> dict[str, str]:
        cookies = self.options.cookies
        return HEADERS | cookie_header(cookies.get_secret_value() if cookies else None)

    async def _server(self, user: str) -> api.StreamServer:
        """The streamserver answer for `user` (asked once per instance)."""
        if user not in self._servers:
            what = "twitcasting streamserver"
            params = {"target": user, "mode": "client", "player": "pc_web"}
            response = await request(
                self.http, "GET", STREAMSERVER_URL, params=params,
                headers=self._headers(), what=what,
            )  # fmt: skip
            if response.status_code >= 400:
                raise Outcome(
                    LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
                )
            self._servers[user] = parse(api.StreamServer, response, what)
        return self._servers[user]

    async def check(self, channel: Channel) -> LiveStatus:
        user = _user(channel)
        server = await self._server(user)
        if server.movie is None:
            return await self._without_movie(user)
        if not server.movie.live:
            return answer(LiveOutcome.OFFLINE, author=user)
        fields = {"author": user} | await self._metadata(server.movie.id)
        streams = api.streams_of(
            server, HEADERS, f"{SITE}/{user}", password=self._password
        )
        if not streams:
            return answer(
                LiveOutcome.PRIVATE,
                f"movie {server.movie.id} offers no stream to this viewer "
                "(members only: set the cookies of a member)",
                **fields,
            )
        return answer(LiveOutcome.LIVE, streams=streams, **fields)

    async def _without_movie(self, user: str) -> LiveStatus:
        """No movie at all: a user who never broadcast, or no such user."""
        what = "twitcasting user page"
        response = await request(
            self.http, "GET", f"{SITE}/{user}", headers=self._headers(), what=what
        )
        if response.status_code == 404:
            return answer(LiveOutcome.NOT_FOUND, f"no TwitCasting user {user}")
        return answer(LiveOutcome.OFFLINE, f"{user} has not broadcast yet", author=user)

    async def _metadata(self, movie: int) -> dict[str, Any]:
        """Title, category, viewers and start of a live movie, through its token.

        Raises:
            Outcome: private, when the token is refused and no password is set.
        """
        token = await self._token(movie)
        if token is None:
            if self._password is None:
                raise Outcome(
                    LiveOutcome.PRIVATE,
                    f"movie {movie} is protected: set its password (or the "
                    "cookies of a member)",
                )
            return {}  # the page unlocks it in a browser; the streams take `word`
        params = {"token": token, "__n": str(int(time.time() * 1000))}
        status = await self._frontend(movie, "status/viewer", params, api.ViewerStatus)
        info = await self._frontend(movie, "info", params, api.MovieInfo)
        fields: dict[str, Any] = {}
        if status is not None:
            found = status.movie
            fields["title"] = " - ".join(t for t in (found.title, found.telop) if t)
            fields["category"] = found.category.name if found.category else ""
            fields["viewers"] = found.viewers.current if found.viewers else None
        if info is not None and info.started_at:
            fields["started_at"] = datetime.fromtimestamp(info.started_at, UTC)
        return fields

    async def _token(self, movie: int) -> str | None:
        """The viewer token of `movie`; None when TwitCasting refuses one."""
        what = "twitcasting happytoken"
        response = await request(
            self.http, "POST", TOKEN_URL, files={"movie_id": (None, str(movie))},
            params={"__n": str(int(time.time() * 1000))}, headers=self._headers(),
            what=what,
        )  # fmt: skip
        if response.status_code in (401, 403):
            return None
        if response.status_code >= 400:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        return parse(api.Token, response, what).token or None

    async def _frontend(
        self, movie: int, path: str, params: dict[str, str], model: type[M]
    ) -> M | None:
        what = f"twitcasting {path}"
        response = await request(
            self.http, "GET", FRONTEND_URL.format(movie=movie, what=path),
            params=params, headers=self._headers(), what=what,
        )  # fmt: skip
        if response.status_code >= 400:
            # metadata only: the broadcast is recorded without it
            log.warning("%s of movie %s: HTTP %s", what, movie, response.status_code)
            return None
        return parse(model, response, what)

    async def danmu_info(self, channel: Channel) -> DanmuConnectInfo:
        user = _user(channel)
        server = await self._server(user)
        if server.movie is None or not server.movie.live:
            raise Outcome(LiveOutcome.OFFLINE, "twitcasting comments need a live movie")
        what = "twitcasting eventpubsuburl"
        form = {"movie_id": str(server.movie.id), "password": self._password or ""}
        response = await request(
            self.http, "POST", PUBSUB_URL, data=form, headers=self._headers(),
            what=what,
        )  # fmt: skip
        if response.status_code >= 400:
            raise Outcome(
                LiveOutcome.UNAVAILABLE, f"{what}: HTTP {response.status_code}"
            )
        cookies = self.options.cookies
        return DanmuConnectInfo(
            platform=self.platform,
            room_id=str(server.movie.id),
            ws_urls=[parse(api.PubSub, response, what).url],
            cookie=cookies.get_secret_value() if cookies else "",
            user_agent=BROWSER_UA,
        )


def _user(channel: Channel) -> str:
    user = channel.reference
    if not user:
        raise ExtractorError(f"no TwitCasting user in {channel.url}")
    return user


__extractor__ = TwitCasting

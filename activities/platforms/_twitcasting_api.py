"""TwitCasting's answers as pydantic models, and its stream list, for
`activities.platforms.twitcasting`.

Nothing of TwitCasting was captured; the shapes are those the public clients read
today: `streamserver.php` (`movie.id`/`live`, `tc-hls.streams` high/medium/low,
`llfmp4.streams` main/mobilesource/base: streamlink's `twitcasting` plugin, yt-dlp's
`TwitCastingIE`, rust-srec's `TwitcastingData`), `happytoken.php` (`token`) and the
front-end API's `movies/<id>/status/viewer` (`movie.title`, `telop`, `category.name`,
`viewers.current`) and `movies/<id>/info` (`started_at`, `visibility.type`), as the
public notification bots read them, and `eventpubsuburl.php` (`url`: rust-srec's
TwitCasting danmu).
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

from activities.contracts import StreamInfo, StreamKind

# the player's order, best first (yt-dlp: low 640x360, medium 1280x720, high 1080p)
HLS_QUALITIES = ("high", "medium", "low")
# the websocket fMP4 streams streamlink reads, best first (its `ws_<name>` streams)
WS_QUALITIES = ("main", "mobilesource", "base")


class Movie(BaseModel):
    """`movie`: the user's current (or last) broadcast."""

    id: int
    live: bool


class StreamGroup(BaseModel):
    """`tc-hls` or `llfmp4`: quality name → URL."""

    streams: dict[str, str] = Field(default_factory=dict)


class StreamServer(BaseModel):
    """A `streamserver.php` answer; `{}` for a user with no broadcast."""

    model_config = ConfigDict(populate_by_name=True)

    movie: Movie | None = None
    hls: StreamGroup | None = Field(default=None, alias="tc-hls")
    websocket: StreamGroup | None = Field(default=None, alias="llfmp4")


class Token(BaseModel):
    """A `happytoken.php` answer: the viewer token of the front-end API."""

    token: str = ""


class Category(BaseModel):
    id: str = ""
    name: str = ""


class Viewers(BaseModel):
    current: int | None = None
    total: int | None = None


class StatusMovie(BaseModel):
    title: str = ""
    telop: str | None = None
    category: Category | None = None
    viewers: Viewers | None = None


class ViewerStatus(BaseModel):
    """`movies/<id>/status/viewer`."""

    movie: StatusMovie


class Visibility(BaseModel):
    type: str = "public"


class MovieInfo(BaseModel):
    """`movies/<id>/info`."""

    started_at: int | None = None
    visibility: Visibility | None = None


class PubSub(BaseModel):
    """An `eventpubsuburl.php` answer: the one-time comment websocket."""

    url: str


def word(password: str) -> str:
    """The `word` a protected stream's URLs carry: md5 of the password."""
    return hashlib.md5(password.encode()).hexdigest()


def streams_of(
    server: StreamServer,
    headers: dict[str, str],
    page_url: str,
    *,
    password: str | None,
) -> list[StreamInfo]:
    """The streams of a live broadcast, best first: HLS, then websocket fMP4.

    HLS goes to our engines (`word` appended for a protected stream); the websocket
    streams only streamlink reads, so they are offered as its `ws_<name>` streams
    of the page, and not at all for a protected stream (streamlink would be asked
    without the password).
    """
    query = f"word={word(password)}" if password else ""
    found: list[StreamInfo] = []
    hls = server.hls.streams if server.hls else {}
    for name in _ordered(hls, HLS_QUALITIES):
        url = hls[name]
        if query:
            url += ("&" if "?" in url else "?") + query
        found.append(
            StreamInfo(url=url, kind=StreamKind.HLS, quality=name, headers=headers)
        )
    websocket = server.websocket.streams if server.websocket and not query else {}
    for name in _ordered(websocket, WS_QUALITIES):
        found.append(
            StreamInfo(url=page_url, kind=StreamKind.STREAMLINK, quality=f"ws_{name}")
        )
    return found


def _ordered(streams: dict[str, str], order: tuple[str, ...]) -> list[str]:
    known = [name for name in order if streams.get(name)]
    return known + [n for n in streams if n not in order and streams[n]]

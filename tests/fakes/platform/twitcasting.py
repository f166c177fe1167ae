"""TwitCasting's stream server, viewer token and front-end API, answering as today.

Nothing of TwitCasting was captured; every answer is built in the shapes the public
clients read: `streamserver.php` (`movie` {`id`, `live`}, `hls`/`fmp4` host info,
`tc-hls.streams` high/medium/low and `llfmp4.streams` main/mobilesource/base, `{}`
for a user with no movie: streamlink's plugin and its tests, yt-dlp's
`TwitCastingIE`, rust-srec's models and a notification bot that treats `{}` as
"no broadcast"), `happytoken.php` (`{"token"}`, 403 for a protected movie: the same
bot), the front-end API's `movies/<id>/status/viewer` (`update_interval_sec`,
`movie` {`id`, `title`, `telop`, `category` {`id`, `name`}, `viewers` {`current`,
`total`}}) and `movies/<id>/info` (`id`, `started_at`, `visibility.type`, …) as
those bots model them, and `eventpubsuburl.php` (`{"url"}`: rust-srec's danmu). A
missing user's page answers 404.

    api.room("c:example", extra={"movie_id": 812345678}).go_live(hls_url)
    room.set_state("private")            # a password-protected movie
    room.extra["members_only"] = True    # live, but no stream for guests
"""

from __future__ import annotations

import re
import secrets
from typing import Any, ClassVar
from urllib.parse import parse_qs

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

STARTED_AT = 1767000000
_MOVIE = re.compile(r"^/movies/(\d+)/(status/viewer|info)$")
_MULTIPART_MOVIE = re.compile(rb'name="movie_id"\r\n\r\n(\d+)\r\n')


class TwitcastingApi(PlatformApi):
    name = "twitcasting"
    hosts: ClassVar[tuple[str, ...]] = ("twitcasting.tv", "frontendapi.twitcasting.tv")

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, int] = {}  # token → movie

    def _user(self, user: str) -> Room | None:
        room = self.rooms.get(user)
        return None if room is None or room.state == "not_found" else room

    def _by_movie(self, movie: int) -> Room | None:
        return next((r for r in self.rooms.values() if _movie(r) == movie), None)

    def answer(self, request: FakeRequest) -> Reply:
        if request.host == "frontendapi.twitcasting.tv":
            found = _MOVIE.match(request.path)
            if found is None:
                return Reply.json({"error": {"code": 404}}, 404)
            return self._frontend(int(found.group(1)), found.group(2), request)
        if request.path == "/streamserver.php":
            return self._streamserver(request.arg("target"))
        if request.path == "/happytoken.php" and request.method == "POST":
            return self._token(request)
        if request.path == "/eventpubsuburl.php" and request.method == "POST":
            form = parse_qs(request.body.decode())
            return self._pubsub(int(form.get("movie_id", ["0"])[0]))
        user = request.path.strip("/")
        if self._user(user) is None:
            return Reply.text("<html>ページが見つかりません</html>", 404, "text/html")
        return Reply.text(f"<html><title>{user}</title></html>", 200, "text/html")

    def _streamserver(self, user: str) -> Reply:
        room = self._user(user)
        if room is None or room.extra.get("never_live"):
            return Reply.json({})
        live = room.state in (LIVE, "private") and room.stream_url is not None
        body: dict[str, Any] = {
            "movie": {"id": _movie(room), "live": live},
            "hls": {"host": "202-218-171-197.twitcasting.tv", "proto": "https"},
            "fmp4": {"host": "202-218-171-197.twitcasting.tv", "proto": "wss"},
        }
        if live and not room.extra.get("members_only"):
            assert room.stream_url is not None
            body["tc-hls"] = {
                "streams": {
                    name: f"{room.stream_url}?mode={name}"
                    for name in ("high", "medium", "low")
                }
            }
            base = f"wss://202-218-171-197.twitcasting.tv/ws.app/stream/{_movie(room)}"
            body["llfmp4"] = {
                "streams": {
                    name: f"{base}/fmp4/bd/1/1500?mode={name}"
                    for name in ("main", "mobilesource", "base")
                }
            }
        if self.malformed:
            del body["movie"]["live"]
        return Reply.json(body)

    def _token(self, request: FakeRequest) -> Reply:
        if not request.headers.get("Content-Type", "").startswith("multipart/"):
            return Reply.json({"error": "bad request"}, 400)
        found = _MULTIPART_MOVIE.search(request.body)
        room = self._by_movie(int(found.group(1))) if found else None
        if room is None:
            return Reply.json({"error": "not found"}, 404)
        if room.state == "private":
            return Reply.json({"error": "forbidden"}, 403)
        token = secrets.token_hex(16)
        self.tokens[token] = _movie(room)
        return Reply.json({"token": token})

    def _frontend(self, movie: int, what: str, request: FakeRequest) -> Reply:
        room = self._by_movie(movie)
        if room is None or self.tokens.get(request.arg("token")) != movie:
            return Reply.json({"error": {"code": 403, "message": "Forbidden"}}, 403)
        if what == "info":
            return Reply.json(
                {
                    "id": movie, "started_at": STARTED_AT,
                    "visibility": {"type": "public"}, "collabo": None,
                    "is_tool": False, "is_games": None, "is_vtuber": None,
                    "is_corporate_broadcasting": None, "is_portrait": None,
                    "is_dvr_supported": None, "has_secrecy_of_communication": False,
                }
            )  # fmt: skip
        return Reply.json(
            {
                "update_interval_sec": 10,
                "movie": {
                    "id": movie,
                    "title": room.title,
                    "telop": room.extra.get("telop"),
                    "category": {"id": "_system_jp_talk", "name": room.category},
                    "viewers": {"current": room.extra.get("viewers", 42), "total": 99},
                },
            }
        )

    def _pubsub(self, movie: int) -> Reply:
        if self._by_movie(movie) is None:
            return Reply.json({"error": "not found"}, 404)
        return Reply.json(
            {"url": f"wss://event.twitcasting.tv/event.pubsub/{movie}?key=fake"}
        )


def _movie(room: Room) -> int:
    return int(room.extra.get("movie_id", 800000000 + len(room.ref)))

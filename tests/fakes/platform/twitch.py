"""Twitch's GQL and usher, answering as they do today.

`ChannelShell` and `StreamMetadata` answers start from the real captured batch
answer in `tests/resources/platforms/twitch/twitch_live.json` (rust-srec, MIT) with
the channel's values put in; offline is `stream: null`. Not captured, built in the
documented shapes: `UserDoesNotExist` (with `reason`) for a missing or banned user,
the `PlaybackAccessToken` answer (a JSON token with `expires` and
`geoblock_reason`, and its signature), and usher: the multivariant playlist in its
IVS shape (streamlink's `test_multivariant_twitch_usher_v2.m3u8`, every variant
pointing at the channel's real stream), 404 when offline, 403 `content_geoblocked`.
GQL without `Client-ID` is a 400, as on Twitch.

    api.room("abby_").go_live(live_hls.url)
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any, ClassVar

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

RESOURCES = Path(__file__).parents[2] / "resources"
CAPTURED = RESOURCES / "platforms" / "twitch" / "twitch_live.json"
USHER_MASTER = (
    RESOURCES / "hls" / "streamlink" / "test_multivariant_twitch_usher_v2.m3u8"
)
TOKEN_TTL_SECS = 1200
_USHER_PATH = re.compile(r"/api/channel/hls/(?P<login>\w+)\.m3u8")


def _captured(index: int) -> dict[str, Any]:
    """The `data` of one operation of the captured batch answer (a fresh copy)."""
    answers: list[dict[str, Any]] = json.loads(CAPTURED.read_text(encoding="utf-8"))
    return copy.deepcopy(answers[index]["data"])


class TwitchApi(PlatformApi):
    name = "twitch"
    hosts: ClassVar[tuple[str, ...]] = ("gql.twitch.tv", "usher.ttvnw.net")

    def answer(self, request: FakeRequest) -> Reply:
        if request.host == "usher.ttvnw.net":
            return self._usher(request)
        if request.path != "/gql" or request.method != "POST":
            return Reply.text("no such page", 404)
        if "client-id" not in {k.lower() for k in request.headers}:
            message = 'The "Client-ID" header is missing from the request.'
            return Reply.json(
                {"error": "Bad Request", "status": 400, "message": message}, 400
            )
        body = request.json()
        operations = body if isinstance(body, list) else [body]
        answers = [self._operation(op) for op in operations]
        return Reply.json(answers if isinstance(body, list) else answers[0])

    def _room(self, login: str) -> Room | None:
        room = self.rooms.get(login.lower())
        return None if room is None or room.state == "not_found" else room

    def _operation(self, op: dict[str, Any]) -> dict[str, Any]:
        name = op["operationName"]
        variables = op["variables"]
        extensions = {
            "durationMilliseconds": 5,
            "operationName": name,
            "requestID": "01FAKE",
        }
        if name == "ChannelShell":
            data = self._shell(variables["login"])
        elif name == "StreamMetadata":
            data = self._metadata(variables["channelLogin"])
        elif name == "PlaybackAccessToken":
            data = self._token(variables["login"])
        else:
            return {
                "errors": [{"message": "PersistedQueryNotFound"}],
                "extensions": extensions,
            }
        return {"data": data, "extensions": extensions}

    def _shell(self, login: str) -> dict[str, Any]:
        room = self._room(login)
        if room is None or room.state == "banned":
            reason = "TOS_INDEFINITE" if room is not None else "UNKNOWN"
            return {
                "userOrError": {
                    "userDoesNotExist": login,
                    "reason": reason,
                    "__typename": "UserDoesNotExist",
                }
            }
        data = _captured(0)
        user = data["userOrError"]
        user.update(login=room.ref, displayName=room.author)
        if room.state != LIVE:
            user["stream"] = None
        if room.state == "private":
            user["channel"]["self"].update(
                isAuthorized=False, restrictionType="SUB_ONLY_LIVE"
            )
        if self.malformed:
            del user["__typename"]
        return data

    def _metadata(self, login: str) -> dict[str, Any]:
        room = self._room(login)
        if room is None or room.state == "banned":
            return {"user": None}
        data = _captured(1)
        user = data["user"]
        user["lastBroadcast"]["title"] = room.title
        if room.state in (LIVE, "private", "region_locked"):
            user["stream"]["game"]["name"] = room.category
        else:
            user["stream"] = None
        return data

    def _token(self, login: str) -> dict[str, Any]:
        room = self._room(login)
        if room is None:
            return {"streamPlaybackAccessToken": None}
        value = {
            "adblock": False,
            "channel": room.ref,
            "expires": int(time.time()) + TOKEN_TTL_SECS,
            "geoblock_reason": "",
            "hide_ads": False,
            "server_ads": True,
            "show_ads": True,
        }
        token = {
            "value": json.dumps(value),
            "signature": "5f" * 20,
            "__typename": "PlaybackAccessToken",
        }
        return {"streamPlaybackAccessToken": token}

    def _usher(self, request: FakeRequest) -> Reply:
        found = _USHER_PATH.fullmatch(request.path)
        room = self._room(found["login"]) if found else None
        if room is None or not request.arg("sig") or not request.arg("token"):
            return self._usher_error("Can not find channel", "no_channel", 404)
        if room.state == "region_locked":
            return self._usher_error(
                "Content Restricted In Region", "content_geoblocked", 403
            )
        if room.state != LIVE or room.stream_url is None:
            return self._usher_error("Can not find channel", "no_channel", 404)
        lines = USHER_MASTER.read_text(encoding="utf-8").splitlines()
        master = [
            room.stream_url if line.startswith("https://") else line for line in lines
        ]
        return Reply.text(
            "\n".join(master) + "\n", content_type="application/vnd.apple.mpegurl"
        )

    def _usher_error(self, error: str, code: str, status: int) -> Reply:
        body = [
            {
                "url": "https://usher.ttvnw.net/api/channel/hls",
                "error": error,
                "error_code": code,
                "type": "error",
            }
        ]
        return Reply.json(body, status)

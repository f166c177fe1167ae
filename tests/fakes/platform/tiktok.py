"""TikTok's LIVE web API, in the shapes it answers today (nothing was captured).

`api-live/user/room`: `{"data": {"user": {...}, "liveRoom": {...}}, "statusCode",
"message"}`, with the fields rust-srec's tiktok models read from the same object
(`uniqueId`, `nickname`, `avatarLarger`, `roomId`; the room's `title`, `coverUrl`,
`startTime`, `status` 2 live / 4 ended) and `liveRoomStats.userCount`; a missing
user is `message: "user_not_found"` (statusCode 19881007), as TikTokLive checks.
`webcast/room/info`: `{"data": {"status", "owner": {"display_id"}, "stream_url"},
"status_code"}` as yt-dlp's TikTokLiveIE reads it, the stream list in ByteDance's
webcast shape (`live_core_sdk_data.pull_data`: `options.qualities` and the JSON
string `stream_data`, sdk keys as yt-dlp ranks them; the quality names here are
made up); 4003110 for a restricted LIVE, as tiktok-live-recorder handles it.
Where TikTok no longer operates it serves its notice page (rust-srec and
DouyinLiveRecorder look for its words); its bot protection answers 200 with an
empty body. `vm.tiktok.com/<code>` redirects to the streamer's LIVE page.

    api.room("weathernewslive", extra={"room_id": "7210809319192726273"}).go_live(url)
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

STREAM_TTL_SECS = 3600
DEFAULT_ROOM_ID = "7210809319192726273"
QUALITIES = [
    {"name": "Origin", "sdk_key": "origin", "v_codec": "h264",
     "resolution": "1080x1920", "level": 5},
    {"name": "HD", "sdk_key": "hd", "v_codec": "h264", "resolution": "720x1280",
     "level": 3},
    {"name": "SD", "sdk_key": "sd", "v_codec": "h264", "resolution": "480x854",
     "level": 2},
]  # fmt: skip
NOTICE = (
    "<html><body><p>\n    We regret to inform you that we have discontinued "
    "operating TikTok in India.\n    </p></body></html>"
)


class TikTokApi(PlatformApi):
    name = "tiktok"
    hosts: ClassVar[tuple[str, ...]] = (
        "www.tiktok.com",
        "webcast.tiktok.com",
        "vm.tiktok.com",
        "m.tiktok.com",
    )

    def __init__(self) -> None:
        super().__init__()
        self.shares: dict[str, str] = {}

    def share(self, code: str, ref: str) -> None:
        """`https://vm.tiktok.com/<code>/` redirects to `@ref`'s LIVE page."""
        self.shares[code] = ref

    def throttled(self, request: FakeRequest) -> Reply:
        return Reply(200, b"", {"Content-Type": "application/json"})

    def answer(self, request: FakeRequest) -> Reply:
        if request.host == "vm.tiktok.com":
            ref = self.shares.get(request.path.strip("/"))
            location = f"https://www.tiktok.com/@{ref}/live" if ref else "/"
            return Reply(301, b"", {"Location": location})
        if any(r.state == "region_locked" for r in self.rooms.values()):
            return Reply.text(NOTICE, 200, "text/html")
        if request.path == "/api-live/user/room/":
            return self._user_room(request.arg("uniqueId"))
        if request.path == "/webcast/room/info/":
            return self._room_info(request.arg("room_id"))
        return Reply.text("no such page", 404)

    def _room_id(self, room: Room) -> str:
        return str(room.extra.get("room_id", DEFAULT_ROOM_ID))

    def _user_room(self, unique_id: str) -> Reply:
        room = self.rooms.get(unique_id)
        if room is None or room.state == "not_found":
            body = {"data": {}, "message": "user_not_found", "statusCode": 19881007}
            return Reply.json(body)
        user = {
            "id": "6621496731283095554", "uniqueId": room.ref,
            "nickname": room.author, "secUid": "MS4wLjABAAAAfake",
            "avatarLarger": f"https://p16-sign.tiktokcdn.com/{room.ref}.jpeg",
            "roomId": self._room_id(room), "status": 2 if room.state == LIVE else 0,
            "secret": False, "verified": False,
        }  # fmt: skip
        live = {
            "title": room.title, "coverUrl": "https://p16-webcast.tiktokcdn.com/c.jpg",
            "startTime": int(room.extra.get("start", 1678000000)),
            "status": 2 if room.state in (LIVE, "age_restricted") else 4,
            "liveRoomStats": {"userCount": 321, "enterCount": 0},
        }  # fmt: skip
        if self.malformed:
            del live["status"]
        body = {
            "data": {"user": user, "liveRoom": live},
            "extra": {"now": int(time.time() * 1000)},
            "message": "",
            "status_code": 0,
            "statusCode": 0,
        }
        return Reply.json(body)

    def _room_info(self, room_id: str) -> Reply:
        room = next(
            (r for r in self.rooms.values() if self._room_id(r) == room_id), None
        )
        if room is not None and room.state == "age_restricted":
            words = {"message": "restricted", "prompts": "This LIVE is age-restricted"}
            return Reply.json({"data": words, "status_code": 4003110})
        if room is None:
            # no public source shows this answer: the code is made up
            words = {"message": "room not found", "prompts": ""}
            return Reply.json({"data": words, "status_code": 4003182})
        data: dict[str, Any] = {
            "id_str": room_id, "status": 2 if room.state == LIVE else 4,
            "title": room.title, "user_count": 321,
            "owner": {"display_id": room.ref, "nickname": room.author},
        }  # fmt: skip
        if room.state == LIVE and room.stream_url:
            data["stream_url"] = _stream_url(room.stream_url)
        return Reply.json({"data": data, "extra": {}, "status_code": 0})


def _stream_url(stream: str) -> dict[str, Any]:
    """The webcast stream list, every quality pointing at the room's stream."""
    joiner = "&" if "?" in stream else "?"
    link = f"{stream}{joiner}expire={int(time.time()) + STREAM_TTL_SECS}&sign=fake"
    flv = stream.split("?", 1)[0].endswith(".flv")
    main = {"flv": link if flv else "", "hls": "" if flv else link}
    data = {
        q["sdk_key"]: {"main": main | {"sdk_params": json.dumps({"VCodec": "h264"})}}
        for q in QUALITIES
    }
    return {
        "flv_pull_url": {"FULL_HD1": main["flv"]} if flv else {},
        "hls_pull_url": main["hls"],
        "live_core_sdk_data": {
            "pull_data": {
                "options": {"qualities": QUALITIES},
                "stream_data": json.dumps({"common": {}, "data": data}),
            }
        },
    }

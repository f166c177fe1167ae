"""SOOP's (AfreecaTV's) player API, stream assignment and station API, answering
as they do today.

Nothing of SOOP was captured; every answer is built in the shapes the public
clients read. `player_live_api.php` answers `{"CHANNEL": {...}}`: live with
`RESULT` 1, `BNO`, `BJID`, `BJNICK`, `TITLE`, `CATE`, `CATEGORY_TAGS`, `CTUSER`,
`RMD`, `CDN`, `BPWD`, `VIEWPRESET` and the chat server (`CHDOMAIN`, `CHPT`,
`CHATNO`, `FTK`), as in rust-srec's SOOP model tests and streamlink's, yt-dlp's
readers; off air `{"RESULT": 0, "BJNICK", "TITLE": ""}`, the geo stub
`{"geo_cc", "RESULT": 0, "GDPR": true}` and sign-in needed `{"RESULT": "-6"}` (a
string, as rust-srec's test has it); to `type=aid` `{"RESULT": 1, "AID"}`, or no
AID for a refused room password. `broad_stream_assign.html` answers `view_url`
(the room's stream) and `stream_status` (whose values no client reads). The
station API answers `RESULT` 1 with `DATA` (`user_id`, `user_nick`,
`station_name`, `station_title`, `broad_start` in Korean time), `RESULT` 0 for no
such account.

    api.room("example", extra={"bno": "281234567", "password": "1234"}).go_live(url)
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar
from urllib.parse import parse_qs

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

RMD = "https://livestream-manager.sooplive.com"
BROAD_START = "2026-01-02 20:30:00"  # Korean time
PRESETS = [
    {"label": "자동", "name": "auto"},
    {"label": "360p", "name": "sd"},
    {"label": "540p", "name": "hd"},
    {"label": "720p", "name": "hd4k"},
    {"label": "1440p", "name": "hd4000"},
    {"label": "1080p", "name": "original"},
]


class SoopApi(PlatformApi):
    name = "soop"
    hosts: ClassVar[tuple[str, ...]] = (
        "live.sooplive.com",
        "st.sooplive.com",
        "livestream-manager.sooplive.com",
    )

    def __init__(self) -> None:
        super().__init__()
        self.aids: dict[str, str] = {}  # AID → quality it was minted for
        self.assigned: list[tuple[str, str]] = []  # (return_type, broad_key)

    def _room(self, bjid: str) -> Room | None:
        room = self.rooms.get(bjid.lower())
        return None if room is None or room.state == "not_found" else room

    def answer(self, request: FakeRequest) -> Reply:
        if request.host == "st.sooplive.com":
            return self._station(request.arg("szBjId"))
        if request.host == "livestream-manager.sooplive.com":
            return self._assign(request)
        if request.path != "/afreeca/player_live_api.php" or request.method != "POST":
            return Reply.text("no such page", 404)
        form = {
            k: v[0]
            for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()
        }
        room = self._room(form.get("bid", ""))
        if form.get("type") == "aid":
            return Reply.json({"CHANNEL": self._aid(room, form)})
        return Reply.json({"CHANNEL": self._live(room)})

    def _live(self, room: Room | None) -> dict[str, Any]:
        if room is not None and room.state == "region_locked":
            return {"geo_cc": "ES", "RESULT": 0, "GDPR": True}
        if room is not None and room.state == "age_restricted":
            return {"RESULT": "-6"}
        if room is None or room.state != LIVE or room.stream_url is None:
            nick = room.author if room else ""
            return {"RESULT": 0, "BJNICK": nick, "TITLE": ""}
        bno = str(room.extra.get("bno", "281234567"))
        channel: dict[str, Any] = {
            "geo_cc": "KR", "RESULT": 1, "BNO": bno, "BJID": room.ref,
            "BJNICK": room.author, "TITLE": room.title, "CATE": "00130000",
            "CATEGORY_TAGS": [room.category], "CTUSER": room.extra.get("viewers", 1234),
            "RMD": RMD, "CDN": room.extra.get("cdn", "gs_cdn"),
            "BPWD": "Y" if room.extra.get("password") else "N",
            "VIEWPRESET": room.extra.get("presets", PRESETS),
            "CHDOMAIN": "chat-AABBCCDD.sooplive.com", "CHIP": "170.187.204.221",
            "CHPT": "8040", "CHATNO": "7604", "FTK": f"ftk-{bno}",
        }  # fmt: skip
        if self.malformed:
            del channel["RESULT"]
        return channel

    def _aid(self, room: Room | None, form: dict[str, str]) -> dict[str, Any]:
        if room is None or room.state != LIVE:
            return {"RESULT": 0}
        if room.extra.get("aid_sign_in"):  # 19+ from now on: the token is refused
            return {"RESULT": -6}
        password = room.extra.get("password")
        if password and form.get("pwd") != password:
            return {"RESULT": 0}  # the password room refuses: no AID
        aid = f".A32.{secrets.token_urlsafe(24)}"
        self.aids[aid] = form.get("quality", "")
        return {"RESULT": 1, "AID": aid}

    def _assign(self, request: FakeRequest) -> Reply:
        if request.path != "/broad_stream_assign.html":
            return Reply.text("no such page", 404)
        cdn, key = request.arg("return_type"), request.arg("broad_key")
        self.assigned.append((cdn, key))
        bno, _, rest = key.partition("-common-")
        room = next(
            (r for r in self.rooms.values() if str(r.extra.get("bno")) == bno), None
        )
        if room is None or room.stream_url is None or not rest.endswith("-hls"):
            return Reply.json({"stream_status": "STOP"})
        return Reply.json({"view_url": room.stream_url, "stream_status": "RUNNING"})

    def _station(self, bjid: str) -> Reply:
        room = self._room(bjid)
        if room is None:
            return Reply.json({"RESULT": 0})
        data = {
            "user_id": room.ref, "user_nick": room.author, "station_name": room.author,
            "station_title": room.extra.get("station_title", room.title),
            "broad_start": BROAD_START, "fan_cnt": 12345,
        }  # fmt: skip
        return Reply.json({"RESULT": 1, "DATA": data})

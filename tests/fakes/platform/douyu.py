"""Douyu's betard and v1 play API, answering as they do today.

Captured answers (rust-srec, MIT) with the room's values put in: betard from
`tests/resources/platforms/douyu/betard_live.json`, getH5PlayV1 from
`getH5Play.live.json` (the same `data` shape; the URL points at the room's
stream). Built from the shapes streamlink's and rust-srec's Douyu code reads:
getEncryption (`key`, `rand_str`, `enc_time`, `is_special`, `enc_data`,
`expire_at`), the play errors (`{"error": -5, "msg": "closeRoom", "data": ""}`,
-9 for a disputed clock, 126 for a region), an HTML page for a missing or closed
room, and the mobile page's `vike_pageContext` (`roomInfo.roomInfo.rid`, as
DouyinLiveRecorder reads it). The play request's `auth` is checked against the
issued key (HTTP 403 "鉴权失败" when wrong, as Douyu refuses a bad signature).

    api.room("4767111", extra={"alias": "pigff"}).go_live(flv_url)
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import time
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

RESOURCES = Path(__file__).parents[2] / "resources" / "platforms" / "douyu"
KEY_TTL_SECS = 3600
CLOCK_SLACK_SECS = 60
MISSING_PAGE = "<!DOCTYPE html><html><body>没有找到该房间，房间不存在</body></html>"  # noqa: RUF001
CLOSED_PAGE = "<!DOCTYPE html><html><body>该房间已被关闭</body></html>"


def _captured(name: str) -> Any:
    return json.loads((RESOURCES / name).read_text(encoding="utf-8"))


def _error(code: int, msg: str) -> Reply:
    return Reply.json({"error": code, "msg": msg, "data": ""})


def expected_auth(key: dict[str, Any], rid: str, tt: str) -> str:
    """The fake's own reading of the signature (see `_douyu_api`)."""
    secret = key["rand_str"]
    for _ in range(key["enc_time"]):
        secret = hashlib.md5((secret + key["key"]).encode()).hexdigest()
    salt = "" if key["is_special"] else rid + tt
    return hashlib.md5((secret + key["key"] + salt).encode()).hexdigest()


class DouyuApi(PlatformApi):
    name = "douyu"
    hosts: ClassVar[tuple[str, ...]] = ("www.douyu.com", "m.douyu.com")

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[str, dict[str, Any]] = {}  # did → the last key issued
        self.plays: list[dict[str, str]] = []  # the accepted play forms
        self.disputes = 0  # the next n play requests get "your clock is off" (-9)

    def rotate_keys(self) -> None:
        """Forget every issued key, as Douyu does when they expire early."""
        self.keys.clear()

    def _find(self, ref: str) -> Room | None:
        room = self.rooms.get(ref)
        return None if room is None or room.state == "not_found" else room

    def answer(self, request: FakeRequest) -> Reply:
        path = request.path
        if request.host == "m.douyu.com":
            return self._mobile(path.strip("/"))
        if path.startswith("/betard/"):
            return self._betard(path.removeprefix("/betard/"))
        if path == "/wgapi/livenc/liveweb/websec/getEncryption":
            return self._encryption(request.arg("did"))
        if path.startswith("/lapi/live/getH5PlayV1/") and request.method == "POST":
            form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
            return self._play(path.rsplit("/", 1)[-1], form)
        return Reply.text("no such page", 404)

    def _mobile(self, name: str) -> Reply:
        room = next(
            (r for r in self.rooms.values() if r.extra.get("alias") == name), None
        )
        if room is None:
            return Reply.text("<html>404</html>", 404, "text/html")
        context = {"pageProps": {"room": {"roomInfo": {"roomInfo": {
            "rid": int(room.ref), "roomName": room.title, "nickname": room.author,
        }}}}}  # fmt: skip
        page = (
            '<html><script id="vike_pageContext" type="application/json">'
            f"{json.dumps(context, ensure_ascii=False, separators=(',', ':'))}"
            "</script></html>"
        )
        return Reply.text(page, content_type="text/html")

    def _betard(self, rid: str) -> Reply:
        room = self._find(rid)
        if room is None:
            return Reply.text(MISSING_PAGE, content_type="text/html")
        if room.state == "banned":
            return Reply.text(CLOSED_PAGE, content_type="text/html")
        body = _captured("betard_live.json")
        data = body["room"]
        live = room.state == LIVE
        data.update(
            room_id=int(rid), room_name=room.title, owner_name=room.author,
            nickname=room.author, second_lvl_name=room.category,
            show_status=1 if live else 2, videoLoop=int(room.extra.get("loop", 0)),
            is_password=int(room.state == "private"),
        )  # fmt: skip
        if self.malformed:
            del data["show_status"]
        return Reply.json(body)

    def _encryption(self, did: str) -> Reply:
        key = {
            "rand_str": secrets.token_hex(8), "enc_time": 3,
            "key": secrets.token_hex(16), "is_special": 0,
            "enc_data": secrets.token_urlsafe(24),
            "expire_at": int(time.time()) + KEY_TTL_SECS,
        }  # fmt: skip
        self.keys[did] = key
        return Reply.json({"error": 0, "msg": "ok", "data": key})

    def _play(self, rid: str, form: dict[str, str]) -> Reply:
        key = self.keys.get(form.get("did", ""))
        if key is None or form.get("auth") != expected_auth(key, rid, form["tt"]):
            return Reply.text('"鉴权失败"', 403)
        if self.disputes or abs(int(form["tt"]) - time.time()) > CLOCK_SLACK_SECS:
            self.disputes = max(0, self.disputes - 1)
            return _error(-9, "room_bus_checksevertime")
        room = self._find(rid)
        if room is None or room.state != LIVE or room.stream_url is None:
            return _error(-5, "closeRoom")
        if room.extra.get("region_locked"):
            return _error(126, "版权原因，该地域不允许播放")  # noqa: RUF001
        self.plays.append(form)
        body = _captured("getH5Play.live.json")
        data = body["data"]
        parts = urlsplit(room.stream_url)
        base, _, file = parts.path.rpartition("/")
        query = f"?{parts.query}" if parts.query else ""
        data.update(
            room_id=int(rid), rtmp_url=f"{parts.scheme}://{parts.netloc}{base}",
            rtmp_live=file + query, rtmp_cdn=form.get("cdn") or "hw-h5",
            rate=int(form.get("rate", "0")),
        )  # fmt: skip
        hevc = room.extra.get("hevc_url")
        data["player_1"] = hevc if hevc and form.get("hevc") == "1" else ""
        data["multirates"] = copy.deepcopy(
            [
                {"name": "原画1080P60", "rate": 0, "highBit": 1, "bit": 8487},
                {"name": "蓝光4M", "rate": 4, "highBit": 0, "bit": 4000},
            ]
        )
        return Reply.json(body)

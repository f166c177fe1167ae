"""Huya's mini-program API and room pages, answering as they do today.

The profileRoom answer starts from the real captured answer in
`tests/resources/platforms/huya/huya_live.json` (rust-srec, MIT) with the room's
values put in: its CDN copies keep their names and order of preference and point
at the room's stream, signed with an anti-code in the captured shape (the fake's
own `wsSecret`; the real server's inputs are unknown). The room page carries the
captured `TT_ROOM_DATA` (`huya_room_data_live.json`). Not captured, built from the
shapes rust-srec's Huya extractor reads: offline (`liveStatus`/`realLiveStatus`
OFF, `stream` null), a missing room (status 422, "该主播不存在", `data` an empty
list), the page of a missing room ("找不到这个主播") and of a banned one.

    api.room("660000", title=..., extra={"alias": "lpl", "uid": 1346609715})
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

RESOURCES = Path(__file__).parents[2] / "resources" / "platforms" / "huya"
FM = "RFdxOEJjSjNoNkRKdDZUWV8kMF8kMV8kMl8kMw%3D%3D"  # the captured template
URL_TTL_SECS = 86400
NOT_FOUND_PAGE = "<html><title>虎牙直播</title><p>找不到这个主播</p></html>"
BANNED_PAGE = "<html><p>该主播涉嫌违规，正在整改中</p></html>"  # noqa: RUF001


def _captured(name: str) -> Any:
    return json.loads((RESOURCES / name).read_text(encoding="utf-8"))


class HuyaApi(PlatformApi):
    name = "huya"
    hosts: ClassVar[tuple[str, ...]] = ("mp.huya.com", "www.huya.com", "m.huya.com")

    def _find(self, ref: str) -> Room | None:
        for room in self.rooms.values():
            if ref in (room.ref, room.extra.get("alias")) and room.state != "not_found":
                return room
        return None

    def answer(self, request: FakeRequest) -> Reply:
        if request.host == "mp.huya.com":
            if request.path != "/cache.php" or request.arg("do") != "profileRoom":
                return Reply.text("no such page", 404)
            return self._profile_room(request.arg("roomid"))
        return self._page(request.path.strip("/"))

    def _page(self, name: str) -> Reply:
        room = next(
            (r for r in self.rooms.values() if name in (r.ref, r.extra.get("alias"))),
            None,
        )
        if room is None or room.state == "not_found":
            return Reply.text(NOT_FOUND_PAGE, content_type="text/html")
        if room.state == "banned":
            return Reply.text(BANNED_PAGE, content_type="text/html")
        data = _captured("huya_room_data_live.json")
        live = room.state == LIVE
        data.update(
            profileRoom=int(room.ref), introduction=room.title, isOn=live,
            isOff=not live, state="ON" if live else "OFF",
        )  # fmt: skip
        profile = {"lp": self._uid(room), "nick": room.author, "profileRoom": room.ref}
        page = (
            "<html><script>var TT_ROOM_DATA = "
            f"{json.dumps(data, ensure_ascii=False)};var TT_PROFILE_INFO = "
            f"{json.dumps(profile, ensure_ascii=False)};</script></html>"
        )
        return Reply.text(page, content_type="text/html")

    def _uid(self, room: Room) -> int:
        return int(room.extra.get("uid", 1000 + int(room.ref)))

    def _profile_room(self, number: str) -> Reply:
        room = self._find(number)
        if room is None or not number.isdigit():
            message = "该主播不存在！"  # noqa: RUF001 - the platform's own words
            return Reply.json({"status": 422, "message": message, "data": []})
        body = _captured("huya_live.json")
        data = body["data"]
        uid = self._uid(room)
        data["profileInfo"].update(uid=uid, nick=room.author, profileRoom=int(room.ref))
        data["liveData"].update(
            introduction=room.title, roomName=room.title, gameFullName=room.category,
            nick=room.author, uid=uid, profileRoom=int(room.ref),
        )  # fmt: skip
        data.update(chTopId=uid, subChId=uid)
        live = room.state == LIVE and room.stream_url is not None
        data["liveStatus"] = data["realLiveStatus"] = "ON" if live else "OFF"
        if live:
            assert room.stream_url is not None
            data["stream"] = self._stream(data["stream"], room, uid)
        else:
            data["stream"] = None
        if self.malformed:
            del data["liveStatus"]
        return Reply.json(body)

    def _stream(self, captured: dict[str, Any], room: Room, uid: int) -> dict[str, Any]:
        """The captured CDN copies, each pointing at the room's stream."""
        assert room.stream_url is not None
        parts = urlsplit(room.stream_url)
        base, _, file = parts.path.rpartition("/")
        name = file.rsplit(".", 1)[0]
        if room.extra.get("imgplus"):
            name += "-imgplus"  # the transcoded copy's name; the source is without
        host = f"{parts.scheme}://{parts.netloc}{base}"
        ws_time = f"{int(time.time()) + URL_TTL_SECS:x}"
        secret = hashlib.md5(f"{name}_{ws_time}".encode()).hexdigest()
        code = f"wsSecret={secret}&wsTime={ws_time}&fm={FM}&ctype=tars_mp&fs=bgct&t=102"
        stream = copy.deepcopy(captured)
        for cdn in stream["baseSteamInfoList"]:
            cdn.update(
                sStreamName=name, sFlvUrl=host, sHlsUrl=host, lPresenterUid=uid,
                sFlvAntiCode=code, sHlsAntiCode=code, newCFlvAntiCode=code,
            )  # fmt: skip
        return stream

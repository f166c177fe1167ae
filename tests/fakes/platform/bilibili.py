"""Bilibili's live web API, served from the real captured answers.

Every answer starts from a captured response in `tests/resources/platforms/bilibili`
(room_init, get_status_info_by_uids, getRoomPlayInfo: bilibili-API-collect's
examples, CC BY-NC 4.0) with the room's values put in; the ones nothing captured
follow the documented shapes: `nav` (the anonymous answer that carries the WBI
keys), code 60004 for a missing room, HTTP 412 + code -412 when throttled. The
WBI signature of getRoomPlayInfo is checked (code -352, as Bilibili's risk control
answers, when it is wrong) with the documented key pair.

    api.room("23058", extra={"uid": 11153765, "short_id": 3}).go_live(flv_url)
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

RESOURCES = Path(__file__).parents[2] / "resources" / "platforms" / "bilibili"
# bilibili-API-collect's documented WBI example: the keys nav names, and their mixin
IMG_KEY = "7cd084941338484aae1ad9425b84077c"
SUB_KEY = "4932caff0ff746eab6f01bf08b70ac45"
MIXIN_KEY = "ea1db124af3c7062474693fa704f4ff8"
STREAM_TTL_SECS = 3600


def _captured(name: str) -> Any:
    return json.loads((RESOURCES / name).read_text(encoding="utf-8"))


def _error(code: int, message: str, status: int = 200) -> Reply:
    return Reply.json(
        {"code": code, "message": message, "ttl": 1, "data": None}, status
    )


def signed(query: dict[str, list[str]]) -> bool:
    """Whether a getRoomPlayInfo query carries a valid WBI signature."""
    params = {k: v[0] for k, v in query.items() if k != "w_rid"}
    text = "&".join(
        f"{quote(k, safe='')}={quote(params[k], safe='')}" for k in sorted(params)
    )
    return (
        query.get("w_rid", [""])[0]
        == hashlib.md5((text + MIXIN_KEY).encode()).hexdigest()
    )


class BilibiliApi(PlatformApi):
    name = "bilibili"
    hosts: ClassVar[tuple[str, ...]] = (
        "api.live.bilibili.com",
        "api.bilibili.com",
        "live.bilibili.com",
        "b23.tv",
    )

    def __init__(self) -> None:
        super().__init__()
        self.shares: dict[str, str] = {}
        self.signed_urls = 0
        self.stream_ttl_secs = STREAM_TTL_SECS  # the signed URLs' lifetime

    def share(self, code: str, ref: str) -> None:
        """`https://b23.tv/<code>` redirects to the room `ref`."""
        self.shares[code] = ref

    def _find(self, ref: str) -> Room | None:
        for room in self.rooms.values():
            if (
                ref in (room.ref, str(room.extra.get("short_id", "")))
                and room.state != "not_found"
            ):
                return room
        return None

    def _uid(self, room: Room) -> int:
        return int(room.extra.get("uid", 1000 + int(room.ref)))

    def throttled(self, request: FakeRequest) -> Reply:
        return _error(-412, "请求被拦截", status=412)

    def answer(self, request: FakeRequest) -> Reply:
        if request.host == "b23.tv":
            ref = self.shares.get(request.path.strip("/"))
            if ref is None:
                return Reply.text("not found", 404)
            location = f"https://live.bilibili.com/{ref}?share_source=copy_link"
            return Reply(302, b"", {"Location": location})
        routes = {
            "/room/v1/Room/room_init": self._room_init,
            "/room/v1/Room/get_status_info_by_uids": self._by_uids,
            "/xlive/web-room/v2/index/getRoomPlayInfo": self._play_info,
            "/x/web-interface/nav": self._nav,
            "/xlive/web-room/v1/index/getDanmuInfo": self._danmu_info,
        }
        handler = routes.get(request.path)
        return handler(request) if handler else Reply.text("no such page", 404)

    def _nav(self, request: FakeRequest) -> Reply:
        wbi = {
            "img_url": f"https://i0.hdslb.com/bfs/wbi/{IMG_KEY}.png",
            "sub_url": f"https://i0.hdslb.com/bfs/wbi/{SUB_KEY}.png",
        }
        data = {"isLogin": False, "wbi_img": wbi}
        return Reply.json(
            {"code": -101, "message": "账号未登录", "ttl": 1, "data": data}
        )

    def _danmu_info(self, request: FakeRequest) -> Reply:
        """getDanmuInfo in the shape bilibili-API-collect documents
        (docs/live/message_stream.md): a token and the chat hosts, WBI-signed."""
        if not signed(request.query):
            return _error(-352, "风控校验失败")
        room = self._find(request.arg("id"))
        if room is None:
            return _error(19002000, "获取初始化数据失败")
        hosts = [
            {"host": f"{name}.chat.bilibili.com", "port": 2243, "wss_port": 443,
             "ws_port": 2244}
            for name in ("tx-sh-live-comet-01", "broadcastlv")
        ]  # fmt: skip
        data = {
            "group": "live", "business_id": 0, "refresh_row_factor": 0.125,
            "refresh_rate": 100, "max_delay": 5000,
            "token": f"fake-danmu-token-{room.ref}", "host_list": hosts,
        }  # fmt: skip
        return Reply.json({"code": 0, "message": "0", "ttl": 1, "data": data})

    def _room_init(self, request: FakeRequest) -> Reply:
        room = self._find(request.arg("id"))
        if room is None:
            return Reply.json(
                {
                    "code": 60004,
                    "msg": "直播间不存在",
                    "message": "直播间不存在",
                    "data": {},
                }
            )
        body = _captured("room_init.live.json")
        data = body["data"]
        data.update(
            room_id=int(room.ref),
            short_id=int(room.extra.get("short_id", 0)),
            uid=self._uid(room),
            live_status=1 if room.state == LIVE else 0,
            live_time=int(room.extra.get("live_time", 1602151186))
            if room.state == LIVE
            else -62170012800,
            is_locked=room.state == "banned",
            lock_till=1924905600 if room.state == "banned" else 0,
            is_hidden=room.state == "hidden",
            encrypted=room.state == "private",
            pwd_verified=False,
        )
        if self.malformed:
            del data["live_status"]
        return Reply.json(body)

    def _by_uids(self, request: FakeRequest) -> Reply:
        asked = (
            request.json()["uids"]
            if request.method == "POST"
            else request.query.get("uids[]", [])
        )
        template = next(
            iter(_captured("get_status_info_by_uids.rotation.json")["data"].values())
        )
        data: dict[str, Any] = {}
        for room in self.rooms.values():
            uid = self._uid(room)
            if uid not in {int(u) for u in asked} or room.state == "not_found":
                continue
            entry = copy.deepcopy(template)
            entry.update(
                title=room.title, room_id=int(room.ref), uid=uid, uname=room.author,
                area_v2_name=room.category, live_status=1 if room.state == LIVE else 0,
                short_id=int(room.extra.get("short_id", 0)), online=1234,
            )  # fmt: skip
            data[str(uid)] = entry
        # Bilibili answers an empty map as a list
        return Reply.json(
            {"code": 0, "msg": "success", "message": "success", "data": data or []}
        )

    def _play_info(self, request: FakeRequest) -> Reply:
        if not signed(request.query):
            return _error(-352, "风控校验失败")
        room = self._find(request.arg("room_id"))
        if room is None:
            return _error(19002000, "获取初始化数据失败")
        body = _captured("getRoomPlayInfo.live.json")
        data = body["data"]
        data.update(room_id=int(room.ref), uid=self._uid(room))
        if room.state != LIVE or room.stream_url is None:
            data.update(live_status=0, playurl_info=None)
            return Reply.json(body)
        data["playurl_info"]["playurl"]["stream"] = [self._stream(room.stream_url)]
        return Reply.json(body)

    def _stream(self, url: str) -> dict[str, Any]:
        """The one stream of the room, in getRoomPlayInfo's shape."""
        parts = urlsplit(url)
        flv = parts.path.endswith(".flv")
        expires = int(time.time()) + self.stream_ttl_secs
        self.signed_urls += 1  # every answer signs a new URL
        trid = f"{self.signed_urls:032x}"
        extra = f"expires={expires}&len=0&qn=10000&trid={trid}&cdn=fake01&order=1"
        codec = {
            "codec_name": "avc",
            "current_qn": 10000,
            "accept_qn": [10000],
            "base_url": parts.path + "?",
            "url_info": [
                {
                    "host": f"{parts.scheme}://{parts.netloc}",
                    "extra": extra,
                    "stream_ttl": self.stream_ttl_secs,
                }
            ],
            "hdr_qn": None,
            "dolby_type": 0,
            "attr_name": "",
        }
        return {
            "protocol_name": "http_stream" if flv else "http_hls",
            "format": [{"format_name": "flv" if flv else "ts", "codec": [codec]}],
        }

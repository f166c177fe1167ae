"""Douyin's live web API, served from the real captured answers.

`webcast/room/web/enter` answers start from the captured responses in
`tests/resources/platforms/douyin/` (rust-srec's test data, MIT): the live one
(`status` 2, the stream list) with the room's title, streamer and its one real
stream put in every quality, and the ended one (`status` 4). Not captured, built in
the shapes the public extractors read: a missing room (the same envelope with no
streamer and no room, what rust-srec reports as "User data not available"), a room
hidden from the viewer (the "你不在主播设置的可见范围内" prompt rust-srec and
DouyinLiveRecorder check), a closed account ("账号已注销" with the default avatar),
risk control (HTTP 200 with an empty body, as both note), `reflow/info`
(`data.room.owner.web_rid`, DouyinLiveRecorder) and the visitor `ttwid`
(`ttwid/union/register`, a Set-Cookie: rust-srec reads nothing else).

Requests without a ttwid cookie or without a well-formed `a_bogus` get the risk
control answer. The signature is read back independently of srec's signer: base64
with Douyin's alphabet, RC4 with the key "y", its first byte, the window string, and
(where OpenSSL offers SM3) the two bytes of SM3(SM3(query + "cus")) it must carry.

    api.room("745964462470", extra={"room_id": "7522819524010625833"}).go_live(url)
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

RESOURCES = Path(__file__).parents[2] / "resources" / "platforms" / "douyin"
ALPHABET = "Dkdpgh2ZmsQB80/MfvV36XI1R45-WUAlEixNLwoqYTOPuzKFjJnry79HbGcaStCe"
STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
WINDOW = b"1920|1080|1920|1040|0|30|0|0|1872|92|1920|1040|1857|92|1|24|Win32"
TTWID = "1%7Cfake-visitor%7C1751545220%7C18aac967e501e9d6"
STREAM_TTL_SECS = 7 * 24 * 3600
DEFAULT_ROOM_ID = "7522819524010625833"


def captured(name: str) -> dict[str, Any]:
    """A fresh copy of a captured answer."""
    return copy.deepcopy(json.loads((RESOURCES / name).read_text(encoding="utf-8")))


def _rc4(key: bytes, data: bytes) -> bytes:
    s, j = list(range(256)), 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def signed(request: FakeRequest) -> bool:
    """Whether the request carries an a_bogus that signs its own query."""
    value = request.arg("a_bogus")
    if not value.endswith("="):
        return False
    plain = value.rstrip("=").translate(str.maketrans(ALPHABET, STANDARD))
    try:
        raw = base64.b64decode(plain + "=" * (-len(plain) % 4))
    except ValueError:
        return False
    body = _rc4(b"y", raw[12:])
    if len(body) != 44 + len(WINDOW) + 1 or body[0] != 44 or WINDOW not in body:
        return False
    if "sm3" not in hashlib.algorithms_available:
        return True
    query = urlencode([(k, v[0]) for k, v in request.query.items() if k != "a_bogus"])
    inner = hashlib.new("sm3", (query + "cus").encode()).digest()
    twice = hashlib.new("sm3", inner).digest()
    return (body[7], body[18]) == (twice[21], twice[22])


class DouyinApi(PlatformApi):
    name = "douyin"
    hosts: ClassVar[tuple[str, ...]] = (
        "live.douyin.com",
        "ttwid.bytedance.com",
        "v.douyin.com",
        "webcast.amemv.com",
    )

    def __init__(self) -> None:
        super().__init__()
        self.shares: dict[str, str] = {}
        self.risk_control = True  # throttle as Douyin does; False: HTTP 429

    def share(self, code: str, ref: str) -> None:
        """`https://v.douyin.com/<code>/` redirects to the share page of room `ref`."""
        self.shares[code] = ref

    def throttled(self, request: FakeRequest) -> Reply:
        if not self.risk_control:
            return super().throttled(request)
        return Reply(200, b"", {"Content-Type": "application/json"})

    def answer(self, request: FakeRequest) -> Reply:
        if request.host == "ttwid.bytedance.com":
            cookie = f"ttwid={TTWID}; Path=/; Domain=bytedance.com; Max-Age=31536000"
            reply = Reply.json({"status_code": 0})
            reply.headers["Set-Cookie"] = cookie
            return reply
        if request.host == "v.douyin.com":
            return self._share(request.path.strip("/"))
        if "ttwid=" not in request.headers.get("Cookie", "") or not signed(request):
            return Reply(200, b"", {"Content-Type": "application/json"})
        if request.path == "/webcast/room/web/enter/":
            return self._enter(request.arg("web_rid"))
        if request.path == "/webcast/room/reflow/info/":
            return self._reflow(request.arg("room_id"))
        return Reply.text("no such page", 404)

    def _room(self, ref: str) -> Room | None:
        room = self.rooms.get(ref)
        return room if room is not None and room.state != "not_found" else None

    def _share(self, code: str) -> Reply:
        room = self._room(self.shares.get(code, ""))
        if room is None:
            return Reply(302, b"", {"Location": "https://www.douyin.com/"})
        location = (
            "https://webcast.amemv.com/douyin/webcast/reflow/"
            f"{room.extra.get('room_id', DEFAULT_ROOM_ID)}?u_code=0&did=1"
            f"&sec_user_id={room.extra.get('sec_uid', 'MS4wLjABAAAA')}&iid=2"
        )
        return Reply(302, b"", {"Location": location})

    def _reflow(self, room_id: str) -> Reply:
        for room in self.rooms.values():
            if str(room.extra.get("room_id", DEFAULT_ROOM_ID)) == room_id:
                owner = {"web_rid": room.ref, "nickname": room.author}
                data = {"id_str": room_id, "status": 2 if room.state == LIVE else 4}
                body = {"room": data | {"owner": owner}}
                return Reply.json({"data": body, "status_code": 0})
        return Reply.json({"data": {"room": None}, "status_code": 0})

    def _enter(self, ref: str) -> Reply:
        room = self._room(ref)
        if room is None:
            body = captured("douyin_offline.json")
            body["data"].update(data=[], enter_room_id="", user=None)
            return Reply.json(body)
        if room.state == LIVE and room.stream_url:
            body = self._live(room, room.stream_url)
        else:
            body = captured("douyin_offline.json")
            body["data"]["data"][0]["title"] = room.title
            body["data"]["user"]["nickname"] = room.author
        data = body["data"]
        data["enter_room_id"] = data["data"][0]["id_str"] = str(
            room.extra.get("room_id", DEFAULT_ROOM_ID)
        )
        if room.state == "private":
            data.update(prompts="你不在主播设置的可见范围内", data=[])
        if room.state == "banned":
            data["user"].update(nickname="账号已注销")
            data["user"]["avatar_thumb"]["url_list"] = [
                "https://p3.douyinpic.com/aweme/100x100/aweme_default_avatar.png.jpeg"
            ]
        if self.malformed and data["data"]:
            del data["data"][0]["status"]
        return Reply.json(body)

    def _live(self, room: Room, stream: str) -> dict[str, Any]:
        """The captured live answer, every quality pointing at the room's stream."""
        body = captured("douyin_live.json")
        live = body["data"]["data"][0]
        live["title"] = room.title
        body["data"]["user"]["nickname"] = room.author
        joiner = "&" if "?" in stream else "?"
        expire = int(time.time()) + STREAM_TTL_SECS
        link = f"{stream}{joiner}expire={expire}&sign=fake"
        flv = stream.split("?", 1)[0].endswith(".flv")
        urls = live["stream_url"]
        pull = urls["live_core_sdk_data"]["pull_data"]
        data = json.loads(pull["stream_data"])
        for key, entry in data["data"].items():
            entry["main"]["flv"] = link if flv else ""
            entry["main"]["hls"] = "" if flv or key == "ao" else link
        pull["stream_data"] = json.dumps(data)
        for name in urls["flv_pull_url"]:
            urls["flv_pull_url"][name] = link if flv else ""
        for name in urls["hls_pull_url_map"]:
            urls["hls_pull_url_map"][name] = "" if flv else link
        return body

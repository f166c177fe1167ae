"""Xiaohongshu's live room page, in the shape it is served today (nothing captured).

The page carries `<script>window.__INITIAL_STATE__=…</script>`, a JavaScript object
with bare `undefined` values. Its `liveStream` is shaped as rust-srec's redbook
models and tests read it (`pageStatus`, `liveStatus`, `errorMessage`, `roomData.
hostInfo.{nickName, avatar}`, `roomData.roomInfo.{roomTitle, roomCover, deeplink,
pullConfig}`), `liveStatus` "success" or "end" and `pullConfig` a JSON string of
`h264`/`h265` lists of `{master_url, quality_type, quality_type_name}` as a
published TypeScript model of the page has it, the deeplink's `host_nickname` and
`flvUrl` parameters as DouyinLiveRecorder reads them. Not public, so made up here:
the `errorMessage` of a missing room and the captcha page's path
(`/website-login/captcha`) that suspicious clients are redirected to.

    api.room("569443549099268368", author="小红薯").go_live(flv_url)
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import quote

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

PAGE = (
    "<!doctype html><html><head><title>小红书直播</title></head><body>"
    '<div id="app"></div><script>window.__INITIAL_STATE__={state}</script>'
    "</body></html>"
)
CAPTCHA = "https://www.xiaohongshu.com/website-login/captcha?redirectPath=x"


class RedbookApi(PlatformApi):
    name = "redbook"
    hosts: ClassVar[tuple[str, ...]] = ("www.xiaohongshu.com", "xhslink.com")

    def __init__(self) -> None:
        super().__init__()
        self.shares: dict[str, str] = {}

    def share(self, code: str, ref: str) -> None:
        """`https://xhslink.com/m/<code>` redirects to room `ref`."""
        self.shares[code] = ref

    def throttled(self, request: FakeRequest) -> Reply:
        return Reply(302, b"", {"Location": CAPTCHA})

    def answer(self, request: FakeRequest) -> Reply:
        if request.host == "xhslink.com":
            ref = self.shares.get(request.path.rsplit("/", 1)[-1])
            if ref is None:
                return Reply(302, b"", {"Location": "https://www.xiaohongshu.com/"})
            location = (
                f"https://www.xiaohongshu.com/hina/livestream/{ref}?timestamp=1"
                "&share_source=&source=share_out_of_app&host_id=6509435d0000000017"
            )
            return Reply(302, b"", {"Location": location})
        if request.path.startswith("/website-login/"):
            return Reply.text("<html>请验证</html>", 200, "text/html")
        if request.path.startswith("/hina/livestream/"):
            room = self.rooms.get(request.path.rsplit("/", 1)[-1])
            return Reply.text(PAGE.format(state=self._state(room)), 200, "text/html")
        return Reply.text("no such page", 404)

    def _state(self, room: Room | None) -> str:
        if room is None or room.state == "not_found":
            stream: dict[str, Any] = {
                "pageStatus": "fail", "liveStatus": "fail",
                "errorMessage": "直播间不存在", "roomData": {},
            }  # fmt: skip
        else:
            stream = {
                "pageStatus": "success",
                "liveStatus": "success" if room.state == LIVE else "end",
                "errorMessage": "",
                "roomData": self._room_data(room),
            }
        if self.malformed:
            del stream["liveStatus"]
        state = json.dumps(
            {"global": {"appSettings": {}}, "liveStream": stream},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        # the page is JavaScript: absent values are written `undefined`
        return state.replace('"__undefined__"', "undefined")

    def _room_data(self, room: Room) -> dict[str, Any]:
        stream = room.stream_url or ""
        flv = stream.split("?", 1)[0].endswith(".flv")
        h264 = [
            {"master_url": stream, "quality_type": "HD", "quality_type_name": "原画"}
        ]
        h265 = [
            {"master_url": stream, "quality_type": "HD", "quality_type_name": "原画"}
        ]
        config = {"width": 720, "height": 1280, "h264": h264, "h265": h265}
        deeplink = (
            f"xhsdiscover://live?room_id={room.ref}&host_nickname="
            f"{quote(room.author)}&flvUrl={quote(stream if flv else '', safe='')}"
        )
        info: dict[str, Any] = {
            "roomId": room.ref, "roomTitle": room.title,
            "roomCover": "https://ci.xiaohongshu.com/cover.jpg", "deeplink": deeplink,
            "pullConfig": json.dumps(config) if room.stream_url else "__undefined__",
        }  # fmt: skip
        if room.extra.get("no_pull_config"):
            info["pullConfig"] = "__undefined__"
        host = {
            "nickName": room.author, "userId": "6509435d0000000017023f36",
            "avatar": "https://sns-avatar-qc.xhscdn.com/avatar/a.jpg",
        }  # fmt: skip
        return {"hostInfo": host, "roomInfo": info}

"""Weibo's web API for live broadcasts, in the shapes it answers today (none captured).

`ajax/statuses/mymblog`: `{"ok": 1, "data": {"list": [post, …]}}`, a live post's
`page_info` `{"object_type": "live", "object_id": "1022:…"}` (rust-srec,
DouyinLiveRecorder). `l/pc/anchor/live`: `{"code", "error_code", "msg", "result",
"data": {"item": {…, "status", "desc", "cover", "stream_info": {"pull":
{"live_origin_flv_url", "live_origin_hls_url"}}}, "scheme", "user_info": {…}}}`,
the fields of rust-srec's `WeiboLiveInfo`; a missing broadcast is error_code
non-zero with "LiveRoom does not exists!" (rust-srec). The guest handshake as
yt-dlp's `WeiboBaseIE` performs it: a request without a session is redirected to
`passport.weibo.com/visitor/visitor`; `visitor/genvisitor` answers JSONP with a
`tid`, `visitor/visitor?a=incarnate` sets `SUB` (and carries `sub`/`subp` in its
JSONP). Throttled: HTTP 418, Weibo's widely reported anti-crawler answer. Not
public, so made up: the unknown user's `msg`.

    api.room("6034381748", extra={"live_id": "1022:2321325026370190442592"})
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import quote

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

SUB = "_2AkMRNMCwf8NxqwFRmfwWymPrbI9-fake"
SUBP = "0033WrSXqPxfM72-Ws9jqgMF55529P9D9Wfake"
TID = "fake-tid+visitor/=="
DEFAULT_LIVE_ID = "1022:2321325026370190442592"


class WeiboApi(PlatformApi):
    name = "weibo"
    hosts: ClassVar[tuple[str, ...]] = ("weibo.com", "passport.weibo.com")

    def throttled(self, request: FakeRequest) -> Reply:
        return Reply.text("<html>418 I'm a teapot</html>", 418, "text/html")

    def answer(self, request: FakeRequest) -> Reply:
        if request.host == "passport.weibo.com":
            return self._passport(request)
        if "SUB=" not in request.headers.get("Cookie", ""):
            target = quote(f"https://weibo.com{request.path}", safe="")
            location = (
                "https://passport.weibo.com/visitor/visitor?entry=miniblog&a=enter"
                f"&url={target}&domain=weibo.com"
            )
            return Reply(302, b"", {"Location": location})
        if request.path == "/ajax/statuses/mymblog":
            return self._posts(request.arg("uid"))
        if request.path == "/l/pc/anchor/live":
            return self._live(request.arg("live_id"))
        return Reply.text("no such page", 404)

    def _passport(self, request: FakeRequest) -> Reply:
        if request.path == "/visitor/genvisitor" and request.method == "POST":
            data = {"tid": TID, "new_tid": True, "confidence": 95}
            body = {"retcode": 20000000, "msg": "succ", "data": data}
            return Reply.text(
                f"window.gen_callback && gen_callback({json.dumps(body)});"
            )
        if request.path == "/visitor/visitor" and request.arg("a") == "incarnate":
            if request.arg("t") != TID:
                return Reply.text('cross_domain({"retcode":50000000,"data":{}});')
            body = {
                "retcode": 20000000,
                "msg": "succ",
                "data": {"sub": SUB, "subp": SUBP},
            }
            reply = Reply.text(
                f"window.cross_domain && cross_domain({json.dumps(body)});"
            )
            reply.headers["Set-Cookie"] = f"SUB={SUB}; path=/; domain=.weibo.com"
            return reply
        return Reply.text("<html>Sina Visitor System</html>", 200, "text/html")

    def _live_id(self, room: Room) -> str:
        return str(room.extra.get("live_id", DEFAULT_LIVE_ID))

    def _posts(self, uid: str) -> Reply:
        room = self.rooms.get(uid)
        if room is None or room.state == "not_found":
            return Reply.json({"ok": 0, "msg": "用户不存在"})
        posts: list[dict[str, Any]] = [
            {"id": 5012345678901234, "text_raw": "今天天气不错", "page_info": None}
        ]
        if room.state == LIVE or room.extra.get("live_post"):
            info = {"object_type": "live", "object_id": self._live_id(room),
                    "page_title": room.title}  # fmt: skip
            posts.append({"id": 5012345678901235, "page_info": info})
        return Reply.json(
            {"ok": 1, "data": {"since_id": "", "list": posts, "total": 2}}
        )

    def _live(self, live_id: str) -> Reply:
        room = next(
            (r for r in self.rooms.values() if self._live_id(r) == live_id), None
        )
        if room is None or room.state == "not_found":
            body = {
                "code": 100001, "error_code": 100001, "result": False, "data": None,
                "msg": "LiveRoom does not exists!",
            }  # fmt: skip
            return Reply.json(body)
        stream = room.stream_url or ""
        flv = stream.split("?", 1)[0].endswith(".flv")
        # Weibo's pull URLs are its transcode: `<id>_wb720.<ext>?<auth>`
        stem, _, ext = stream.split("?", 1)[0].rpartition(".")
        transcode = f"{stem}_wb720.{ext}?auth_key=1700000000-0-0-fake" if stem else ""
        item = {
            "anchor_uid": int(room.ref), "live_id": live_id, "mid": "5012345678901235",
            "status": 1 if room.state == LIVE else 3, "desc": room.title,
            "cover": "https://wx1.sinaimg.cn/large/cover.jpg", "live_type": 0,
            "stream_info": {"pull": {
                "live_origin_flv_url": transcode if flv else "",
                "live_origin_hls_url": "" if flv else transcode,
            }},
            "watch_limit_info": {"free_time": 0, "pay_coin": 0, "type": 0},
        }  # fmt: skip
        if self.malformed:
            del item["status"]
        user = {
            "screen_name": room.author, "name": room.author, "uid": int(room.ref),
            "profile_image_url": "https://tvax1.sinaimg.cn/crop/avatar.jpg",
        }  # fmt: skip
        data = {"item": item, "scheme": "sinaweibo://", "user_info": user}
        return Reply.json(
            {"code": 0, "error_code": 0, "msg": "", "result": True, "data": data}
        )

"""AcFun's live web API and Kuaishou's play service, answering as they do today.

Captured answers (rust-srec, MIT) with the room's values put in: the visitor login
(`tests/resources/platforms/acfun/visitor_login.json`, a fresh token each time)
and startPlay (`startPlay.live.json`: `caption`, `liveStartTime` and
`videoPlayRes`, whose representations point at the room's stream with an
`auth_key` that starts with its expiry). Built from the shapes DouyinLiveRecorder
and acfunsdk read: the profile (`result` 0, `profile.name`/`headUrl`, `liveId`
only while live). No source documents the answers for a missing user or a room
that is not live; the fake answers a non-zero `result` (for startPlay: not 1),
which is all the module reads. startPlay refuses a visitor token it did not issue.

    api.room("179922", title=..., author=...).go_live(flv_url)
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

RESOURCES = Path(__file__).parents[2] / "resources" / "platforms" / "acfun"
URL_TTL_SECS = 3600
LIVE_START_MS = 1754396590405  # the captured start


def _captured(name: str) -> Any:
    return json.loads((RESOURCES / name).read_text(encoding="utf-8"))


class AcfunApi(PlatformApi):
    name = "acfun"
    hosts: ClassVar[tuple[str, ...]] = (
        "live.acfun.cn",
        "id.app.acfun.cn",
        "api.kuaishouzt.com",
    )

    def __init__(self) -> None:
        super().__init__()
        self.visitors: dict[str, str] = {}  # userId → the token issued

    def _find(self, uid: str) -> Room | None:
        room = self.rooms.get(uid)
        return None if room is None or room.state == "not_found" else room

    def answer(self, request: FakeRequest) -> Reply:
        if request.path == "/rest/pc-direct/user/userInfo":
            return self._user_info(request.arg("userId"))
        if request.path == "/rest/app/visitor/login" and request.method == "POST":
            return self._visitor(request)
        if request.path == "/rest/zt/live/web/startPlay" and request.method == "POST":
            return self._start_play(request)
        return Reply.text("no such page", 404)

    def _user_info(self, uid: str) -> Reply:
        room = self._find(uid)
        if room is None:
            return Reply.json({"result": 1, "error_msg": "用户不存在"})
        profile: dict[str, Any] = {
            "userId": int(uid), "name": room.author,
            "headUrl": f"https://imgs.aixifan.com/{uid}.jpg", "followed": "0",
        }  # fmt: skip
        if room.state == LIVE:
            profile["liveId"] = f"live{uid}"
        body = {"result": 0, "profile": profile}
        if self.malformed:
            del body["result"]
        return Reply.json(body)

    def _visitor(self, request: FakeRequest) -> Reply:
        form = parse_qs(request.body.decode())
        if form.get("sid") != ["acfun.api.visitor"]:
            return Reply.json({"result": 100, "error_msg": "sid missing"})
        body = _captured("visitor_login.json")
        token = secrets.token_urlsafe(32)
        self.visitors[str(body["userId"])] = token
        body["acfun.api.visitor_st"] = token
        return Reply.json(body)

    def _start_play(self, request: FakeRequest) -> Reply:
        if self.visitors.get(request.arg("userId")) != request.arg(
            "acfun.api.visitor_st"
        ):
            return Reply.json({"result": 10, "error_msg": "visitor token invalid"})
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        room = self._find(form.get("authorId", ""))
        if room is None or room.state != LIVE or room.stream_url is None:
            # any result but 1 (the code itself is not documented)
            return Reply.json({"result": 2, "error_msg": "live stream not exist"})
        body = _captured("startPlay.live.json")
        data = body["data"]
        res = json.loads(data["videoPlayRes"])
        deadline = int(time.time()) + URL_TTL_SECS
        for rep in res["liveAdaptiveManifest"][0]["adaptationSet"]["representation"]:
            sign = secrets.token_hex(16)
            rep["url"] = f"{room.stream_url}?auth_key={deadline}-0-0-{sign}&oidc=alihb"
        data.update(
            caption=room.title, videoPlayRes=json.dumps(res, ensure_ascii=False)
        )
        return Reply.json(body)

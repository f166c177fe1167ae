"""PandaTV's (pandalive.co.kr's) web API, answering as it does today.

Nothing of PandaTV was captured; every answer is built in the shapes the public
clients read. `v1/member/bj`: `result`, `message` (`유저 정보가 없습니다.` for no such
user, HTTP 200), `bjInfo` (`id`, `idx`, `nick`, `thumbUrl`, `channelTitle`,
`channelDesc`, `isBJ`, `playTime`, `fanCnt`) and, on air, `media` (rust-srec's
`PandaTvBjResponse`, the captured-answer client's reader). `v1/live/play`: `media`
(rust-srec's `PandaTvLiveMedia` fields, `startTime` as yt-dlp reads it),
`PlayList` (`size`, `hls`, `hls2`, `hls3`: [{`name`, `sort`, `url`}]),
`chatServer`, `result`, `message`; a refusal is HTTP 400 with `result` false and
`errorData.code` (yt-dlp's codes: `castEnd`, `needAdult`, `needPw`, `wrongPw`).

    api.room("example", extra={"idx": 25488714, "password": "1234"}).go_live(url)
    room.extra["adult"] = True     # a 19+ room: needs a signed-in viewer's cookies
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qs

from tests.fakes.platform.base import LIVE, FakeRequest, PlatformApi, Reply, Room

START_TIME = "2026-01-02 20:30:00"


class PandaTvApi(PlatformApi):
    name = "pandatv"
    hosts: ClassVar[tuple[str, ...]] = ("api.pandalive.co.kr",)

    def answer(self, request: FakeRequest) -> Reply:
        if request.method != "POST":
            return Reply.json({"result": False, "message": "잘못된 요청"}, 405)
        form = {
            k: v[0]
            for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()
        }
        room = self.rooms.get(form.get("userId", ""))
        if room is not None and room.state == "not_found":
            room = None
        if request.path == "/v1/member/bj":
            return self._member(room)
        if request.path == "/v1/live/play":
            return self._play(room, form, request.headers.get("Cookie", ""))
        return Reply.json({"result": False, "message": "잘못된 요청"}, 404)

    def _media(self, room: Room) -> dict[str, Any]:
        return {
            "code": f"{room.ref}-live", "title": room.title, "userId": room.ref,
            "userIdx": _idx(room), "userNick": room.author,
            "category": room.category, "isAdult": bool(room.extra.get("adult")),
            "isPw": bool(room.extra.get("password")), "type": "live",
            "heart": 0, "user": room.extra.get("viewers", 321), "userLimit": 0,
            "startTime": START_TIME, "endTime": "", "isLive": True,
            "onAirType": "normal", "liveType": "normal", "playCnt": 5000,
            "likeCnt": 77, "bookmarkCnt": 10, "fanCnt": 99,
            "thumbUrl": f"https://cdn.pandalive.co.kr/ivs/v1/{room.ref}/thumb.jpg",
            "userImg": f"https://cdn.pandalive.co.kr/member/{room.ref}.jpg",
            "ivsThumbnail": f"https://cdn.pandalive.co.kr/ivs/v1/{room.ref}/t.jpg",
        }  # fmt: skip

    def _member(self, room: Room | None) -> Reply:
        if room is None:
            return Reply.json({"result": False, "message": "유저 정보가 없습니다."})
        body: dict[str, Any] = {
            "result": True, "message": "",
            "bjInfo": {
                "id": room.ref, "idx": _idx(room), "nick": room.author,
                "thumbUrl": f"https://cdn.pandalive.co.kr/member/{room.ref}.jpg",
                "channelTitle": room.extra.get("channel_title", ""),
                "channelDesc": "", "isBJ": "Y", "fanCnt": 99,
                "playTime": {"monthTime": 0, "totalTime": 0, "month": "", "total": ""},
            },
        }  # fmt: skip
        if room.state == LIVE and room.stream_url is not None:
            body["media"] = self._media(room)
        if self.malformed:
            del body["bjInfo"]["id"]
        return Reply.json(body)

    def _play(self, room: Room | None, form: dict[str, str], cookie: str) -> Reply:
        ended = room is None or room.state != LIVE or room.extra.get("cast_end")
        if ended or room is None or room.stream_url is None:
            return _refusal("castEnd", "방송이 종료되었습니다.")
        password = room.extra.get("password")
        if password and not form.get("password"):
            return _refusal("needPw", "비밀번호를 입력해주세요.")
        if password and form.get("password") != password:
            return _refusal("wrongPw", "비밀번호가 일치하지 않습니다.")
        if room.extra.get("adult") and "sessKey=" not in cookie:
            return _refusal("needAdult", "성인인증이 필요합니다.")
        url = room.stream_url
        entry = {"name": room.extra.get("playlist_name", "원본"), "sort": 0}
        return Reply.json(
            {
                "token": "fake-token", "html5": True, "media": self._media(room),
                "PlayList": {
                    "size": {"width": 1920, "height": 1080},
                    "hls": [entry | {"url": url}],
                    "hls2": [entry | {"url": f"{url}?edge=2"}],
                    "hls3": [entry | {"url": url}],  # the same as hls: once
                },
                "chatServer": {
                    "url": "wss://chat.pandalive.co.kr", "t": 1, "token": "x",
                },
                "result": True, "message": "",
            }
        )  # fmt: skip


def _refusal(code: str, message: str) -> Reply:
    return Reply.json(
        {"result": False, "message": message, "errorData": {"code": code}}, 400
    )


def _idx(room: Room) -> int:
    return int(room.extra.get("idx", 25000000 + len(room.ref)))

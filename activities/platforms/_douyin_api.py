"""Douyin's answers as pydantic models, and the requests' fixed parts.

Private to `activities.platforms.douyin` (no `__extractor__`). The shapes are those
of the captured `webcast/room/web/enter` answers (tests/resources/platforms/douyin/,
live and ended) and of `webcast/room/reflow/info` as DouyinLiveRecorder reads it
(`data.room.owner.web_rid`). Field names are Douyin's.
"""

from __future__ import annotations

import secrets
import string
import time

from pydantic import BaseModel, Field

from activities.platforms._bytedance import StreamUrl
from activities.platforms.web import BROWSER_UA

LIVE_SITE = "https://live.douyin.com"
ENTER_URL = f"{LIVE_SITE}/webcast/room/web/enter/"
REFLOW_URL = "https://webcast.amemv.com/webcast/room/reflow/info/"
TTWID_URL = "https://ttwid.bytedance.com/ttwid/union/register/"
TTWID_BODY = {
    "region": "cn", "aid": 6383, "needFid": False, "service": "https://www.douyin.com",
    "union": True, "fid": "",
}  # fmt: skip
WS_HOSTS = (
    "wss://webcast100-ws-web-lq.douyin.com",
    "wss://webcast100-ws-web-hl.douyin.com",
    "wss://webcast100-ws-web-lf.douyin.com",
)
WS_PATH = "/webcast/im/push/v2/"
WS_VERSION = "180800"
WS_SDK_VERSION = "1.0.15"
PROMPT_ENDED = "直播已结束"  # "the broadcast has ended"
PROMPT_HIDDEN = "你不在主播设置的可见范围内"  # "you are outside who may watch"
CLOSED_NAME = "账号已注销"  # "account closed"
DEFAULT_AVATAR = "aweme_default_avatar.png"
BROWSER_VERSION = BROWSER_UA.split("Chrome/", 1)[1].split(" ", 1)[0]
HEADERS = {"User-Agent": BROWSER_UA, "Referer": f"{LIVE_SITE}/"}


class Image(BaseModel):
    url_list: list[str] = Field(default_factory=list)


class User(BaseModel):
    id_str: str = ""
    sec_uid: str = ""
    nickname: str = ""
    avatar_thumb: Image | None = None

    @property
    def closed(self) -> bool:
        """The account was closed: Douyin renames it and gives it the default face."""
        avatar = self.avatar_thumb.url_list[:1] if self.avatar_thumb else []
        return self.nickname == CLOSED_NAME and any(DEFAULT_AVATAR in a for a in avatar)


class ViewStats(BaseModel):
    display_value: int | None = None


class Room(BaseModel):
    id_str: str
    status: int  # 2 live, 4 ended
    title: str = ""
    cover: Image | None = None
    stream_url: StreamUrl | None = None
    room_view_stats: ViewStats | None = None


class EnterData(BaseModel):
    data: list[Room] = Field(default_factory=list)
    user: User | None = None
    enter_room_id: str = ""
    prompts: str = ""
    message: str = ""


class EnterReply(BaseModel):
    status_code: int = 0
    data: EnterData | None = None


class Owner(BaseModel):
    web_rid: str = ""


class ReflowRoom(BaseModel):
    owner: Owner | None = None


class ReflowData(BaseModel):
    room: ReflowRoom | None = None
    prompts: str = ""
    message: str = ""


class ReflowReply(BaseModel):
    status_code: int = 0
    data: ReflowData | None = None


def enter_params(web_rid: str) -> dict[str, str]:
    """The web room page's query for `webcast/room/web/enter` (signed after)."""
    return {
        "aid": "6383", "app_name": "douyin_web", "live_id": "1",
        "device_platform": "web", "language": "zh-CN", "enter_from": "web_live",
        "cookie_enabled": "true", "screen_width": "1920", "screen_height": "1080",
        "browser_language": "zh-CN", "browser_platform": "Win32",
        "browser_name": "Chrome", "browser_version": BROWSER_VERSION,
        "web_rid": web_rid,
    }  # fmt: skip


def reflow_params(room_id: str, sec_user_id: str) -> dict[str, str]:
    """The mobile share page's query for `webcast/room/reflow/info`."""
    return {
        "type_id": "0", "live_id": "1", "room_id": room_id,
        "sec_user_id": sec_user_id, "version_code": "99.99.99", "app_id": "1128",
        "verifyFp": verify_fp(),
    }  # fmt: skip


def ws_params(room_id: str, user_id: str) -> dict[str, str]:
    """The chat websocket's query; `signature` is X-Bogus of `ws_signed(...)`."""
    return {
        "app_name": "douyin_web", "version_code": WS_VERSION,
        "webcast_sdk_version": WS_SDK_VERSION, "update_version_code": WS_SDK_VERSION,
        "compress": "gzip", "device_platform": "web", "cookie_enabled": "true",
        "browser_language": "zh-CN", "browser_platform": "Win32",
        "browser_name": "Mozilla", "browser_version": BROWSER_UA.split("/", 1)[1],
        "browser_online": "true", "tz_name": "Asia/Shanghai",
        "host": LIVE_SITE, "aid": "6383", "live_id": "1", "did_rule": "3",
        "endpoint": "live_pc", "support_wrds": "1", "user_unique_id": user_id,
        "im_path": "/webcast/im/fetch/", "identity": "audience",
        "need_persist_msg_count": "15", "room_id": room_id, "heartbeatDuration": "0",
    }  # fmt: skip


def ws_signed(room_id: str, user_id: str) -> str:
    """The parameter string the web page hands to its signer for the websocket."""
    return (
        f"live_id=1,aid=6383,version_code={WS_VERSION},"
        f"webcast_sdk_version={WS_SDK_VERSION},room_id={room_id},sub_room_id=,"
        f"sub_channel_id=,did_rule=3,user_unique_id={user_id},device_platform=web,"
        "device_type=,ac=,identity=audience"
    )


def user_unique_id() -> str:
    """A guest's id, in the range the web page draws it from."""
    return str(7_300_000_000_000_000_000 + secrets.randbelow(700_000_000_000_000_000))


def verify_fp() -> str:
    """`verify_<ms in base 36>_<uuid-like>`, the web's device fingerprint id."""
    digits, stamp, ms = string.digits + string.ascii_lowercase, "", time.time_ns()
    ms //= 1_000_000
    while ms:
        ms, rest = divmod(ms, 36)
        stamp = digits[rest] + stamp
    chars = string.digits + string.ascii_letters
    uid = [secrets.choice(chars) for _ in range(36)]
    for i in (8, 13, 18, 23):
        uid[i] = "_"
    uid[14] = "4"
    return f"verify_{stamp}_{''.join(uid)}"

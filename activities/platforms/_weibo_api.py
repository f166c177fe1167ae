"""Weibo's live answers as pydantic models, and the small readers of its answers.

Private to `activities.platforms.weibo` (no `__extractor__`). Shapes: the posts of
`ajax/statuses/mymblog` (`data.list[].page_info`, as rust-srec and
DouyinLiveRecorder read them), `l/pc/anchor/live` (rust-srec's `WeiboLiveInfo`),
and the passport's JSONP answers (yt-dlp's `WeiboBaseIE`).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field

from activities.contracts import LiveOutcome
from activities.platforms.base import Outcome

_JSONP = re.compile(r"\((\{.*\})\)", re.S)


class PageInfo(BaseModel):
    object_type: str = ""
    object_id: str = ""


class Post(BaseModel):
    page_info: PageInfo | None = None


class Posts(BaseModel):
    list: list[Post]


class PostsReply(BaseModel):
    ok: int
    msg: str = ""
    data: Posts | None = None


class Pull(BaseModel):
    live_origin_flv_url: str = ""
    live_origin_hls_url: str = ""


class PullInfo(BaseModel):
    pull: Pull


class Item(BaseModel):
    status: int  # 1 live
    desc: str = ""
    cover: str = ""
    stream_info: PullInfo | None = None


class UserInfo(BaseModel):
    screen_name: str = ""
    profile_image_url: str = ""


class Live(BaseModel):
    item: Item
    user_info: UserInfo = Field(default_factory=UserInfo)


class LiveReply(BaseModel):
    error_code: int = 0
    msg: str = ""
    data: Live | None = None


def jsonp(text: str, what: str) -> dict[str, str]:
    """The `data` of a JSONP answer (`cb({"retcode": …, "data": {…}})`)."""
    found = _JSONP.search(text)
    try:
        data: Any = json.loads(found.group(1))["data"] if found else None
    except (ValueError, KeyError):
        data = None
    if not isinstance(data, dict):
        raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: unexpected {text[:80]!r}")
    return {str(k): str(v) for k, v in data.items()}


def source_of(url: str) -> str:
    """The pull URL without its transcode suffix and query: the source stream."""
    parts = urlsplit(url)
    folder, _, name = parts.path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    base = stem.split("_", 1)[0] if dot else name
    return urlunsplit((parts.scheme, parts.netloc, f"{folder}/{base}.{ext}", "", ""))

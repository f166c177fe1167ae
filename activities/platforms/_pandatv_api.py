"""PandaTV's (pandalive.co.kr's) answers as pydantic models, and their readers,
for `activities.platforms.pandatv`.

Nothing of PandaTV was captured; the shapes are those the public clients read
today. `v1/member/bj` (form `userId`, `info=media fanGrade`) answers `result`,
`message` (`유저 정보가 없습니다` for no such user), `bjInfo` (`id`, `idx`, `nick`,
`thumbUrl`, `channelTitle`) and, while on air, `media` (`title`, `userId`,
`userNick`, `isAdult`, `isPw`, `isLive`, `thumbUrl`, `userImg`). `v1/live/play`
(form `action=watch`, `userId`, `password`) answers `result`, `media` (the same,
with `category`, `user` the viewers, `startTime`), `PlayList` (`hls`, `hls2`,
`hls3`: [{`name`, `sort`, `url`}], Amazon IVS master playlists) and `chatServer`,
or, with HTTP 400, `errorData.code` (`castEnd`, `needAdult`, `needLogin`, `needPw`,
`wrongPw`, `needCoinPurchase`, `needUnlimitItem`, …). Sources: streamlink's
`pandalive` plugin, yt-dlp's `PandaTvIE`, rust-srec's `pandatv` models,
DouyinLiveRecorder, and a client that replays captured answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from pydantic import BaseModel, Field

from activities.contracts import LiveOutcome, StreamInfo, StreamKind

NO_SUCH_USER = "유저 정보가 없습니다"
KST = timezone(timedelta(hours=9))
# the alternatives the answer lists, in the order streamlink, yt-dlp and rust-srec
# use them (all of them take `hls` first)
PLAYLISTS = ("hls", "hls2", "hls3")
# live/play refusals → what they mean for a recorder
REFUSALS = {
    "castEnd": LiveOutcome.OFFLINE,
    "needAdult": LiveOutcome.AGE_RESTRICTED,
    "needLogin": LiveOutcome.PRIVATE,
    "needPw": LiveOutcome.PRIVATE,
    "needPassword": LiveOutcome.PRIVATE,
    "wrongPw": LiveOutcome.PRIVATE,
    "needCoinPurchase": LiveOutcome.PRIVATE,
    "needUnlimitItem": LiveOutcome.PRIVATE,
}


class BjInfo(BaseModel):
    """`bjInfo`: the broadcaster."""

    id: str
    idx: int | None = None
    nick: str = ""
    avatar: str = Field(default="", alias="thumbUrl")
    channel_title: str = Field(default="", alias="channelTitle")


class Media(BaseModel):
    """`media`: the broadcast on air."""

    title: str = ""
    user_id: str = Field(default="", alias="userId")
    nick: str = Field(default="", alias="userNick")
    is_live: bool = Field(alias="isLive")
    is_adult: bool = Field(default=False, alias="isAdult")
    is_password: bool = Field(default=False, alias="isPw")
    cover: str = Field(default="", alias="thumbUrl")
    avatar: str = Field(default="", alias="userImg")
    category: str = ""
    viewers: int | None = Field(default=None, alias="user")
    start_time: str | int | None = Field(default=None, alias="startTime")

    @property
    def started_at(self) -> datetime | None:
        """`startTime`: epoch seconds (rust-srec) or `YYYY-MM-DD HH:MM:SS` (yt-dlp),
        the latter in Korean time, the site's."""
        value = str(self.start_time or "").strip()
        if value.isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        try:
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=KST)
        except ValueError:
            return None


class Member(BaseModel):
    """A `v1/member/bj` answer."""

    result: bool
    message: str = ""
    bj: BjInfo | None = Field(default=None, alias="bjInfo")
    media: Media | None = None


class Entry(BaseModel):
    name: str = ""
    sort: int = 0
    url: str


class PlayList(BaseModel):
    hls: list[Entry] = Field(default_factory=list)
    hls2: list[Entry] = Field(default_factory=list)
    hls3: list[Entry] = Field(default_factory=list)


class ErrorData(BaseModel):
    code: str = ""


class Play(BaseModel):
    """A `v1/live/play` answer."""

    result: bool
    message: str = ""
    media: Media | None = None
    playlist: PlayList | None = Field(default=None, alias="PlayList")
    error: ErrorData | None = Field(default=None, alias="errorData")


def streams_of(playlist: PlayList, headers: dict[str, str]) -> list[StreamInfo]:
    """Every playlist on offer, `hls` first; each is a master playlist whose
    variants the engine ranks, so its name is the answer's (or `auto`)."""
    found: list[StreamInfo] = []
    seen: set[str] = set()
    for key in PLAYLISTS:
        for entry in sorted(getattr(playlist, key), key=lambda e: e.sort):
            if entry.url and entry.url not in seen:
                seen.add(entry.url)
                found.append(
                    StreamInfo(
                        url=entry.url, kind=StreamKind.HLS,
                        quality=entry.name or "auto", cdn=key, headers=headers,
                    )
                )  # fmt: skip
    return found

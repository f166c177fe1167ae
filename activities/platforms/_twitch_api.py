"""Twitch's answers as pydantic models, and the small rules that read them.

Private to `activities.platforms.twitch` (no `__extractor__`): the GQL persisted
queries the web player sends today, the shapes of their answers, the playback
token's claims and usher's refusals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, RootModel, ValidationError

from activities.contracts import LiveOutcome, LiveStatus
from activities.platforms.base import Outcome, answer

GQL_URL = "https://gql.twitch.tv/gql"
USHER_URL = "https://usher.ttvnw.net/api/channel/hls/{login}.m3u8"
IRC_URL = "wss://irc-ws.chat.twitch.tv:443"
# the web player's public client id; GQL answers no other anonymous client
CLIENT_ID = "kimne78kx3ncx6brgo4mv6wki5h1ko"
CHANNEL_SHELL = "fea4573a7bf2644f5b3f2cbbdcbee0d17312e48d2e55f080589d053aad353f11"
STREAM_METADATA = "b57f9b910f8cd1a4659d894fe7550ccc81ec9052c01e438b290fd66a040b9b93"
ACCESS_TOKEN = "ed230aa1e33e07eebb8928504583da78a5173989fadfb1ac94be06a04f3cdbe9"
BANNED_REASONS = frozenset({"TOS_INDEFINITE", "TOS_TEMPORARY", "DMCA"})
D = TypeVar("D", bound=BaseModel)


class Game(BaseModel):
    name: str = ""


class Stream(BaseModel):
    id: str
    type: str | None = None
    createdAt: datetime | None = None
    viewersCount: int | None = None
    game: Game | None = None


class ViewerEdge(BaseModel):
    isAuthorized: bool = True
    restrictionType: str | None = None


class ShellChannel(BaseModel):
    viewer: ViewerEdge | None = Field(default=None, alias="self")


class ShellUser(BaseModel):
    typename: str = Field(alias="__typename")
    login: str = ""
    displayName: str = ""
    profileImageURL: str = ""
    stream: Stream | None = None
    channel: ShellChannel | None = None
    reason: str = ""  # UserDoesNotExist only


class Broadcast(BaseModel):
    title: str | None = None


class MetaUser(BaseModel):
    profileImageURL: str = ""
    lastBroadcast: Broadcast | None = None
    stream: Stream | None = None


class Error(BaseModel):
    message: str = ""


class Reply(BaseModel, Generic[D]):
    """One GQL operation's answer: `data`, or `errors` (then data is null)."""

    data: D | None = None
    errors: list[Error] = Field(default_factory=list)


class ShellData(BaseModel):
    userOrError: ShellUser | None


class MetaData(BaseModel):
    user: MetaUser | None


class Token(BaseModel):
    value: str
    signature: str


class TokenData(BaseModel):
    streamPlaybackAccessToken: Token | None


class CheckReply(RootModel[tuple[Reply[ShellData], Reply[MetaData]]]):
    pass


class BatchReply(RootModel[list[Reply[MetaData]]]):
    pass


class TokenValue(BaseModel):
    expires: int | None = None
    geoblock_reason: str = ""


class UsherError(BaseModel):
    error: str = ""
    error_code: str = ""


class UsherErrors(RootModel[list[UsherError]]):
    pass


def query(operation: str, sha256: str, **variables: Any) -> dict[str, Any]:
    """One persisted GQL query, as the web player sends it."""
    return {
        "operationName": operation,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}},
        "variables": variables,
    }


def failed(reply: Reply[Any], what: str) -> None:
    """Raise the first GQL error of `reply` as an `unavailable` outcome."""
    if reply.errors:
        raise Outcome(LiveOutcome.UNAVAILABLE, f"{what}: {reply.errors[0].message}")


def status_of(user: MetaUser | None, **fields: Any) -> LiveStatus:
    """The status StreamMetadata describes."""
    if user is None:
        return answer(LiveOutcome.NOT_FOUND, "no such user")
    stream = user.stream
    fields["title"] = (user.lastBroadcast and user.lastBroadcast.title) or ""
    fields.setdefault("avatar_url", user.profileImageURL)
    if stream is None:
        return answer(LiveOutcome.OFFLINE, **fields)
    fields.update(
        category=stream.game.name if stream.game else "",
        viewers=stream.viewersCount,
        started_at=stream.createdAt,
    )
    if stream.type != "live":
        return answer(LiveOutcome.OFFLINE, f"a {stream.type} is showing", **fields)
    return answer(LiveOutcome.LIVE, **fields)


def usher_refusal(body: bytes, status: int) -> Outcome:
    """usher's 403 says why: a geo-block, or a channel for subscribers only."""
    try:
        errors = UsherErrors.model_validate_json(body).root
    except ValidationError:
        errors = []
    code = errors[0].error_code if errors else ""
    detail = errors[0].error if errors else f"HTTP {status}"
    if code == "content_geoblocked":
        return Outcome(LiveOutcome.REGION_LOCKED, detail)
    if code in {"unauthorized_entitlements", "vod_manifest_restricted"}:
        return Outcome(LiveOutcome.PRIVATE, detail)
    return Outcome(LiveOutcome.UNAVAILABLE, f"twitch usher: {detail}")

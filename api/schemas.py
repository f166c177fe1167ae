"""Request and response models of the API.

`XCreate`/`XUpdate`/`XPublic` derive from the `XBase` models in `activities.db`;
validation lives here because table models do not validate on construction.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlmodel import Field as SQLField

from activities.config import parse_stored
from activities.contracts import (
    MAX_ID,
    LiveOutcome,
    Priority,
    StreamInfo,
    StreamKind,
    StreamSelection,
)
from activities.db import SegmentBase, StreamerBase, StreamSessionBase
from api.schemas_base import ConfigOverrides
from api.schemas_danmu import SegmentDanmu
from api.settings import MIN_PASSWORD_LENGTH

T = TypeVar("T")

NAME_MAX_LENGTH = 100
URL_MAX_LENGTH = 2048
TOKEN_MAX_LENGTH = 4096
# C0 controls and DEL: a NUL is refused by Postgres, and names become file names
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _printable(value: str | None) -> str | None:
    if value is not None and _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


class Page(BaseModel, Generic[T]):
    """One page of a list: the items and the total number of matches."""

    items: list[T]
    total: int = Field(description="Number of matching items over all pages")


TEMPLATE_ID_DESCRIPTION = (
    "The configuration template the streamer uses (its id, 1 to 2^63-1)"
)


class StreamerCreate(StreamerBase):
    """Body of `POST /api/streamers`."""

    name: str = SQLField(min_length=1, max_length=NAME_MAX_LENGTH)
    url: str = SQLField(min_length=1, max_length=URL_MAX_LENGTH)
    priority: Priority | None = Field(
        default=None,
        description="Shorthand for `settings.priority` (omitted: inherited)",
    )
    enabled: bool = True
    template_id: int | None = SQLField(
        default=None, ge=1, le=MAX_ID, description=TEMPLATE_ID_DESCRIPTION
    )
    settings: ConfigOverrides = SQLField(  # type: ignore[assignment]
        default_factory=ConfigOverrides,
        description="Configuration fields set for this streamer; the rest come "
        "from its template, its platform and the global level",
    )

    _strip_text = field_validator("name", "url", mode="before")(_strip)
    _no_controls = field_validator("name", "url")(_printable)


def _no_null_defaults(schema: dict[str, Any]) -> None:
    # an omitted field keeps its value; null is refused, so the spec shows no
    # null default that a client (or a fuzzer) would take as valid input
    for prop in schema.get("properties", {}).values():
        if prop.get("default", ...) is None:
            del prop["default"]


class StreamerUpdate(StreamerBase):
    """Body of `PATCH /api/streamers/{id}`; only the fields sent change.

    Fields are typed without null (the spec says so) but default to None in
    Python, which marks them omitted.
    """

    # pydantic reads this once, at class creation: not shared mutable state
    model_config = {"json_schema_extra": _no_null_defaults}  # noqa: RUF012

    name: str = SQLField(default=None, min_length=1, max_length=NAME_MAX_LENGTH)
    url: str = SQLField(default=None, min_length=1, max_length=URL_MAX_LENGTH)
    priority: Priority = Field(
        default=None,  # type: ignore[assignment]
        description="Shorthand for `settings.priority`",
    )
    enabled: bool = None  # type: ignore[assignment]
    template_id: int | None = SQLField(
        default=None,
        ge=1,
        le=MAX_ID,
        description=f"{TEMPLATE_ID_DESCRIPTION}; null: none",
    )
    settings: ConfigOverrides = SQLField(  # type: ignore[assignment]
        default=None,
        description="Merged into the stored settings: a field sent replaces the "
        "stored one, a field sent as null is inherited again, others stay",
    )
    platform_options: dict[str, Any] | None = SQLField(  # type: ignore[assignment]
        default=None,
        description="Merged into the stored options: a field sent replaces the "
        "stored one, a field sent as null is removed, others stay",
    )

    _strip_text = field_validator("name", "url", mode="before")(_strip)
    _no_controls = field_validator("name", "url")(_printable)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            # a null template_id means "no template"
            nulls = sorted(
                str(k) for k, v in data.items() if v is None and k != "template_id"
            )
            if nulls:
                raise ValueError(
                    f"fields may be omitted but not null: {', '.join(nulls)}"
                )
        return data


class StreamerPublic(StreamerBase):
    """A streamer as the API shows it."""

    id: int
    platform: str
    channel: str | None = Field(
        default=None, description="The streamer's id on the platform, from the URL"
    )
    state: str
    last_error: str | None = Field(
        default=None,
        description="Why the last live check failed or found the stream unreachable "
        "(HTTP 404, connection refused, …); null once a check succeeds",
    )
    last_error_at: datetime | None = Field(
        default=None, description="When `last_error` was first seen"
    )
    state_reason: str | None = Field(
        default=None,
        description="Why the streamer is in `state`: the filter that fails "
        "(OUT_OF_SCHEDULE), the platform's answer (FATAL_ERROR, NOT_FOUND), the "
        "backoff's end (TEMPORAL_DISABLED), the write gate (OUT_OF_SPACE)",
    )
    title: str | None = Field(
        default=None,
        description="The stream's title as the last clean live check found it "
        "(live or offline; kept when a check says none)",
    )
    category: str | None = Field(default=None, description="Its game or area")
    avatar_url: str | None = Field(
        default=None,
        description="The channel's picture on the platform (an http(s) address; "
        "load it without a Referer: some platforms refuse other sites' pages)",
    )
    profile_at: datetime | None = Field(
        default=None, description="When the title, category or avatar last changed"
    )
    created_at: datetime
    updated_at: datetime
    priority: Priority = Field(
        default=Priority.NORMAL,
        description="The effective priority (its own, its template's, …); "
        "`GET /api/streamers/{id}/config` says where every value comes from",
    )
    settings: ConfigOverrides = SQLField(  # type: ignore[assignment]
        default_factory=ConfigOverrides,
        description="Configuration fields set for this streamer (the streamer "
        "level); the others are inherited",
    )

    @field_validator("settings", mode="before")
    @classmethod
    def _stored_settings(cls, value: Any) -> Any:
        # a row edited by hand must not make the streamer unreadable
        return parse_stored(value) if isinstance(value, dict) else value


class SessionPublic(StreamSessionBase):
    """One recorded broadcast; `end_time` is null while it is recorded.

    `total_size_bytes` and `duration_secs` sum its closed segments while it is
    live, and all of them once it ended.
    """

    id: int
    start_time: datetime
    end_time: datetime | None
    total_size_bytes: int
    duration_secs: float = SQLField(description="Media seconds in its segments")


class SegmentPublic(SegmentBase):
    """One file of a session; `completed_at` is null while it is written."""

    created_at: datetime
    completed_at: datetime | None
    persisted_at: datetime | None
    danmu: SegmentDanmu | None = Field(
        default=None, description="Its danmu file, when the session's chat is recorded"
    )


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=TOKEN_MAX_LENGTH)


class ChangePasswordRequest(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=1024,
        description=f"At least {MIN_PASSWORD_LENGTH} characters",
    )


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


class ErrorDetail(BaseModel):
    """Why a request was refused."""

    detail: str = Field(description="The reason")


class FieldError(BaseModel):
    """One invalid part of a request."""

    loc: list[str | int] = Field(description="Where: body, query or path, then names")
    msg: str
    type: str


class ValidationFailed(BaseModel):
    """A request that does not validate: per field, or one reason for the whole."""

    detail: list[FieldError] | str


class StreamerRef(BaseModel):
    """Names a streamer another one conflicts with."""

    id: int
    name: str


class Conflict(ErrorDetail):
    """The request conflicts with the current state or another streamer."""

    streamer: StreamerRef | None = Field(
        default=None, description="The other streamer that holds the name or URL"
    )


class ComponentHealth(BaseModel):
    """The state of one dependency of the API."""

    status: Literal["ok", "down"]
    detail: str | None = Field(default=None, description="Why it is down")
    pollers: int | None = Field(
        default=None, description="Workers polling, for task queues"
    )


class DegradedRoot(BaseModel):
    """An output root the write gate holds closed: recordings there wait."""

    path: str
    since: datetime = Field(description="When the incident began")
    error: str | None = Field(default=None, description="The last failure seen")
    rejected: int = Field(default=0, description="Recording attempts refused so far")


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="degraded while a component is down or an output root is"
    )
    components: dict[str, ComponentHealth]
    degraded_roots: list[DegradedRoot] = Field(default_factory=list)


# --- platforms ----------------------------------------------------------------------


class ParseRequest(BaseModel):
    """Body of `POST /api/parse` and `/api/parse/resolve`."""

    url: str = Field(min_length=1, max_length=URL_MAX_LENGTH)
    selection: StreamSelection | None = Field(
        default=None, description="Which stream `resolve` should rank first"
    )

    _strip_url = field_validator("url", mode="before")(_strip)


class ChannelPublic(BaseModel):
    """A URL as its platform reads it."""

    url: str
    platform: str = Field(description="The platform stored with the streamer")
    extractor: str = Field(description="Who answers: the platform, or streamlink")
    matcher: str = Field(description="Which URL shape matched (live, mobile, share…)")
    reference: str | None = Field(
        description="The streamer's id on the platform (room id, login); null when "
        "the URL does not say (a share link)"
    )


class StatusPublic(BaseModel):
    """What the live check found."""

    outcome: LiveOutcome
    fatal: bool = Field(description="Polling again will not change it")
    detail: str = ""
    retry_after_secs: float | None = None
    title: str = ""
    author: str = ""
    category: str = ""
    avatar_url: str = ""
    cover_url: str = ""
    viewers: int | None = None
    started_at: datetime | None = None


class StreamPublic(BaseModel):
    """One stream on offer, without its (signed) URL."""

    kind: StreamKind
    quality: str
    bitrate_bps: int
    codec: str
    cdn: str
    container: str
    expires_at: datetime | None


class ParseResult(BaseModel):
    """`POST /api/parse`: platform, reference, live status and streams on offer."""

    channel: ChannelPublic
    status: StatusPublic
    streams: list[StreamPublic]


class ResolveResult(BaseModel):
    """`POST /api/parse/resolve`: playable URLs, the best (by `selection`) first."""

    channel: ChannelPublic
    status: StatusPublic
    streams: list[StreamInfo] = Field(
        description="URLs with the headers the CDN needs; signed ones expire"
    )

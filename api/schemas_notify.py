"""Request and response models of `/api/notifications`.

A channel's `config` is validated by its kind's model (`activities.notify`) in the
route, so a 422 names the field and the rule but never echoes a secret back.
Secrets are write-only: responses list which are set (`secrets`), never a value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    model_validator,
)
from sqlmodel import Field as SQLField

from activities.contracts import MAX_ID
from activities.db import NotifyChannelBase
from activities.events import EventType
from activities.notify import KINDS, check_template

ChannelKindName = Literal[
    "discord", "email", "webhook", "telegram", "gotify", "apprise"
]
assert set(ChannelKindName.__args__) == set(KINDS)  # type: ignore[attr-defined]

NAME_MAX_LENGTH = 100
SCOPE_MAX = 100
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _plain_text(value: str) -> str:
    value = value.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("control characters are not allowed")
    return value


def _template(value: str) -> str:
    if "\0" in value:
        raise ValueError("NUL characters are not allowed")
    return check_template(value)


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError) as err:
        raise ValueError("datetime out of range") from err


Name = Annotated[
    str, Field(min_length=1, max_length=NAME_MAX_LENGTH), AfterValidator(_plain_text)
]
TitleTemplate = Annotated[str, Field(max_length=256), AfterValidator(_template)]
BodyTemplate = Annotated[str, Field(max_length=2000), AfterValidator(_template)]
Priority = Annotated[int, Field(ge=0, le=10)]


def _iso_only(value: Any) -> Any:
    """An ISO 8601 text only: pydantic would also read `0.5` as a Unix time."""
    if isinstance(value, str) and not value.strip()[:4].isdigit():
        raise ValueError("expected an ISO 8601 date-time with a time zone")
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        raise ValueError("expected an ISO 8601 date-time, not a number")
    if isinstance(value, int | float):
        raise ValueError("expected an ISO 8601 date-time, not a number")
    return value


UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_utc)]


class ChannelCreate(NotifyChannelBase):
    """Body of `POST /api/notifications/channels`."""

    name: Name
    kind: ChannelKindName
    enabled: bool = True
    min_priority: Priority = 0
    streamer_ids: list[Id] = SQLField(
        default_factory=list,
        max_length=SCOPE_MAX,
        description="Only these streamers' events; empty = every event (global)",
    )
    title_template: TitleTemplate = "srec: {label}"
    body_template: BodyTemplate = "{summary}"
    config: dict[str, Any] = Field(
        description="The kind's settings (GET /api/notifications/channel-kinds)"
    )
    event_types: list[EventType] | None = Field(
        default=None, description="Subscriptions; omitted = every event type"
    )


class ChannelUpdate(BaseModel):
    """Body of `PATCH /api/notifications/channels/{id}`; only the fields sent change.

    `config` is merged into the stored settings: keys sent replace (a secret sent
    as null is cleared), keys not sent stay (secrets included).
    """

    name: Name | None = None
    enabled: bool | None = None
    min_priority: Priority | None = None
    streamer_ids: list[Id] | None = Field(default=None, max_length=SCOPE_MAX)
    title_template: TitleTemplate | None = None
    body_template: BodyTemplate | None = None
    config: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> ChannelUpdate:
        nulls = sorted(k for k in self.model_fields_set if getattr(self, k) is None)
        if nulls:
            raise ValueError(f"fields may be omitted but not null: {', '.join(nulls)}")
        return self


class BreakerPublic(BaseModel):
    state: Literal["closed", "open", "half-open"]
    failures: int = Field(description="Consecutive failed sends")
    open_until: datetime | None = None
    last_error: str | None = None


class ChannelPublic(NotifyChannelBase):
    """A channel as the API shows it: settings without their secrets."""

    id: int
    config: dict[str, Any] = Field(description="Settings, secrets left out")
    secrets: dict[str, bool] = Field(description="Which write-only secrets are set")
    event_types: list[str] = Field(description="Subscribed event types")
    breaker: BreakerPublic
    created_at: datetime
    updated_at: datetime


class Subscriptions(BaseModel):
    """A channel's subscriptions: the event types it receives."""

    event_types: list[EventType] = Field(max_length=len(EventType))


class ChannelTestResult(BaseModel):
    delivered: bool
    error: str | None = Field(default=None, description="Why it was not delivered")


class ChannelKindPublic(BaseModel):
    kind: str
    description: str
    secrets: list[str] = Field(description="Write-only fields")
    config_schema: dict[str, Any] = Field(description="JSON schema of `config`")


class EventTypePublic(BaseModel):
    type: EventType
    label: str
    priority: int
    priority_name: str
    description: str


class EventPublic(BaseModel):
    """One entry of the event log."""

    id: int
    key: str
    type: str
    priority: int
    streamer_id: int | None
    streamer_name: str
    session_id: int | None
    title: str
    summary: str
    subject: str
    detail: str
    created_at: datetime
    dispatched_at: datetime | None


class DeliveryPublic(BaseModel):
    id: int
    channel_id: int
    status: str = Field(description="pending | delivered | skipped | dead")
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class EventDetail(EventPublic):
    deliveries: list[DeliveryPublic]


class DeadLetterPublic(BaseModel):
    """A delivery that failed its last attempt; kept for the retention period."""

    id: int
    delivery_id: int
    event_id: int
    channel_id: int
    event_type: str
    payload: dict[str, Any] = Field(description="What would have been sent")
    error: str
    attempts: int
    created_at: datetime

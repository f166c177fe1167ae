"""The event model of notifications: names and models every layer shares.

An event is something a user may want to hear about (a stream went live, the disk is
full). It is recorded once, under an idempotency key derived from what caused it,
then delivered to every channel that subscribed to it (`activities.notify`).

Like `activities.contracts`, this module imports only pydantic and the standard
library: workflows, the API and the worker all depend on it.

Priorities use Gotify's 0-10 scale: low 2, normal 5, high 8, critical 10. A channel
with `min_priority` p receives events whose priority is at least p.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Annotated, NamedTuple

from pydantic import BaseModel, Field

from activities.contracts import MAX_ID

KEY_MAX_LENGTH = 255

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Level(IntEnum):
    """The named priorities; any integer 0-10 is a priority."""

    LOW = 2
    NORMAL = 5
    HIGH = 8
    CRITICAL = 10


def level_name(priority: int) -> str:
    """`low`, `normal`, `high` or `critical`: the highest level `priority` reaches.

    Anything below normal is `low`.
    """
    reached = [lv for lv in Level if priority >= lv]
    return reached[-1].name.lower() if reached else Level.LOW.name.lower()


class EventType(StrEnum):
    """Every kind of event srec records and delivers."""

    STREAM_ONLINE = "stream_online"
    STREAM_OFFLINE = "stream_offline"
    DOWNLOAD_STARTED = "download_started"
    DOWNLOAD_COMPLETED = "download_completed"
    DOWNLOAD_ERROR = "download_error"
    SEGMENT_COMPLETED = "segment_completed"
    DOWNLOAD_REJECTED = "download_rejected"
    OUT_OF_SPACE = "out_of_space"
    OUTPUT_PATH_INACCESSIBLE = "output_path_inaccessible"
    OUTPUT_PATH_RECOVERED = "output_path_recovered"
    FATAL_ERROR = "fatal_error"
    DANMU_DISCONNECTED = "danmu_disconnected"
    PIPELINE_STARTED = "pipeline_started"
    PIPELINE_COMPLETED = "pipeline_completed"
    PIPELINE_FAILED = "pipeline_failed"
    SYSTEM_STARTUP = "system_startup"
    SYSTEM_SHUTDOWN = "system_shutdown"
    CREDENTIAL_INVALID = "credential_invalid"


class EventInfo(NamedTuple):
    label: str
    priority: Level
    description: str


EVENT_TYPES: dict[EventType, EventInfo] = {
    EventType.STREAM_ONLINE: EventInfo(
        "Stream online", Level.NORMAL, "A streamer went live; a session opens"
    ),
    EventType.STREAM_OFFLINE: EventInfo(
        "Stream offline", Level.LOW, "A session ended (the grace window ran out)"
    ),
    EventType.DOWNLOAD_STARTED: EventInfo(
        "Download started", Level.LOW, "A recording started writing files"
    ),
    EventType.DOWNLOAD_COMPLETED: EventInfo(
        "Download completed", Level.NORMAL, "A recording finished its files"
    ),
    EventType.DOWNLOAD_ERROR: EventInfo(
        "Download error", Level.HIGH, "A recording failed after its retries"
    ),
    EventType.SEGMENT_COMPLETED: EventInfo(
        "Segment completed", Level.LOW, "A segment file was closed"
    ),
    EventType.DOWNLOAD_REJECTED: EventInfo(
        "Download rejected",
        Level.HIGH,
        "A guard held a live stream back (no slot, engine breaker, write gate)",
    ),
    EventType.OUT_OF_SPACE: EventInfo(
        "Out of space", Level.CRITICAL, "The recordings disk is full"
    ),
    EventType.OUTPUT_PATH_INACCESSIBLE: EventInfo(
        "Output path inaccessible",
        Level.CRITICAL,
        "The recordings root cannot be written; recordings wait",
    ),
    EventType.OUTPUT_PATH_RECOVERED: EventInfo(
        "Output path recovered",
        Level.NORMAL,
        "The recordings root is writable again; waiting streamers resume",
    ),
    EventType.FATAL_ERROR: EventInfo(
        "Fatal error", Level.CRITICAL, "srec hit an error it cannot recover from"
    ),
    EventType.DANMU_DISCONNECTED: EventInfo(
        "Danmu disconnected", Level.NORMAL, "The chat connection of a session was lost"
    ),
    EventType.PIPELINE_STARTED: EventInfo(
        "Pipeline started", Level.LOW, "Post-processing of a recording started"
    ),
    EventType.PIPELINE_COMPLETED: EventInfo(
        "Pipeline completed", Level.LOW, "Post-processing of a recording finished"
    ),
    EventType.PIPELINE_FAILED: EventInfo(
        "Pipeline failed", Level.HIGH, "Post-processing of a recording failed"
    ),
    EventType.SYSTEM_STARTUP: EventInfo(
        "System startup", Level.NORMAL, "A worker process started"
    ),
    EventType.SYSTEM_SHUTDOWN: EventInfo(
        "System shutdown", Level.NORMAL, "A worker process stopped"
    ),
    EventType.CREDENTIAL_INVALID: EventInfo(
        "Credential invalid",
        Level.CRITICAL,
        "A platform rejected the stored cookies or token",
    ),
}


# Activity, workflow and schedule names. Workflows call activities by name, so the
# workflow sandbox never imports the channel modules (httpx, smtplib, apprise).
ACTIVITY_RECORD_EVENT = "notify.record_event"
ACTIVITY_DELIVER = "notify.deliver"
ACTIVITY_DEAD_LETTER = "notify.dead_letter"
ACTIVITY_PRUNE = "notify.prune"
ACTIVITY_REDRIVE = "notify.redrive"
DELIVER_EVENT_WORKFLOW_TYPE = "DeliverEventWorkflow"
NOTIFY_MAINTENANCE_WORKFLOW_TYPE = "NotifyMaintenanceWorkflow"
NOTIFY_MAINTENANCE_SCHEDULE_ID = "srec-notify-maintenance"
NOTIFY_MAINTENANCE_WORKFLOW_ID = "notify-maintenance"
# one send attempt; the delivery activity's claim on its row lasts as long
DELIVER_TIMEOUT = timedelta(seconds=60)


DEFAULT_SCOPE = "notify"


def deliver_event_workflow_id(event_id: int, scope: str = DEFAULT_SCOPE) -> str:
    """The workflow that delivers one event to its channels.

    `scope` keeps the ids of two app databases sharing a Temporal namespace (or
    two tests sharing a server) apart: event ids are per database.
    """
    return f"{scope}-event-{event_id}"


def redeliver_workflow_id(delivery_id: int, scope: str = DEFAULT_SCOPE) -> str:
    """The workflow that retries one dead-lettered delivery."""
    return f"{scope}-redeliver-{delivery_id}"


def output_root_event_key(event_type: EventType, path: str, at: datetime) -> str:
    """The key of the write gate's event about one root at one moment.

    Args:
        event_type: `output_path_inaccessible` or `output_path_recovered`.
        path: the output root.
        at: when the gate decided (the trip or the recovery).
    """
    digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"output_root:{event_type.value}:{at.isoformat()}:{digest}"


class NotifyEvent(BaseModel):
    """One event, as its emitter describes it.

    `key` makes recording idempotent: the same key recorded twice is one event.
    Derive it from what caused the event and nothing that changes between attempts:
    `streamer-7/session-42/stream_online` (workflow id and transition), or
    `output_root:/rec:inaccessible:2026-01-01T00:00:00+00:00` (the incident).
    """

    type: EventType
    key: str = Field(min_length=1, max_length=KEY_MAX_LENGTH)
    summary: str = Field(
        max_length=1000, description="One human line: `alice is live: Saturday art`"
    )
    priority: int | None = Field(
        default=None, ge=0, le=10, description="None = the type's default priority"
    )
    streamer_id: Id | None = None
    streamer_name: str = Field(default="", max_length=255)
    session_id: Id | None = None
    title: str = Field(default="", max_length=1000, description="The stream's title")
    subject: str = Field(
        default="", max_length=4096, description="What it is about (a path, …)"
    )
    detail: str = Field(default="", max_length=4000, description="Error text, …")
    occurred_at: datetime | None = Field(
        default=None, description="None = when it is recorded (workflow.now() in one)"
    )

    def effective_priority(self) -> int:
        return (
            self.priority
            if self.priority is not None
            else int(EVENT_TYPES[self.type].priority)
        )


class RecordEventInput(BaseModel):
    event: NotifyEvent


class RecordEventResult(BaseModel):
    event_id: int
    created: bool = Field(description="False when the key was already recorded")
    deliveries: int = Field(description="Channels the event goes to")
    workflow_id: str | None = Field(
        default=None, description="The delivery workflow; None when none was needed"
    )


class DeliverEventInput(BaseModel):
    """Input of `DeliverEventWorkflow`: one event's deliveries (rows by id)."""

    event_id: int
    delivery_ids: list[int] = Field(default_factory=list)
    redeliver: bool = Field(
        default=False, description="Send dead-lettered deliveries again"
    )


class DeliverEventResult(BaseModel):
    delivered: int = 0
    skipped: int = 0
    dead: int = 0


class DeliverInput(BaseModel):
    delivery_id: int
    redeliver: bool = False


class DeliverResult(BaseModel):
    status: str = Field(description="delivered | skipped")
    detail: str = ""


class DeadLetterInput(BaseModel):
    delivery_id: int
    error: str = Field(max_length=4000)


class DeadLetterResult(BaseModel):
    dead_letter_id: int | None = Field(
        default=None, description="None when the delivery no longer exists"
    )


class MaintenanceInput(BaseModel):
    pass


class MaintenanceResult(BaseModel):
    pruned_events: int = 0
    pruned_dead_letters: int = 0
    redriven: int = 0


class PruneInput(BaseModel):
    pass


class PruneResult(BaseModel):
    events: int = 0
    dead_letters: int = 0


class RedriveInput(BaseModel):
    pass


class RedriveResult(BaseModel):
    started: int = 0

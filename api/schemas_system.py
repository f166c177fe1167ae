"""Response models of `GET /api/system`: workers on the task queues, disk space."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class QueuePoller(BaseModel):
    """One worker polling a task queue, as Temporal last saw it."""

    identity: str = Field(description="The worker's identity (pid@host by default)")
    last_access_time: datetime | None = Field(
        default=None, description="When it last polled"
    )
    rate_per_second: float | None = Field(
        default=None, description="The rate limit it polls with (None: unlimited)"
    )


class QueueReport(BaseModel):
    """The workers of one task queue, for one kind of task."""

    name: str = Field(description="The task queue (`srec-io`, `srec-cpu@host`…)")
    kind: Literal["workflow", "activity"]
    expected: bool = Field(
        description="srec's workers serve this kind on this queue: no poller "
        "means its work waits"
    )
    pollers: list[QueuePoller] = Field(default_factory=list)
    backlog: int | None = Field(
        default=None,
        description="Tasks waiting for a worker (approximate; None when the "
        "server does not say)",
    )
    error: str | None = Field(default=None, description="Why it could not be read")


class DiskReport(BaseModel):
    """The disk under one recording output root, as the API's host sees it."""

    path: str
    total_bytes: int | None = None
    used_bytes: int | None = None
    free_bytes: int | None = None
    min_free_bytes: int = Field(description="Below this free space it is `low`")
    low: bool = Field(default=False, description="Free space is below the minimum")
    error: str | None = Field(
        default=None, description="Why it could not be read (missing, not mounted)"
    )


class SystemReport(BaseModel):
    """What `GET /api/system` answers."""

    queues: list[QueueReport]
    temporal_error: str | None = Field(
        default=None, description="Temporal could not be asked: why"
    )
    disks: list[DiskReport]

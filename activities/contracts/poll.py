"""Detection outside workflow history: the poll activity, its workflow and the
`detected` signal it sends a waiting streamer workflow.

A few long-lived poll activities, each owning a shard of streamers
(`streamer_id % shards == shard`), check every streamer whose workflow waits for
detection on its interval, and signal `detected` to `streamer-<id>` only when what
they found differs from what they told it last (and at a streamer's first check).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from activities.contracts.platform import LiveOutcome
from activities.contracts.streamer import OwnedInput, StreamerState
from activities.contracts.streams import StreamSource

# The projected states in which a streamer workflow waits for the poller.
DEFAULT_POLLED_STATES: tuple[StreamerState, ...] = (StreamerState.NOT_LIVE,)


class Detected(BaseModel):
    """Payload of the `detected` signal: what the poller found, for the workflow.

    Sent when the outcome changed since the last signal for this streamer, at the
    first check after the poller (re)started or the streamer (re)entered its shard
    (unless it found a clean offline and the workflow's projection already says
    NOT_LIVE without an error), and again every `PollShardInput.resignal_errors_secs`
    while a failure persists (`repeated`). At least once: a worker that dies may
    have sent a signal its last heartbeat does not record, and its successor sends
    it again. Never carries credentials: stream headers hold none.
    """

    outcome: LiveOutcome = Field(description="What the check found")
    instance_id: str | None = Field(
        default=None,
        description="The app database whose poller sent it: a workflow of another "
        "instance sharing the server ignores it",
    )
    checked_at: datetime = Field(description="When the check finished (UTC)")
    title: str = ""
    author: str = ""
    category: str = Field(default="", description="Game or area, for filters")
    avatar_url: str = Field(default="", description="The channel's picture")
    started_at: datetime | None = Field(default=None, description="Broadcast start")
    source: StreamSource | None = Field(
        default=None,
        description="The stream to record (live only), picked with "
        "the streamer's selection",
    )
    detail: str = Field(default="", description="The platform's words, for people")
    error: str | None = Field(
        default=None,
        description="Why the check failed or could not reach the stream (shown as "
        "the streamer's last error); None for a clean answer",
    )
    error_type: str | None = Field(
        default=None,
        description="The failure's kind when the check raised: `ExtractorError` "
        "(the platform's answer changed shape: srec needs a fix), "
        "`UnsupportedUrlError` (no platform handles the URL: outcome not_found), "
        "`TimeoutError`, …; None for the platform's own answers",
    )
    retry_after_secs: float | None = Field(
        default=None, description="Rate limited: the platform's retry-after"
    )
    failures: int = Field(
        default=0,
        description="Consecutive failed checks (transient outcomes and errors) "
        "up to this one; 0 after a clean answer",
    )
    failing_since: datetime | None = Field(
        default=None, description="When the current run of failures began"
    )
    repeated: bool = Field(
        default=False, description="A periodic reminder of an unchanged failure"
    )

    @property
    def recordable(self) -> bool:
        """Live, with a stream to record."""
        return self.outcome is LiveOutcome.LIVE and self.source is not None

    @property
    def fatal(self) -> bool:
        """Polling again is pointless until the user acts (the poller stops once
        the workflow projects a state it does not poll)."""
        return self.outcome.fatal

    @property
    def transient(self) -> bool:
        """The check failed in a way that passes: rate limit, outage, timeout, or
        an extractor that no longer understands the platform."""
        return self.outcome in (LiveOutcome.RATE_LIMITED, LiveOutcome.UNAVAILABLE)


class PollShardProgress(BaseModel):
    """What a poll activity told its streamers: heartbeat details and carried
    across attempts and continue-as-new, so a retry does not signal them again.

    `signalled` maps an outcome key (see `activities.poll.memory`) to the
    streamer ids last told it.
    """

    signalled: dict[str, list[int]] = Field(default_factory=dict)


class PollShardInput(OwnedInput):
    """One shard of this instance's streamers, polled by one activity."""

    shard: int = Field(ge=0)
    shards: int = Field(gt=0)
    states: list[StreamerState] = Field(
        default_factory=lambda: list(DEFAULT_POLLED_STATES),
        description="Poll streamers whose projected state is one of these",
    )
    run_secs: float = Field(
        default=3600.0,
        gt=0,
        description="Return after this long (the workflow runs it again): a new "
        "attempt picks up deployments and keeps histories short",
    )
    roster_check_secs: float = Field(
        default=5.0, gt=0, description="How often the shard's change marker is read"
    )
    resignal_errors_secs: float = Field(
        default=300.0, gt=0, description="Remind the workflow of a persisting failure"
    )
    carried: PollShardProgress | None = Field(
        default=None, description="The previous run's progress"
    )


class PollShardResult(BaseModel):
    progress: PollShardProgress = Field(default_factory=PollShardProgress)
    checks: int = Field(default=0, description="Checks done by this run")
    signals: int = Field(default=0, description="Signals sent by this run")


class PollerWorkflowInput(BaseModel):
    """The shard a `PollerWorkflow` keeps polled, and how."""

    instance_id: str
    shard: int = Field(ge=0)
    shards: int = Field(gt=0)
    heartbeat_timeout_secs: float = Field(
        default=30.0,
        gt=0,
        description="A worker that dies is noticed this long after its last "
        "heartbeat; the shard then resumes on another worker",
    )
    run_secs: float = Field(default=3600.0, gt=0)
    carried: PollShardProgress | None = None

"""The streamer workflow's own live check, as the `Detected` a poller would send.

The platform activity runs through its typed reference; a failed check (its
retries spent) comes back as an `unavailable` answer carrying the error, or
`not_found` when no platform handles the URL, so a failure takes the same path as
the pollers' news (`workflows.streamer_detect.Detection._observe`).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import contracts as c
    from activities.detect import PlatformActivities
    from workflows import options as o

# the ApplicationError type of a URL no platform handles (`activities.errors`)
UNSUPPORTED_URL = "UnsupportedUrlError"


class Checked(NamedTuple):
    """What a check found, and whether the configuration it used is stale."""

    detected: c.Detected
    config_stale: bool

    @property
    def checked_at(self) -> datetime:
        return self.detected.checked_at


async def check_live(
    cfg: c.StreamerConfig, version: str | None, instance_id: str | None
) -> Checked:
    """Ask the platform whether the streamer is live, now."""
    policy = cfg.policy
    try:
        status = await workflow.execute_activity_method(
            PlatformActivities.check_live,
            # the activity reads the streamer's credentials from the DB itself
            c.CheckLiveInput(
                url=cfg.url,
                streamer_id=cfg.streamer_id,
                selection=policy.selection,
                extractor=policy.extractor,
                config_version=version,
                instance_id=instance_id,
            ),
            task_queue=c.IO_TASK_QUEUE,
            start_to_close_timeout=o.CHECK_LIVE_TIMEOUT,
            retry_policy=o.CHECK_LIVE_RETRY,
        )
    except ActivityError as err:
        cause = err.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        workflow.logger.warning("live check failed: %s", cause)
        failed = c.Detected(
            outcome=c.LiveOutcome.NOT_FOUND
            if kind == UNSUPPORTED_URL
            else c.LiveOutcome.UNAVAILABLE,
            checked_at=workflow.now(),
            error=str(cause or err),
            error_type=kind,
        )
        return Checked(failed, config_stale=False)
    found = c.Detected(
        outcome=status.result,
        checked_at=workflow.now(),
        title=status.title,
        author=status.author,
        category=status.category,
        started_at=status.started_at,
        source=status.source,
        detail=status.detail,
        error=status.error,
    )
    return Checked(found, config_stale=status.config_stale)

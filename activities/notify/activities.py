"""The notification activities: record an event, deliver it, dead-letter, prune.

`deliver` is one send attempt of one delivery row. Temporal retries it (3 attempts,
5 s → 60 s, a 429's Retry-After as the next delay); when the last attempt fails
the workflow calls `dead_letter`. Each attempt:

1. claims the row (a delivered or skipped row is never sent again; a row another
   attempt holds makes this one wait for the claim to expire);
2. asks the channel's circuit breaker (shared by all workers through the DB;
   opens after `breaker_threshold` consecutive failures for `breaker_cooldown`,
   then lets one trial through): an open breaker fails the attempt without
   sending, with the time left as the next retry delay;
3. sends, then records the outcome on the row and on the breaker.

A send that succeeded but whose outcome could not be recorded (the worker died
in between) is sent again by the retry: delivery is at least once, and exactly
once whenever the worker survives the send. Receivers that can drop repeats get
a stable delivery key (`X-Srec-Delivery` on webhooks).

Errors are redacted (`activities.notify.redact`) before they are stored or raised,
and raised without their cause, so no secret reaches Temporal's history.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db import crud_notify, crud_notify_admin, crud_notify_breaker
from activities.db.tables import utcnow
from activities.events import (
    ACTIVITY_DEAD_LETTER,
    ACTIVITY_DELIVER,
    ACTIVITY_PRUNE,
    ACTIVITY_RECORD_EVENT,
    ACTIVITY_REDRIVE,
    DELIVER_TIMEOUT,
    DeadLetterInput,
    DeadLetterResult,
    DeliverInput,
    DeliverResult,
    PruneInput,
    PruneResult,
    RecordEventInput,
    RecordEventResult,
    RedriveInput,
    RedriveResult,
)
from activities.notify.base import DeliveryError
from activities.notify.redact import REDACTOR
from activities.notify.registry import build_sender, secrets_of
from activities.notify.template import build_message

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    import sqlalchemy as sa

    from activities.db.crud_notify import DeliveryJob
    from activities.notify.base import SendDeps
    from activities.notify.dispatch import Dispatcher

log = logging.getLogger(__name__)

ERROR_DELIVERY_FAILED = "NotifyDeliveryFailed"
ERROR_CIRCUIT_OPEN = "NotifyCircuitOpen"
ERROR_DELIVERY_BUSY = "NotifyDeliveryBusy"
# one attempt may hold the row this long: as long as Temporal lets it run
CLAIM_TTL = DELIVER_TIMEOUT
TRIAL_TTL = DELIVER_TIMEOUT
REDRIVE_AGE = timedelta(minutes=2)


@dataclass(frozen=True)
class NotifySettings:
    """The tunables of delivery and retention (the worker's settings fill them)."""

    breaker_threshold: int = 10
    breaker_cooldown: timedelta = timedelta(minutes=5)
    event_retention: timedelta = timedelta(days=30)
    dead_letter_retention: timedelta = timedelta(days=7)


def delivery_key(job: DeliveryJob) -> str:
    return f"{job.event['id']}-{job.channel['id']}"


class NotifyActivities:
    """Notification side effects.

    Args:
        db: the app database engine.
        deps: what senders use: the process's shared HTTP client, TLS settings
            for SMTP (default: the system's CAs), the send timeout.
        dispatcher: records events and starts their delivery workflows.
        settings: breaker and retention settings.
        clock: wall clock (UTC), replaceable in tests.
    """

    def __init__(
        self,
        db: sa.Engine,
        deps: SendDeps,
        dispatcher: Dispatcher,
        *,
        settings: NotifySettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.deps = deps
        self.dispatcher = dispatcher
        self.settings = settings or NotifySettings()
        self.clock = clock
        REDACTOR.install()

    @activity.defn(name=ACTIVITY_RECORD_EVENT)
    async def record_event(self, inp: RecordEventInput) -> RecordEventResult:
        """Record an event once per key and start its delivery."""
        return await self.dispatcher.record(inp.event)

    @activity.defn(name=ACTIVITY_DELIVER)
    async def deliver(self, inp: DeliverInput) -> DeliverResult:
        """One send attempt of one delivery (see the module docstring)."""
        info = activity.info()
        # attempt-independent: a retry takes over its own claim at once
        token = f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"
        claim = await asyncio.to_thread(self._claim, inp, token)
        if claim.outcome == "done":
            return DeliverResult(status=claim.status, detail=claim.detail)
        if claim.outcome == "busy" or claim.job is None:
            raise ApplicationError(
                "another attempt is sending this delivery",
                type=ERROR_DELIVERY_BUSY,
                next_retry_delay=timedelta(seconds=max(claim.wait_secs, 1.0)),
            )
        job = claim.job
        channel_id = int(job.channel["id"])
        wait = await asyncio.to_thread(self._breaker_allow, channel_id)
        if wait is not None:
            await asyncio.to_thread(self._release, inp.delivery_id, token)
            raise ApplicationError(
                f"channel {job.channel['name']}: circuit open, "
                f"next try in {wait:.0f} s",
                type=ERROR_CIRCUIT_OPEN,
                next_retry_delay=timedelta(seconds=max(wait, 1.0)),
            )
        error = await self._send(job)
        await asyncio.to_thread(self._finish, inp.delivery_id, token, channel_id, error)
        if error is not None:
            raise ApplicationError(
                error.args[0],
                type=ERROR_DELIVERY_FAILED,
                non_retryable=error.permanent,
                next_retry_delay=(
                    None
                    if error.retry_after is None
                    else timedelta(seconds=max(error.retry_after, 1.0))
                ),
            ) from None  # the cause may quote a secret
        return DeliverResult(status="delivered")

    @activity.defn(name=ACTIVITY_DEAD_LETTER)
    def dead_letter(self, inp: DeadLetterInput) -> DeadLetterResult:
        """Keep a delivery that failed its last attempt, with what it would send."""
        with Session(self.db) as db:
            job = crud_notify.delivery_job(db, inp.delivery_id)
            payload = (
                {}
                if job is None
                else build_message(job.event, job.channel, delivery_key(job)).payload
            )
            error = REDACTOR.redact(inp.error)
            letter = crud_notify.add_dead_letter(
                db, inp.delivery_id, error=error, payload=payload, now=self.clock()
            )
        if letter is not None:
            log.warning("delivery %d dead-lettered: %s", inp.delivery_id, error)
        return DeadLetterResult(dead_letter_id=letter)

    @activity.defn(name=ACTIVITY_PRUNE)
    def prune(self, inp: PruneInput) -> PruneResult:
        """Delete events and dead letters past their retention."""
        del inp
        now = self.clock()
        with Session(self.db) as db:
            events, letters = crud_notify_admin.prune(
                db,
                events_before=now - self.settings.event_retention,
                dead_letters_before=now - self.settings.dead_letter_retention,
            )
        if events or letters:
            log.info("pruned %d event(s) and %d dead letter(s)", events, letters)
        return PruneResult(events=events, dead_letters=letters)

    @activity.defn(name=ACTIVITY_REDRIVE)
    async def redrive(self, inp: RedriveInput) -> RedriveResult:
        """Start the delivery of events a crash left undispatched."""
        del inp
        return RedriveResult(started=await self.dispatcher.redrive(REDRIVE_AGE))

    # --- sending --------------------------------------------------------------------

    async def _send(self, job: DeliveryJob) -> DeliveryError | None:
        channel = job.channel
        kind, config = str(channel["kind"]), dict(channel["config"])
        REDACTOR.add(secrets_of(kind, config))
        try:
            sender = build_sender(kind, config, self.deps)
            message = build_message(job.event, channel, delivery_key(job))
            await sender.send(message)
        except DeliveryError as err:
            return DeliveryError(
                REDACTOR.redact(str(err)),
                retry_after=err.retry_after,
                permanent=err.permanent,
            )
        except (KeyError, ValueError) as err:
            # the stored settings no longer validate (edited by hand, old kind)
            reason = REDACTOR.redact(f"channel settings invalid: {err}")
            return DeliveryError(reason, permanent=True)
        except Exception as err:  # a channel bug: recorded and retried, never lost
            log.warning("channel %s failed", channel["name"], exc_info=True)
            return DeliveryError(REDACTOR.redact(f"{type(err).__name__}: {err}"))
        return None

    # --- blocking calls (run in threads) ----------------------------------------------

    def _claim(self, inp: DeliverInput, token: str) -> crud_notify.Claim:
        with Session(self.db) as db:
            return crud_notify.claim_delivery(
                db,
                inp.delivery_id,
                token=token,
                now=self.clock(),
                ttl=CLAIM_TTL,
                redeliver=inp.redeliver,
            )

    def _release(self, delivery_id: int, token: str) -> None:
        with Session(self.db) as db:
            crud_notify.release_delivery(db, delivery_id, token=token)

    def _breaker_allow(self, channel_id: int) -> float | None:
        with Session(self.db) as db:
            return crud_notify_breaker.breaker_allow(
                db, channel_id, now=self.clock(), trial_ttl=TRIAL_TTL
            )

    def _finish(
        self,
        delivery_id: int,
        token: str,
        channel_id: int,
        error: DeliveryError | None,
    ) -> None:
        text = None if error is None else str(error)
        now = self.clock()
        with Session(self.db) as db:
            crud_notify.finish_delivery(
                db, delivery_id, token=token, now=now, error=text
            )
            opened = crud_notify_breaker.breaker_record(
                db,
                channel_id,
                error=text,
                now=now,
                threshold=self.settings.breaker_threshold,
                cooldown=self.settings.breaker_cooldown,
            )
        if opened:
            log.warning(
                "notification channel %d: circuit open for %.0f s after %d failures",
                channel_id,
                self.settings.breaker_cooldown.total_seconds(),
                self.settings.breaker_threshold,
            )

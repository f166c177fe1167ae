"""Tell the streamer workflows a configuration change reaches, spread over time.

A global change reaches every streamer: 10,000 `config_changed` signals sent at once
would make 10,000 workflows load their configuration in the same second. The
notifier keeps the streamers to tell in an ordered set (a streamer changed twice is
told once) and a background task sends them in small batches, at most `rate`
signals a second, each pause jittered so several API processes do not line up.
The workflow only reloads on the signal; it checks at its next planned time.

Temporal being down loses nothing: the streamers stay pending and the task tries
again later. What the API process itself forgets (it restarts) the workflows find
anyway: a live check tells a workflow when its configuration is stale, and a
running recording reads the configuration's generation itself.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from temporalio.service import RPCError

from activities.contracts import SIGNAL_CONFIG_CHANGED
from api.deps import TemporalUnavailableError
from workflows.client import ForeignWorkflowError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from api.deps import WorkflowControl

log = logging.getLogger(__name__)

BATCH = 20
RETRY_SECS = 30.0
JITTER = 0.5


class ConfigNotifier:
    """Sends `config_changed` to streamer workflows, rate-limited and jittered.

    Args:
        rate: signals per second at most.
        batch: signals sent together.
        retry_secs: wait after Temporal was unreachable.
        rng: the jitter's source (tests pass a seeded one).
        sleep: how the pauses are waited (tests record them).
    """

    def __init__(
        self,
        *,
        rate: float = 50.0,
        batch: int = BATCH,
        retry_secs: float = RETRY_SECS,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.batch = batch
        self.retry_secs = retry_secs
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._pending: dict[int, None] = {}
        self._control: WorkflowControl | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    @property
    def pending(self) -> int:
        """Streamers not told yet."""
        return len(self._pending)

    def notify(self, control: WorkflowControl, streamer_ids: Iterable[int]) -> int:
        """Queue the streamers a change reaches; return how many are pending."""
        self._control = control
        for streamer_id in streamer_ids:
            self._pending[streamer_id] = None
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run(), name="config-notifier")
        return len(self._pending)

    async def close(self) -> None:
        """Stop sending (what is pending is left to the workflows' own checks)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while self._pending:
            batch = list(self._pending)[: self.batch]
            for streamer_id in batch:
                del self._pending[streamer_id]
            failed = await self._send(batch)
            if failed:
                # first in line again: nothing sent after them jumps the queue
                self._pending = dict.fromkeys(failed) | self._pending
                log.warning(
                    "Temporal is unreachable: %d streamer workflow(s) not told of a "
                    "configuration change yet; trying again in %g s",
                    len(self._pending),
                    self.retry_secs,
                )
                await self._sleep(self.retry_secs)
                continue
            pause = len(batch) / self.rate
            await self._sleep(pause * self._rng.uniform(1 - JITTER, 1 + JITTER))

    async def _send(self, batch: list[int]) -> list[int]:
        """Signal a batch; return the streamers Temporal could not be asked about."""
        control = self._control
        assert control is not None

        async def one(streamer_id: int) -> bool:
            try:
                await control.signal(streamer_id, SIGNAL_CONFIG_CHANGED)
            except TemporalUnavailableError:
                return False
            except (ForeignWorkflowError, RPCError) as err:
                # its own live checks will notice the change
                log.warning("streamer %d not told of the change: %s", streamer_id, err)
            self.sent += 1
            return True

        done = await asyncio.gather(*(one(s) for s in batch))
        return [s for s, ok in zip(batch, done, strict=True) if not ok]


def get_config_notifier(request: Request) -> ConfigNotifier:
    notifier: ConfigNotifier = request.app.state.config_notifier
    return notifier


NotifierDep = Annotated[ConfigNotifier, Depends(get_config_notifier)]

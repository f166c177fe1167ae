"""Per-platform request limits of the poller: a token bucket, a concurrency cap and
the platform's retry-after.

The limiter never sleeps: the poll loop asks it when a platform may send next
(`ready_at`) and takes a token when it sends (`start`), so every wait lives in one
place (the loop's next wake-up) and a test drives it with a fake clock. Rates and
caps come from the extractor (`Extractor.max_requests_per_sec`,
`Extractor.max_concurrent_requests`); configuration may override them later.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# A rate-limited answer without a retry-after pauses the platform this long.
DEFAULT_RETRY_AFTER_SECS = 60.0
# A retry-after longer than this is a typo or an attack on our schedule.
MAX_RETRY_AFTER_SECS = 3600.0


@dataclass
class RateLimit:
    """One platform's budget: `rate` requests per second (0 = unlimited), up to
    `burst` at once after a quiet spell, and at most `concurrency` in flight.

    Attributes:
        paused_until: the platform said to wait until then (clock seconds).
    """

    rate: float
    concurrency: int
    burst: float = 0.0
    tokens: float = field(default=0.0, init=False)
    stamp: float | None = field(default=None, init=False)
    in_flight: int = field(default=0, init=False)
    paused_until: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if self.burst <= 0:
            self.burst = max(1.0, self.rate)
        self.tokens = self.burst

    def _refill(self, now: float) -> None:
        if self.stamp is not None and self.rate > 0:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def ready_at(self, now: float) -> float:
        """When one more request may start (`now` if it may now; inf while every
        concurrent slot is taken: a finishing request wakes the loop)."""
        if self.in_flight >= self.concurrency:
            return math.inf
        if now < self.paused_until:
            return self.paused_until
        if self.rate <= 0:
            return now
        self._refill(now)
        if self.tokens >= 1:
            return now
        return now + (1 - self.tokens) / self.rate

    def start(self, now: float) -> None:
        """Take a token and a concurrency slot (call when `ready_at(now) <= now`)."""
        self._refill(now)
        if self.rate > 0:
            self.tokens -= 1
        self.in_flight += 1

    def finish(self) -> None:
        self.in_flight -= 1

    def pause(self, now: float, retry_after_secs: float | None) -> float:
        """The platform rate-limited us: send nothing until it said (or a minute).

        Returns:
            When the platform may be asked again.
        """
        wait = retry_after_secs if retry_after_secs else DEFAULT_RETRY_AFTER_SECS
        wait = min(max(wait, 0.0), MAX_RETRY_AFTER_SECS)
        self.paused_until = max(self.paused_until, now + wait)
        # the pause is also the bucket's new start: no burst right after it
        self.tokens = min(self.tokens, 1.0)
        return self.paused_until

"""Circuit breakers of the recording engines, one per engine/config key.

    closed ──(N consecutive failures)──► open ──(cooldown)──► half-open
      ▲                                   ▲                       │ one trial attempt
      └──────────── trial succeeds ───────┴──── trial fails ──────┘

Scope: in-process, per worker. A breaker protects against hammering a failing
engine or CDN from this process; several workers each learn on their own, which
costs at most N failed attempts per worker, and needs no shared state on the hot
path. The key is the engine kind, the stream transport and the stream's host
(`native:hls:cdn.example.com`): a broken CDN host or engine does not block others.

An attempt counts as a success once the engine has written its first bytes (a
recording may run for hours; the half-open trial should not block the key that
long), and as a failure when the engine raises. Guard refusals, cancellation and
worker shutdown say nothing about the engine and leave the count alone. While a key
is open, `before` raises `CircuitOpenError` with the remaining cooldown; the streamer
workflow backs off that long (a `check_now` ends the wait early).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from activities.errors import CircuitOpenError

if TYPE_CHECKING:
    from collections.abc import Callable

    from activities.contracts import EngineKind, StreamSource

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 5
DEFAULT_COOLDOWN_SECS = 60.0
# while the half-open trial runs, other callers come back this much later
TRIAL_RETRY_SECS = 10.0


def breaker_key(engine: EngineKind, source: StreamSource) -> str:
    """The engine/config key of a recording: engine kind, transport and host."""
    host = urlsplit(source.url).hostname or "-"
    return f"{engine.value}:{source.kind.value}:{host}"


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    trial: bool = False


class CircuitBreaker:
    """Consecutive-failure breakers keyed by engine/config (see the module docstring).

    Args:
        threshold: consecutive failures that open a key.
        cooldown_secs: how long an open key refuses attempts before its trial.
        clock: monotonic clock in seconds, replaceable in tests.
    """

    def __init__(
        self,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        cooldown_secs: float = DEFAULT_COOLDOWN_SECS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self.cooldown_secs = cooldown_secs
        self.clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def state(self, key: str) -> str:
        """`closed`, `open` or `half-open` (cooldown over, or its trial running)."""
        circuit = self._circuits.get(key)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if circuit.trial or self.clock() - circuit.opened_at >= self.cooldown_secs:
            return "half-open"
        return "open"

    def before(self, key: str) -> Attempt:
        """Admit an attempt, or refuse it while the key is open.

        Raises:
            CircuitOpenError: the key is open, or its half-open trial is running.
        """
        circuit = self._circuits.get(key)
        if circuit is None or circuit.opened_at is None:
            return Attempt(self, key, trial=False)
        left = circuit.opened_at + self.cooldown_secs - self.clock()
        if left > 0:
            raise CircuitOpenError(
                f"circuit {key} is open after {circuit.failures} consecutive "
                f"failures; next attempt in {left:.0f} s",
                retry_after_secs=left,
            )
        if circuit.trial:
            raise CircuitOpenError(
                f"circuit {key} is half-open and its trial attempt is running",
                retry_after_secs=min(TRIAL_RETRY_SECS, self.cooldown_secs),
            )
        circuit.trial = True
        log.info("circuit %s is half-open: letting one attempt through", key)
        return Attempt(self, key, trial=True)

    def _succeeded(self, key: str) -> None:
        circuit = self._circuits.pop(key, None)
        if circuit is not None and circuit.opened_at is not None:
            log.info("circuit %s closed: the engine works again", key)

    def _failed(self, key: str, *, trial: bool) -> None:
        circuit = self._circuits.setdefault(key, _Circuit())
        circuit.failures += 1
        if trial or (circuit.opened_at is None and circuit.failures >= self.threshold):
            circuit.opened_at = self.clock()
            circuit.trial = False
            log.warning(
                "circuit %s opened after %d consecutive failures, for %.0f s",
                key,
                circuit.failures,
                self.cooldown_secs,
            )

    def _abandoned(self, key: str) -> None:
        circuit = self._circuits.get(key)
        if circuit is not None:
            circuit.trial = False


class Attempt:
    """One admitted attempt; report its outcome once.

    `succeeded` may come early (first bytes) and again at the end; a failure after
    an early success still counts, as the failure of a new run of attempts.
    """

    def __init__(self, breaker: CircuitBreaker, key: str, *, trial: bool) -> None:
        self.breaker = breaker
        self.key = key
        self.trial = trial
        self._succeeded = False
        self._done = False

    def succeeded(self) -> None:
        """The engine produced output (idempotent)."""
        if not self._succeeded and not self._done:
            self._succeeded = True
            self.trial = False
            self.breaker._succeeded(self.key)

    def failed(self) -> None:
        """The engine raised: one more consecutive failure."""
        if not self._done:
            self._done = True
            self.breaker._failed(self.key, trial=self.trial)

    def finished(self) -> None:
        """The attempt ended without a verdict (cancelled, refused, shut down)."""
        if not self._done:
            self._done = True
            if self.trial:
                self.breaker._abandoned(self.key)

"""The exception tree of srec's side effects, and its mapping to Temporal errors.

    RecorderError
    ├── ExtractorError                  an upstream answered something we cannot use
    │   └── UnsupportedUrlError         no platform recognises the URL (permanent)
    ├── StreamUnavailableError          the stream could not be reached (transient)
    │   └── RateLimitedError            the platform throttles us; retry after a delay
    ├── RecorderProcessError            an engine or subprocess failed while recording
    └── GuardError                      a recording guard holds the attempt back
        ├── NoRecordingSlotError        the global recording limit is reached
        ├── CircuitOpenError            the engine/config failed too often lately
        └── OutputPathInaccessibleError the output root cannot be written

Activities raise these; `to_application_error` converts them at the activity boundary.
Guard errors become non-retryable `ApplicationError`s of the types named in
`activities.contracts` with `next_retry_delay` set: the workflow does the waiting,
so a `check_now` signal can end it early. A rate limit stays retryable, with the
platform's retry-after as `next_retry_delay`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

from activities.contracts import (
    ERROR_ENGINE_CIRCUIT_OPEN,
    ERROR_NO_RECORDING_SLOT,
    ERROR_OUTPUT_PATH_INACCESSIBLE,
)

if TYPE_CHECKING:
    from temporalio.exceptions import ApplicationError


class RecorderError(Exception):
    """Base of every error srec raises on purpose."""

    non_retryable: bool = False
    # the ApplicationError type; None = the class name
    error_type: ClassVar[str | None] = None


class ExtractorError(RecorderError):
    """A platform answered something the extractor cannot use."""


class UnsupportedUrlError(ExtractorError):
    """No platform recognises the URL."""

    non_retryable = True


class StreamUnavailableError(RecorderError):
    """The stream could not be reached right now (refused, 5xx, timeout)."""


class RateLimitedError(StreamUnavailableError):
    """The platform throttles our requests.

    Args:
        message: what the platform said.
        retry_after_secs: when it may answer again, if it said.
    """

    def __init__(self, message: str, *, retry_after_secs: float | None) -> None:
        super().__init__(message)
        self.retry_after_secs = retry_after_secs


class RecorderProcessError(RecorderError):
    """A recording engine failed."""


class GuardError(RecorderError):
    """A guard refused a recording attempt; try again after `retry_after_secs`.

    Args:
        message: what blocks the attempt.
        retry_after_secs: when a new attempt may succeed (0 = at once).
    """

    non_retryable = True

    def __init__(self, message: str, *, retry_after_secs: float) -> None:
        super().__init__(message)
        self.retry_after_secs = max(0.0, retry_after_secs)


class NoRecordingSlotError(GuardError):
    """Every recording slot this streamer may use is taken."""

    error_type = ERROR_NO_RECORDING_SLOT


class CircuitOpenError(GuardError):
    """The circuit breaker of this engine/config is open."""

    error_type = ERROR_ENGINE_CIRCUIT_OPEN


class OutputPathInaccessibleError(GuardError):
    """The output root is degraded (missing, full, read-only, no permission)."""

    error_type = ERROR_OUTPUT_PATH_INACCESSIBLE


def to_application_error(err: RecorderError) -> ApplicationError:
    """Convert one of our errors to the ApplicationError an activity raises.

    Args:
        err: the error to convert.

    Returns:
        An ApplicationError whose type is `err.error_type` or the class name;
        transient stream errors and guard refusals are marked BENIGN because the
        workflow expects them, and guard refusals carry `next_retry_delay`.
    """
    # imported here, not at the top: `srec record` uses this tree without Temporal,
    # and importing temporalio costs it about half a CPU-second at start-up
    from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

    benign = isinstance(err, StreamUnavailableError | GuardError)
    delay = None
    if isinstance(err, GuardError):
        delay = timedelta(seconds=err.retry_after_secs)
    elif isinstance(err, RateLimitedError) and err.retry_after_secs is not None:
        delay = timedelta(seconds=err.retry_after_secs)
    return ApplicationError(
        str(err),
        type=err.error_type or type(err).__name__,
        non_retryable=err.non_retryable,
        next_retry_delay=delay,
        category=(
            ApplicationErrorCategory.BENIGN
            if benign
            else ApplicationErrorCategory.UNSPECIFIED
        ),
    )

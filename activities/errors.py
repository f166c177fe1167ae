"""The exception tree of srec's side effects, and its mapping to Temporal errors.

    RecorderError
    ├── ExtractorError            an upstream answered something we cannot use
    │   └── UnsupportedUrlError   no platform recognises the URL (permanent)
    ├── StreamUnavailableError    the stream could not be reached (transient)
    └── RecorderProcessError      an engine or subprocess failed while recording

Activities raise these; `to_application_error` converts them at the activity boundary.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory


class RecorderError(Exception):
    """Base of every error srec raises on purpose."""

    non_retryable: bool = False


class ExtractorError(RecorderError):
    """A platform answered something the extractor cannot use."""


class UnsupportedUrlError(ExtractorError):
    """No platform recognises the URL."""

    non_retryable = True


class StreamUnavailableError(RecorderError):
    """The stream could not be reached right now (refused, 5xx, timeout)."""


class RecorderProcessError(RecorderError):
    """A recording engine failed."""


def to_application_error(err: RecorderError) -> ApplicationError:
    """Convert one of our errors to the ApplicationError an activity raises.

    Args:
        err: the error to convert.

    Returns:
        An ApplicationError whose type is the class name; transient stream errors
        are marked BENIGN because the retry policy expects them.
    """
    category = (
        ApplicationErrorCategory.BENIGN
        if isinstance(err, StreamUnavailableError)
        else ApplicationErrorCategory.UNSPECIFIED
    )
    return ApplicationError(
        str(err),
        type=type(err).__name__,
        non_retryable=err.non_retryable,
        category=category,
    )

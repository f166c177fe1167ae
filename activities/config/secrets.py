"""Credentials stay out of logs and Temporal failures.

The activities read credentials (cookies, tokens, a proxy's password) from the
database and hand them to extractors and engines, which may quote them: a URL in a
log line, an error message that names the proxy. Every credential an activity
reads is registered with the process-wide redactor (`activities.notify.redact`),
which masks it in every log record, and an error raised to Temporal is rebuilt from
its redacted text, without the original as its cause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

from activities.errors import RecorderError, to_application_error
from activities.notify.redact import REDACTOR

if TYPE_CHECKING:
    from collections.abc import Iterable

    from temporalio.exceptions import ApplicationError

__all__ = ["application_error", "register", "register_options"]


def register(values: Iterable[str]) -> None:
    """Mask these values in every log record of this process from now on."""
    REDACTOR.install()
    REDACTOR.add(v for v in values if v)


def register_options(options: BaseModel) -> None:
    """Register the credentials (`SecretStr` fields) of a platform options model."""
    register(
        value.get_secret_value()
        for value in (getattr(options, name) for name in type(options).model_fields)
        if isinstance(value, SecretStr)
    )


def application_error(err: RecorderError) -> tuple[ApplicationError, bool]:
    """The error to raise to Temporal, and whether a credential had to be cut.

    When the text quoted a registered credential the error is rebuilt from the
    redacted text; the caller then raises it `from None`, so the original (its
    text, its traceback) does not travel as the failure's cause.
    """
    # imported here: `srec record` uses this package without Temporal
    from temporalio.exceptions import ApplicationError

    converted = to_application_error(err)
    text = str(err)
    clean = REDACTOR.redact(text)
    if clean == text:
        return converted, False
    rebuilt = ApplicationError(
        clean,
        type=converted.type,
        non_retryable=converted.non_retryable,
        next_retry_delay=converted.next_retry_delay,
        category=converted.category,
    )
    return rebuilt, True

"""What every channel shares: its config base, the message, errors and HTTP sending.

A channel module defines a `ChannelConfig` subclass (its settings, with the secret
ones named in `SECRETS`) and a sender class with `async send(message)`. A send
that fails raises `DeliveryError`: `permanent` when retrying cannot help (the
service refused the message or the credentials), `retry_after` when the service
said when to come back (a 429's Retry-After).
"""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

if TYPE_CHECKING:
    import ssl

SEND_TIMEOUT = httpx.Timeout(10.0, read=20.0)
# a service asking for more than this is treated as down: the delivery is retried
# (and dead-lettered) on our schedule instead of parking for hours
MAX_RETRY_AFTER_SECS = 900.0
URL_MAX_LENGTH = 2048


class DeliveryError(Exception):
    """A send failed.

    Args:
        message: what happened, without secrets (it is stored and shown).
        retry_after: seconds the service asked us to wait, if it said.
        permanent: retrying cannot help.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


@dataclass(frozen=True)
class Message:
    """One rendered notification for one channel.

    `title` and `body` are the channel's templates rendered with `values`; a channel
    that needs its values escaped (Telegram's HTML) renders again with `render`.
    `payload` is the documented JSON of the generic webhook and dead letters.
    """

    title: str
    body: str
    priority: int
    event_type: str
    delivery_key: str
    occurred_at: datetime
    payload: dict[str, Any]
    title_template: str = ""
    body_template: str = ""
    values: dict[str, str] = field(default_factory=dict)


class Sender(Protocol):
    """A configured channel that can send a message."""

    async def send(self, message: Message) -> None:
        """Send one message.

        Raises:
            DeliveryError: the message was not delivered.
        """


@dataclass(frozen=True)
class SendDeps:
    """What senders need from the process: its HTTP client, TLS settings."""

    http: httpx.AsyncClient
    ssl_context: ssl.SSLContext | None = None
    timeout: httpx.Timeout = field(default_factory=lambda: SEND_TIMEOUT)


class ChannelConfig(BaseModel):
    """Base of every channel's settings; `SECRETS` names the write-only fields."""

    model_config = ConfigDict(extra="forbid")
    SECRETS: ClassVar[tuple[str, ...]] = ()

    def stored(self) -> dict[str, Any]:
        """Everything, secrets in clear, as JSON for the DB row."""
        data = self.model_dump(mode="json")
        for name in self.SECRETS:
            data[name] = _unwrap(getattr(self, name))
        return data

    def public(self) -> dict[str, Any]:
        """The settings the API may show: everything but the secrets."""
        return self.model_dump(mode="json", exclude=set(self.SECRETS))

    def secrets_set(self) -> dict[str, bool]:
        """Which secrets have a value (the API shows this, never the value)."""
        return {name: bool(_unwrap(getattr(self, name))) for name in self.SECRETS}

    def secret_values(self) -> list[str]:
        """Every secret string, for redaction."""
        values: list[str] = []
        for name in self.SECRETS:
            value = _unwrap(getattr(self, name))
            values.extend(value if isinstance(value, list) else [value or ""])
        return [v for v in values if v]


def _unwrap(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def check_http_url(url: str) -> str:
    """Validate an http(s) URL with a host (pydantic validator helper).

    Raises:
        ValueError: not an absolute http(s) URL.
    """
    url = url.strip()
    if len(url) > URL_MAX_LENGTH:
        raise ValueError(f"URL longer than {URL_MAX_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as err:
        raise ValueError("not a valid URL") from err
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("an http:// or https:// URL with a host is required")
    if any(c in url for c in "\r\n\t ") or any(ord(c) < 32 for c in url):
        raise ValueError("the URL contains whitespace or control characters")
    return url


def check_header_value(value: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise ValueError("header values may not contain line breaks")
    return value


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        secs = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        secs = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(secs):
        return None
    return min(max(secs, 0.0), MAX_RETRY_AFTER_SECS)


def _body_retry_after(response: httpx.Response) -> float | None:
    # Discord: {"retry_after": 1.5}; Telegram: {"parameters": {"retry_after": 3}}
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    params = data.get("parameters")
    value = data.get("retry_after")
    if value is None and isinstance(params, dict):
        value = params.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return parse_retry_after(str(value))
    return None


def check_response(response: httpx.Response, service: str) -> None:
    """Raise the `DeliveryError` an unsuccessful answer means.

    429 waits for its Retry-After (header or body); 408, 425 and 5xx are retried;
    any other 3xx or 4xx is permanent (the service refused this message).
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    snippet = " ".join(response.text[:200].split())
    reason = f"{service} answered {status}" + (f": {snippet}" if snippet else "")
    if status == 429:
        wait = parse_retry_after(response.headers.get("retry-after"))
        if wait is None:
            wait = _body_retry_after(response)
        raise DeliveryError(reason, retry_after=wait)
    if status in (408, 425) or status >= 500:
        raise DeliveryError(reason)
    raise DeliveryError(reason, permanent=True)


async def send_http(
    deps: SendDeps,
    service: str,
    method: str,
    url: str,
    **kwargs: Any,
) -> httpx.Response:
    """One request to a service; failures become `DeliveryError`.

    Redirects are not followed: a notification endpoint that moved is a
    configuration error, and following it could re-send a POST as a GET.
    """
    try:
        response = await deps.http.request(
            method, url, timeout=deps.timeout, follow_redirects=False, **kwargs
        )
    except httpx.TimeoutException as err:
        raise DeliveryError(f"{service} did not answer in time") from err
    except httpx.InvalidURL as err:
        raise DeliveryError(f"{service}: invalid URL", permanent=True) from err
    except httpx.HTTPError as err:
        # the activity redacts secrets from every error before storing or raising
        detail = str(err) or type(err).__name__
        raise DeliveryError(f"{service} unreachable: {detail}") from err
    check_response(response, service)
    return response

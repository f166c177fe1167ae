"""Apprise: one channel that reaches the 100+ services Apprise supports.

Each URL names a service and its credentials in Apprise's syntax
(`tgram://bottoken/chat`, `mailto://user:pass@example.com`, `json://host/path`,
…; see Apprise's wiki). The URLs are secrets as a whole. They are checked when
saved: a URL no Apprise plugin accepts is refused (the error names only its
scheme).

Apprise is synchronous (requests), so a send runs in a worker thread with a time
limit. It reports per service and logs what went wrong; those log lines become the
delivery's error (redacted like every error). Apprise does not expose a service's
Retry-After, so its failures are retried on srec's schedule.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from activities.events import Level
from activities.notify.base import ChannelConfig, DeliveryError, Message, SendDeps

URLS_MAX = 20
SEND_TIMEOUT_SECS = 30.0


def _apprise_accepts(url: str) -> bool:
    # imported on use: loading Apprise's plugins takes a while and most
    # processes never need them
    import apprise

    return apprise.Apprise.instantiate(url, suppress_exceptions=True) is not None


class AppriseConfig(ChannelConfig):
    """Settings of an Apprise channel."""

    SECRETS: ClassVar[tuple[str, ...]] = ("urls",)

    urls: list[SecretStr] = Field(
        min_length=1,
        max_length=URLS_MAX,
        description="Apprise URLs, e.g. tgram://bottoken/chat_id (write-only)",
    )

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            url = secret.get_secret_value().strip()
            scheme = url.partition("://")[0][:20] if "://" in url else ""
            if not scheme or len(url) > 4096 or not _apprise_accepts(url):
                shown = f"a {scheme}:// URL" if scheme else "a URL without a scheme"
                raise ValueError(f"Apprise cannot use {shown}")
        return value


def notify_type(priority: int) -> str:
    """Apprise's message type for a priority (it picks icons and colours)."""
    if priority >= Level.CRITICAL:
        return "failure"
    if priority >= Level.HIGH:
        return "warning"
    return "info"


class AppriseChannel:
    """Sends to every URL of the channel; any failed URL fails the delivery."""

    def __init__(self, config: AppriseConfig, deps: SendDeps) -> None:
        del deps  # Apprise brings its own HTTP stack
        self.config = config

    async def send(self, message: Message) -> None:
        await asyncio.to_thread(self._send_sync, message)

    def _send_sync(self, message: Message) -> None:
        import apprise

        client = apprise.Apprise()
        for secret in self.config.urls:
            client.add(secret.get_secret_value())
        result = client.notify(
            body=message.body or message.title,
            title=message.title,
            notify_type=notify_type(message.priority),
            timeout=SEND_TIMEOUT_SECS,
        )
        if result:
            return
        problems = [
            entry.message
            for entry in result.logs()
            # upper(): streamlink, loaded in the same process, renames the levels
            if str(entry.level).upper() in ("WARNING", "ERROR", "CRITICAL")
        ]
        failed = result.failed_count or len(self.config.urls)
        # every warning: the one naming the status may not be among the last few
        detail = "; ".join(dict.fromkeys(problems))[:1000] or str(result.status)
        raise DeliveryError(
            f"Apprise: {failed} of {len(self.config.urls)} URL(s) failed: {detail}"
        )

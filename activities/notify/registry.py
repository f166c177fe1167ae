"""The one table of channel kinds: each kind's settings model and sender."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from activities.notify.apprise import AppriseChannel, AppriseConfig
from activities.notify.base import DeliveryError
from activities.notify.discord import DiscordChannel, DiscordConfig
from activities.notify.email import EmailChannel, EmailConfig
from activities.notify.gotify import GotifyChannel, GotifyConfig
from activities.notify.redact import REDACTOR
from activities.notify.telegram import TelegramChannel, TelegramConfig
from activities.notify.template import sample_message
from activities.notify.webhook import WebhookChannel, WebhookConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    from activities.notify.base import ChannelConfig, SendDeps, Sender


@dataclass(frozen=True)
class ChannelKind:
    """A kind of channel: how its settings validate and how it sends."""

    config: type[ChannelConfig]
    build: Callable[[Any, SendDeps], Sender]
    description: str


KINDS: dict[str, ChannelKind] = {
    "discord": ChannelKind(DiscordConfig, DiscordChannel, "Discord webhook"),
    "email": ChannelKind(EmailConfig, EmailChannel, "Email over SMTP"),
    "webhook": ChannelKind(WebhookConfig, WebhookChannel, "Signed JSON webhook"),
    "telegram": ChannelKind(TelegramConfig, TelegramChannel, "Telegram bot"),
    "gotify": ChannelKind(GotifyConfig, GotifyChannel, "Gotify server"),
    "apprise": ChannelKind(AppriseConfig, AppriseChannel, "Apprise URLs"),
}


def parse_config(kind: str, data: dict[str, Any]) -> ChannelConfig:
    """Validate a channel's settings.

    Raises:
        KeyError: unknown kind.
        pydantic.ValidationError: invalid settings.
    """
    return KINDS[kind].config.model_validate(data)


def build_sender(kind: str, data: dict[str, Any], deps: SendDeps) -> Sender:
    """A sender for stored settings; its secrets are registered for redaction.

    Raises:
        KeyError: unknown kind.
        pydantic.ValidationError: the stored settings no longer validate.
    """
    config = parse_config(kind, data)
    REDACTOR.add(config.secret_values())
    return KINDS[kind].build(config, deps)


def secrets_of(kind: str, data: dict[str, Any]) -> list[str]:
    """The secret strings of stored settings, valid or not (for redaction)."""
    spec = KINDS.get(kind)
    if spec is None:
        return []
    values: list[str] = []
    for name in spec.config.SECRETS:
        value = data.get(name)
        items = value if isinstance(value, list) else [value]
        values.extend(v for v in items if isinstance(v, str) and v)
    return values


async def try_send(channel: dict[str, Any], deps: SendDeps) -> str | None:
    """Send a sample message to a channel now, bypassing its breaker and retries.

    The `POST /api/notifications/channels/{id}/test` of the API.

    Args:
        channel: the channel row, `model_dump()`-ed.
        deps: HTTP client and TLS settings.

    Returns:
        None when it was delivered, else why not (secrets redacted).
    """
    kind, config = str(channel.get("kind")), dict(channel.get("config") or {})
    REDACTOR.add(secrets_of(kind, config))
    try:
        sender = build_sender(kind, config, deps)
        await sender.send(sample_message(channel, datetime.now(UTC)))
    except DeliveryError as err:
        return REDACTOR.redact(str(err))
    except (KeyError, ValueError) as err:
        return REDACTOR.redact(f"channel settings invalid: {err}")
    return None

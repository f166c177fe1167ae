"""Discord: a message through a channel's webhook.

Discord documents `POST <webhook URL>` with a JSON body holding `content` (up to
2,000 characters) or `embeds` (title up to 256, description up to 4,096), and a
429 with `retry_after` when rate-limited. The webhook URL carries the webhook's
token, so the whole URL is a secret.

Mentions are disabled (`allowed_mentions.parse = []`): a stream title saying
`@everyone` must not ping a server.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from activities.events import Level
from activities.notify.base import (
    ChannelConfig,
    Message,
    SendDeps,
    check_http_url,
    clip,
    send_http,
)

CONTENT_MAX = 2000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
# embed colours by priority: grey, blue, orange, red
COLOURS = {
    Level.LOW: 0x95A5A6,
    Level.NORMAL: 0x3498DB,
    Level.HIGH: 0xE67E22,
    Level.CRITICAL: 0xE74C3C,
}


class DiscordConfig(ChannelConfig):
    """Settings of a Discord webhook channel."""

    SECRETS: ClassVar[tuple[str, ...]] = ("webhook_url",)

    webhook_url: SecretStr = Field(
        description="https://discord.com/api/webhooks/<id>/<token> (write-only)"
    )
    username: str | None = Field(
        default=None, min_length=1, max_length=80, description="Shown as the author"
    )
    avatar_url: str | None = Field(default=None, description="Author's avatar URL")
    embed: bool = Field(
        default=True, description="Send an embed (title, colour); else plain content"
    )

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return SecretStr(check_http_url(value.get_secret_value()))

    @field_validator("avatar_url")
    @classmethod
    def _avatar(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)


def colour(priority: int) -> int:
    reached = [lv for lv in Level if priority >= lv]
    return COLOURS[reached[-1] if reached else Level.LOW]


class DiscordChannel:
    """Sends to one Discord webhook."""

    def __init__(self, config: DiscordConfig, deps: SendDeps) -> None:
        self.config = config
        self.deps = deps

    def body(self, message: Message) -> dict[str, object]:
        """The JSON body Discord receives."""
        body: dict[str, object] = {"allowed_mentions": {"parse": []}}
        if self.config.username:
            body["username"] = self.config.username
        if self.config.avatar_url:
            body["avatar_url"] = self.config.avatar_url
        if self.config.embed:
            body["embeds"] = [
                {
                    "title": clip(message.title, EMBED_TITLE_MAX),
                    "description": clip(message.body, EMBED_DESCRIPTION_MAX),
                    "color": colour(message.priority),
                    "timestamp": message.occurred_at.isoformat(),
                }
            ]
        else:
            text = f"**{message.title}**\n{message.body}" if message.title else ""
            body["content"] = clip(text or message.body, CONTENT_MAX)
        return body

    async def send(self, message: Message) -> None:
        await send_http(
            self.deps,
            "Discord",
            "POST",
            self.config.webhook_url.get_secret_value(),
            params={"wait": "true"},
            json=self.body(message),
        )

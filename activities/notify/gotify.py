"""Gotify: a message to a self-hosted Gotify server.

Gotify documents `POST /message` with an application token (the `X-Gotify-Key`
header, or `?token=`) and a JSON body `{title, message, priority}`; its priorities
are the same 0-10 scale as srec's, so they pass through unchanged. The token goes
in the header, never in the URL, so it cannot appear in a logged URL.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from activities.notify.base import (
    ChannelConfig,
    Message,
    SendDeps,
    check_http_url,
    send_http,
)


class GotifyConfig(ChannelConfig):
    """Settings of a Gotify channel."""

    SECRETS: ClassVar[tuple[str, ...]] = ("token",)

    url: str = Field(description="The Gotify server, e.g. https://gotify.example.com")
    token: SecretStr = Field(
        min_length=1, max_length=256, description="Application token (write-only)"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)


class GotifyChannel:
    """Sends to one Gotify application."""

    def __init__(self, config: GotifyConfig, deps: SendDeps) -> None:
        self.config = config
        self.deps = deps

    async def send(self, message: Message) -> None:
        await send_http(
            self.deps,
            "Gotify",
            "POST",
            self.config.url.rstrip("/") + "/message",
            headers={"X-Gotify-Key": self.config.token.get_secret_value()},
            json={
                "title": message.title,
                "message": message.body,
                "priority": message.priority,
            },
        )

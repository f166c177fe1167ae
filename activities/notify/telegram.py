"""Telegram: a message from a bot to a chat.

The Bot API documents `POST https://api.telegram.org/bot<token>/sendMessage` with
`{chat_id, text, parse_mode}` (text up to 4,096 characters), answers
`{"ok": false, "description": …}` on errors and a 429 with
`parameters.retry_after`. `api_base` may point at a self-hosted Bot API server.

With `parse_mode` HTML (the default) or MarkdownV2 the templates are markup and the
placeholder values are escaped, so a stream title cannot break the markup (a
message Telegram cannot parse is refused for good).
"""

from __future__ import annotations

import html
import re
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from activities.notify.base import (
    ChannelConfig,
    Message,
    SendDeps,
    check_http_url,
    clip,
    send_http,
)
from activities.notify.template import render

TEXT_MAX = 4096
_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$")
_MARKDOWN_V2_SPECIAL = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")


def escape_markdown_v2(text: str) -> str:
    """Escape every character MarkdownV2 treats as markup."""
    return _MARKDOWN_V2_SPECIAL.sub(r"\\\1", text)


class TelegramConfig(ChannelConfig):
    """Settings of a Telegram bot channel."""

    SECRETS: ClassVar[tuple[str, ...]] = ("bot_token",)

    bot_token: SecretStr = Field(description="123456:ABC… from @BotFather (write-only)")
    chat_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^(-?\d+|@[A-Za-z0-9_]{4,60})$",
        description="Numeric chat id or @channelusername",
    )
    parse_mode: Literal["HTML", "MarkdownV2", "none"] = "HTML"
    api_base: str = Field(
        default="https://api.telegram.org", description="Bot API server"
    )

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN.match(value.get_secret_value()):
            raise ValueError("a bot token looks like 123456:ABC-DEF… (from @BotFather)")
        return value

    @field_validator("api_base")
    @classmethod
    def _base(cls, value: str) -> str:
        return check_http_url(value).rstrip("/")


class TelegramChannel:
    """Sends to one chat through one bot."""

    def __init__(self, config: TelegramConfig, deps: SendDeps) -> None:
        self.config = config
        self.deps = deps

    def text(self, message: Message) -> str:
        """The `text` field: the title in bold over the body, values escaped."""
        mode = self.config.parse_mode
        if mode == "none":
            text = f"{message.title}\n{message.body}" if message.title else message.body
            return clip(text, TEXT_MAX)
        escape = html.escape if mode == "HTML" else escape_markdown_v2
        title = render(message.title_template, message.values, escape)
        body = render(message.body_template, message.values, escape)
        if not title:
            return body[:TEXT_MAX]
        bold = f"<b>{title}</b>" if mode == "HTML" else f"*{title}*"
        # markup cannot be cut safely: an over-long message is cut in the body
        return f"{bold}\n{body}"[:TEXT_MAX]

    def body(self, message: Message) -> dict[str, object]:
        """The JSON body of `sendMessage`."""
        body: dict[str, object] = {
            "chat_id": self.config.chat_id,
            "text": self.text(message),
        }
        if self.config.parse_mode != "none":
            body["parse_mode"] = self.config.parse_mode
        return body

    async def send(self, message: Message) -> None:
        token = self.config.bot_token.get_secret_value()
        await send_http(
            self.deps,
            "Telegram",
            "POST",
            f"{self.config.api_base}/bot{token}/sendMessage",
            json=self.body(message),
        )

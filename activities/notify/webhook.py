"""Generic webhook: the event as JSON to any URL, signed.

The request (documented in the README):

    POST <url>                      (or PUT / PATCH)
    Content-Type: application/json
    X-Srec-Event: stream_online
    X-Srec-Delivery: 12-3           (event id - channel id; the same on a retry)
    X-Srec-Signature: sha256=<hex>  (when a secret is set)

    {"delivery": "12-3", "title": …, "body": …, "event": {"id", "key", "type", …}}

The signature is the HMAC-SHA256 of the exact body bytes with the channel's
secret, as GitHub signs its webhooks; a receiver recomputes it over the raw body
and compares in constant time. `X-Srec-Delivery` lets a receiver drop the rare
repeat (a send whose answer was lost is sent again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from activities.notify.base import (
    ChannelConfig,
    Message,
    SendDeps,
    check_header_value,
    check_http_url,
    send_http,
)

SIGNATURE_HEADER = "X-Srec-Signature"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
# srec's own headers and those httpx computes cannot be overridden
_RESERVED = {"content-type", "content-length", "host", "transfer-encoding"}


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: the HMAC-SHA256 of the body with the secret."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookConfig(ChannelConfig):
    """Settings of a generic webhook channel."""

    SECRETS: ClassVar[tuple[str, ...]] = ("password", "token", "secret")

    url: str = Field(description="Where to send the JSON")
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, str] = Field(
        default_factory=dict,
        max_length=20,
        description="Extra headers (shown back: put credentials in auth/token)",
    )
    auth: Literal["none", "basic", "bearer", "header"] = Field(
        default="none",
        description="basic: username+password; bearer: token; header: "
        "auth_header: token",
    )
    username: str | None = Field(default=None, max_length=255)
    password: SecretStr | None = Field(default=None, max_length=1024)
    token: SecretStr | None = Field(default=None, max_length=4096)
    auth_header: str | None = Field(
        default=None, description="Header that carries the token (auth=header)"
    )
    secret: SecretStr | None = Field(
        default=None,
        max_length=1024,
        description="HMAC-SHA256 key of the X-Srec-Signature header (write-only)",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"invalid header name {name!r}")
            lowered = name.lower()
            if lowered in _RESERVED or lowered.startswith("x-srec-"):
                raise ValueError(f"header {name} is set by srec")
            check_header_value(text)
        return value

    @field_validator("auth_header")
    @classmethod
    def _auth_header(cls, value: str | None) -> str | None:
        if value is not None and not _HEADER_NAME.match(value):
            raise ValueError("invalid header name")
        return value

    @model_validator(mode="after")
    def _auth(self) -> WebhookConfig:
        needs = {
            "basic": ("username", "password"),
            "bearer": ("token",),
            "header": ("auth_header", "token"),
            "none": (),
        }[self.auth]
        missing = [name for name in needs if not getattr(self, name)]
        if missing:
            raise ValueError(f"auth={self.auth} needs {', '.join(missing)}")
        for name in ("password", "token"):
            value = getattr(self, name)
            if value is not None:
                check_header_value(value.get_secret_value())
        return self


class WebhookChannel:
    """Sends the event JSON to one URL."""

    def __init__(self, config: WebhookConfig, deps: SendDeps) -> None:
        self.config = config
        self.deps = deps

    def request(self, message: Message) -> tuple[bytes, dict[str, str]]:
        """The body bytes and headers of the request."""
        cfg = self.config
        body = json.dumps(message.payload, ensure_ascii=False, separators=(",", ":"))
        raw = body.encode()
        headers = dict(cfg.headers)
        headers |= {
            "Content-Type": "application/json",
            "X-Srec-Event": message.event_type,
            "X-Srec-Delivery": message.delivery_key,
        }
        token = cfg.token.get_secret_value() if cfg.token else ""
        if cfg.auth == "basic" and cfg.username and cfg.password:
            pair = f"{cfg.username}:{cfg.password.get_secret_value()}"
            headers["Authorization"] = "Basic " + base64.b64encode(
                pair.encode()
            ).decode("ascii")
        elif cfg.auth == "bearer":
            headers["Authorization"] = f"Bearer {token}"
        elif cfg.auth == "header" and cfg.auth_header:
            headers[cfg.auth_header] = token
        if cfg.secret is not None:
            headers[SIGNATURE_HEADER] = signature(cfg.secret.get_secret_value(), raw)
        return raw, headers

    async def send(self, message: Message) -> None:
        raw, headers = self.request(message)
        await send_http(
            self.deps,
            "Webhook",
            self.config.method,
            self.config.url,
            content=raw,
            headers=headers,
        )

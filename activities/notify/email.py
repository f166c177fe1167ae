"""Email: a plain-text message over SMTP, with implicit TLS or STARTTLS.

`security` is `starttls` (port 587: connect in clear, upgrade before anything is
said; a server that cannot upgrade is refused), `tls` (port 465: TLS from the first
byte) or `none` (a local relay; it may not carry a password). Certificates are
verified against the system's CAs.

Sent with the standard library's smtplib in a worker thread rather than with
aiosmtplib: a notification is one short SMTP conversation, smtplib speaks both TLS
modes and AUTH, every socket operation is bounded by `timeout_secs`, and srec
gains no dependency for it.

Failures: a 4xx reply, a timeout or a refused connection is retried; a 5xx reply,
rejected credentials, a failed certificate check or a server without STARTTLS is
permanent.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from activities.notify.base import ChannelConfig, DeliveryError, Message, SendDeps

_ADDRESS = r"^[^@\s<>,;\"]{1,64}@[^@\s<>,;\"]{1,255}$"
SUBJECT_MAX = 200


class EmailConfig(ChannelConfig):
    """Settings of an SMTP channel."""

    SECRETS: ClassVar[tuple[str, ...]] = ("password",)

    host: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.\-:\[\]]+$")
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(default=None, min_length=1, max_length=255)
    password: SecretStr | None = Field(default=None, max_length=1024)
    from_addr: str = Field(pattern=_ADDRESS, description="Sender address")
    to_addrs: list[str] = Field(min_length=1, max_length=50)
    timeout_secs: float = Field(default=20.0, ge=1.0, le=60.0)

    @field_validator("to_addrs")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not re.match(_ADDRESS, a)]
        if bad:
            raise ValueError(f"not an email address: {bad[0]!r}")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> EmailConfig:
        if self.password is not None and self.security == "none":
            raise ValueError("a password is only sent over tls or starttls")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


def _one_line(text: str) -> str:
    return " ".join(text.split())[:SUBJECT_MAX]


class EmailChannel:
    """Sends to the configured recipients through one SMTP server."""

    def __init__(self, config: EmailConfig, deps: SendDeps) -> None:
        self.config = config
        self.ssl_context = deps.ssl_context or ssl.create_default_context()

    def build(self, message: Message) -> EmailMessage:
        """The email: subject = title, body = body, plain text."""
        mail = EmailMessage()
        mail["Subject"] = _one_line(message.title) or "srec"
        mail["From"] = self.config.from_addr
        mail["To"] = ", ".join(self.config.to_addrs)
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = make_msgid(domain="srec.local")
        mail["X-Srec-Event"] = message.event_type
        mail["X-Srec-Delivery"] = message.delivery_key
        mail.set_content(message.body or message.title)
        return mail

    async def send(self, message: Message) -> None:
        mail = self.build(message)
        await asyncio.to_thread(self._send_sync, mail)

    def _send_sync(self, mail: EmailMessage) -> None:
        cfg = self.config
        try:
            with self._connect() as smtp:
                if cfg.security == "starttls":
                    self._starttls(smtp)
                if cfg.username and cfg.password:
                    try:
                        smtp.login(cfg.username, cfg.password.get_secret_value())
                    except smtplib.SMTPNotSupportedError as err:
                        raise DeliveryError(
                            "the SMTP server offers no AUTH", permanent=True
                        ) from err
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as err:
            raise DeliveryError(
                f"SMTP refused the credentials ({err.smtp_code})", permanent=True
            ) from err
        except smtplib.SMTPRecipientsRefused as err:
            raise DeliveryError(
                f"SMTP refused the recipients {sorted(err.recipients)}", permanent=True
            ) from err
        except smtplib.SMTPResponseException as err:
            raw = err.smtp_error
            text = (raw.decode(errors="replace") if isinstance(raw, bytes) else raw)[
                :200
            ]
            raise DeliveryError(
                f"SMTP answered {err.smtp_code}: {text}",
                permanent=500 <= err.smtp_code < 600,
            ) from err
        except ssl.SSLCertVerificationError as err:
            raise DeliveryError(
                f"SMTP server certificate rejected: {err.verify_message}",
                permanent=True,
            ) from err
        except (smtplib.SMTPException, OSError) as err:
            # timeouts, refused connections, TLS handshakes cut short
            raise DeliveryError(f"SMTP {type(err).__name__}: {err}") from err

    def _starttls(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.starttls(context=self.ssl_context)
        except smtplib.SMTPNotSupportedError as err:
            raise DeliveryError(
                "the SMTP server does not offer STARTTLS", permanent=True
            ) from err

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.security == "tls":
            return smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=cfg.timeout_secs, context=self.ssl_context
            )
        return smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_secs)

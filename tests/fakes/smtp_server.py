"""A local SMTP server (aiosmtpd) for the email channel: STARTTLS, TLS, AUTH.

The certificate is made for 127.0.0.1 at start, self-signed; `client_context()`
is an SSL context that trusts it (and only it), as the system CAs would trust a
real server's certificate. `mode` is `starttls` (STARTTLS required before
anything else), `tls` (TLS from the first byte) or `none`. With `password` set,
AUTH LOGIN/PLAIN is required and checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.background import BackgroundFake

if TYPE_CHECKING:
    from email.message import Message


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A key and a certificate for 127.0.0.1, written to `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Message


@dataclass
class _Handler:
    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(
            Mail(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message_from_bytes(envelope.original_content or envelope.content),
            )
        )
        return "250 OK"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        # bound to port 0: learn the port before the base class connects to it
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpServer(BackgroundFake):
    """The server; `mails` holds what it accepted."""

    def __init__(
        self,
        mode: str = "starttls",
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.mode = mode
        self.username = username
        self.password = password
        self.auth_attempts: list[tuple[str, str]] = []
        self._dir = tempfile.TemporaryDirectory()
        self.key, self.cert = self_signed(Path(self._dir.name))
        self.handler = _Handler()
        self._controller: _Controller | None = None
        self.port = 0

    @property
    def mails(self) -> list[Mail]:
        return self.handler.mails

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def _server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        self.auth_attempts.append((login, password))
        ok = (login, password) == (self.username, self.password)
        # handled=False: aiosmtpd answers 235 or 535 itself
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        context = self._server_context()
        kwargs: dict[str, Any] = {}
        if self.mode == "starttls":
            kwargs |= {"tls_context": context, "require_starttls": True}
        if self.password is not None:
            kwargs |= {
                "authenticator": self._authenticate,
                "auth_required": True,
                # implicit TLS is TLS too, but aiosmtpd only knows STARTTLS's
                "auth_require_tls": self.mode == "starttls",
            }
        self._controller = _Controller(
            self.handler,
            hostname="127.0.0.1",
            port=0,
            ssl_context=context if self.mode == "tls" else None,
            server_hostname="127.0.0.1",
            **kwargs,
        )
        self._controller.start()
        self.port = self._controller.port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
        self._dir.cleanup()

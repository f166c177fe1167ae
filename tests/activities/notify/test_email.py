"""The email channel against a local aiosmtpd server: STARTTLS, TLS, AUTH, failures."""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from activities.notify import DeliveryError, SendDeps, build_sender, parse_config
from tests.activities.notify.conftest import message
from tests.fakes.smtp_server import SmtpServer

if TYPE_CHECKING:
    import httpx

PASSWORD = "smtp-pa55word"


def config(server: SmtpServer | None, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": server.port if server else 25,
        "security": server.mode if server else "starttls",
        "from_addr": "srec@example.com",
        "to_addrs": ["me@example.com", "you@example.com"],
        "timeout_secs": 5,
    } | extra


def email(
    server: SmtpServer,
    http: httpx.AsyncClient,
    context: ssl.SSLContext | None = None,
    **extra: Any,
) -> Any:
    deps = SendDeps(http=http, ssl_context=context or server.client_context())
    return build_sender("email", config(server, **extra), deps)


# aiosmtpd sees TLS only after STARTTLS, so the implicit-TLS server is told not to
# require it for AUTH and warns about that; the connection is TLS all the same
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_sends_over_tls_with_auth(http, mode):
    with SmtpServer(mode, username="srec", password=PASSWORD) as server:
        channel = email(server, http, username="srec", password=PASSWORD)
        await channel.send(message())

        (mail,) = server.mails
        assert server.auth_attempts == [("srec", PASSWORD)]
    assert mail.sender == "srec@example.com"
    assert mail.recipients == ["me@example.com", "you@example.com"]
    assert mail.message["Subject"] == "Stream online: alice"
    assert mail.message["To"] == "me@example.com, you@example.com"
    assert mail.message["X-Srec-Delivery"] == "12-3"
    body = mail.message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert body.decode().strip() == "alice is live: Saturday <art> & *chat*"


async def test_plain_relay_without_credentials(http):
    with SmtpServer("none") as server:
        await email(server, http).send(message(title="a\r\nBcc: evil@example.com"))
        (mail,) = server.mails
    # a title cannot inject headers: it is folded onto one line
    assert mail.message["Subject"] == "a Bcc: evil@example.com"
    assert mail.message["Bcc"] is None


async def test_wrong_password_is_permanent(http):
    with SmtpServer("starttls", username="srec", password=PASSWORD) as server:
        channel = email(server, http, username="srec", password="wrong-password")
        with pytest.raises(DeliveryError, match="credentials") as caught:
            await channel.send(message())
        assert server.mails == []
    assert caught.value.permanent


async def test_server_without_starttls_is_refused(http):
    with SmtpServer("none") as server:
        with pytest.raises(DeliveryError, match="STARTTLS") as caught:
            await email(server, http, security="starttls").send(message())
        assert server.mails == []
    assert caught.value.permanent


async def test_untrusted_certificate_is_refused(http):
    with SmtpServer("tls") as server:
        channel = email(server, http, context=ssl.create_default_context())
        with pytest.raises(DeliveryError, match="certificate") as caught:
            await channel.send(message())
    assert caught.value.permanent


async def test_refused_connection_is_retried(http):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = config(None, port=port, security="none")
    channel = build_sender("email", settings, SendDeps(http=http))
    with pytest.raises(DeliveryError, match="ConnectionRefused") as caught:
        await channel.send(message())
    assert not caught.value.permanent


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        pytest.param(
            {"security": "none", "username": "u", "password": "p"},
            "only sent over tls",
            id="password-in-clear",
        ),
        pytest.param({"username": "u"}, "go together", id="no-password"),
        pytest.param({"to_addrs": ["not-an-address"]}, "not an email", id="to"),
        pytest.param({"to_addrs": []}, "at least 1", id="nobody"),
    ],
)
def test_config_is_validated(extra, reason):
    with pytest.raises(ValidationError, match=reason):
        parse_config("email", config(None, **extra))

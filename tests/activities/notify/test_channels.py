"""Each channel against a local stand-in: the request its service documents."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pydantic import ValidationError

from activities.notify import DeliveryError, SendDeps, build_sender, parse_config
from activities.notify.telegram import escape_markdown_v2
from tests.activities.notify.conftest import message
from tests.fakes.notify_receiver import CLOSE, HANG, Reply

if TYPE_CHECKING:
    from tests.fakes.notify_receiver import NotifyReceiver

TOKEN = "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ-123456789"
DISCORD_TOKEN = "dIsCoRdToKeN-0123456789abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNO"
FAST = httpx.Timeout(2.0, read=0.5)


def sender(kind: str, config: dict[str, Any], http: httpx.AsyncClient) -> Any:
    return build_sender(kind, config, SendDeps(http=http, timeout=FAST))


# --- Discord ----------------------------------------------------------------------


async def test_discord_sends_an_embed_without_mentions(receiver, http):
    url = receiver.url(f"/api/webhooks/1234/{DISCORD_TOKEN}")
    await sender("discord", {"webhook_url": url}, http).send(message())

    (req,) = receiver.requests
    assert (req.method, req.path, req.query) == (
        "POST",
        f"/api/webhooks/1234/{DISCORD_TOKEN}",
        {"wait": ["true"]},
    )
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        "allowed_mentions": {"parse": []},
        "embeds": [
            {
                "title": "Stream online: alice",
                "description": "alice is live: Saturday <art> & *chat*",
                "color": 0x3498DB,
                "timestamp": "2026-01-01T20:00:00+00:00",
            }
        ],
    }


async def test_discord_plain_content_is_cut_to_2000(receiver, http):
    config = {
        "webhook_url": receiver.url("/hook"),
        "embed": False,
        "username": "srec",
    }
    await sender("discord", config, http).send(message(summary="x" * 5000))

    body = receiver.requests[0].json()
    assert body["username"] == "srec"
    assert body["content"].startswith("**Stream online: alice**\nxxx")
    assert len(body["content"]) == 2000
    assert "embeds" not in body


async def test_discord_rate_limit_takes_retry_after_from_the_body(receiver, http):
    receiver.script("/hook", [Reply(429, body={"retry_after": 1.5, "global": False})])
    with pytest.raises(DeliveryError) as caught:
        await sender("discord", {"webhook_url": receiver.url("/hook")}, http).send(
            message()
        )
    assert (caught.value.retry_after, caught.value.permanent) == (1.5, False)


# --- Telegram ---------------------------------------------------------------------


def telegram(receiver: NotifyReceiver, **extra: Any) -> dict[str, Any]:
    return {
        "bot_token": TOKEN,
        "chat_id": "-1001234",
        "api_base": receiver.url(""),
    } | extra


async def test_telegram_posts_send_message_with_escaped_html(receiver, http):
    receiver.script(f"/bot{TOKEN}/sendMessage", [Reply(200, body={"ok": True})])
    await sender("telegram", telegram(receiver), http).send(message())

    (req,) = receiver.requests
    assert (req.method, req.path) == ("POST", f"/bot{TOKEN}/sendMessage")
    assert req.json() == {
        "chat_id": "-1001234",
        "text": "<b>Stream online: alice</b>\n"
        "alice is live: Saturday &lt;art&gt; &amp; *chat*",
        "parse_mode": "HTML",
    }


async def test_telegram_markdown_v2_escapes_values_not_the_template(receiver, http):
    config = telegram(receiver, parse_mode="MarkdownV2")
    await sender("telegram", config, http).send(message(body="_{title}_"))
    text = receiver.requests[0].json()["text"]
    assert text == "*Stream online: alice*\n_Saturday <art\\> & \\*chat\\*_"
    assert escape_markdown_v2("a.b-c!") == "a\\.b\\-c\\!"


async def test_telegram_plain_text_has_no_parse_mode(receiver, http):
    await sender("telegram", telegram(receiver, parse_mode="none"), http).send(
        message()
    )
    body = receiver.requests[0].json()
    assert "parse_mode" not in body
    assert (
        body["text"] == "Stream online: alice\nalice is live: Saturday <art> & *chat*"
    )


async def test_telegram_rate_limit_and_refusal(receiver, http):
    path = f"/bot{TOKEN}/sendMessage"
    limited = {"ok": False, "error_code": 429, "parameters": {"retry_after": 3}}
    refused = {"ok": False, "error_code": 400, "description": "chat not found"}
    receiver.script(path, [Reply(429, body=limited), Reply(400, body=refused)])
    channel = sender("telegram", telegram(receiver), http)
    with pytest.raises(DeliveryError) as first:
        await channel.send(message())
    assert (first.value.retry_after, first.value.permanent) == (3.0, False)
    with pytest.raises(DeliveryError) as second:
        await channel.send(message())
    assert second.value.permanent
    assert "chat not found" in str(second.value)


# --- Gotify -----------------------------------------------------------------------


async def test_gotify_posts_message_with_the_key_header(receiver, http):
    config = {"url": receiver.url("/gotify/"), "token": "AppToken.123"}
    await sender("gotify", config, http).send(message(priority=8))

    (req,) = receiver.requests
    assert (req.method, req.path, req.query) == ("POST", "/gotify/message", {})
    assert req.headers["x-gotify-key"] == "AppToken.123"
    assert req.json() == {
        "title": "Stream online: alice",
        "message": "alice is live: Saturday <art> & *chat*",
        "priority": 8,
    }


# --- generic webhook --------------------------------------------------------------


async def test_webhook_body_headers_and_signature(receiver, http):
    config = {
        "url": receiver.url("/in"),
        "secret": "s3cret-hmac-key",
        "headers": {"X-Tenant": "home"},
    }
    await sender("webhook", config, http).send(message())

    (req,) = receiver.requests
    assert (req.method, req.path) == ("POST", "/in")
    expected = hmac.new(b"s3cret-hmac-key", req.body, hashlib.sha256).hexdigest()
    assert req.headers["x-srec-signature"] == f"sha256={expected}"
    assert req.headers["x-srec-event"] == "stream_online"
    assert req.headers["x-srec-delivery"] == "12-3"
    assert req.headers["x-tenant"] == "home"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        "delivery": "12-3",
        "title": "Stream online: alice",
        "body": "alice is live: Saturday <art> & *chat*",
        "event": {
            "id": 12,
            "key": "streamer-7/session-42/stream_online",
            "type": "stream_online",
            "label": "Stream online",
            "priority": 5,
            "priority_name": "normal",
            "streamer": {"id": 7, "name": "alice"},
            "session_id": 42,
            "title": "Saturday <art> & *chat*",
            "summary": "alice is live: Saturday <art> & *chat*",
            "subject": "",
            "detail": "",
            "occurred_at": "2026-01-01T20:00:00+00:00",
        },
    }


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        pytest.param(
            {"auth": "basic", "username": "u", "password": "p4ssword"},
            "authorization",
            "Basic " + base64.b64encode(b"u:p4ssword").decode(),
            id="basic",
        ),
        pytest.param(
            {"auth": "bearer", "token": "tok-123456"},
            "authorization",
            "Bearer tok-123456",
            id="bearer",
        ),
        pytest.param(
            {"auth": "header", "auth_header": "X-Api-Key", "token": "k-123456"},
            "x-api-key",
            "k-123456",
            id="header",
        ),
    ],
)
async def test_webhook_auth(receiver, http, auth, header, value):
    config = {"url": receiver.url("/in"), "method": "PUT"} | auth
    await sender("webhook", config, http).send(message())
    (req,) = receiver.requests
    assert req.method == "PUT"
    assert req.headers[header] == value
    assert "x-srec-signature" not in req.headers


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        pytest.param({"url": "ftp://h/x"}, "http", id="scheme"),
        pytest.param({"url": "http://h/x", "auth": "basic"}, "needs", id="auth"),
        pytest.param(
            {"url": "http://h/x", "headers": {"X-Srec-Event": "x"}},
            "set by srec",
            id="reserved-header",
        ),
        pytest.param(
            {"url": "http://h/x", "headers": {"X-A": "a\r\nInjected: 1"}},
            "line breaks",
            id="header-injection",
        ),
    ],
)
def test_webhook_config_is_validated(config, reason):
    with pytest.raises(ValidationError, match=reason):
        parse_config("webhook", config)


# --- Apprise ----------------------------------------------------------------------


async def test_apprise_json_url_reaches_the_receiver(receiver, http):
    url = f"json://user:apprise-pw-1@127.0.0.1:{receiver.port}/apprise"
    await sender("apprise", {"urls": [url]}, http).send(message(priority=8))

    (req,) = receiver.requests
    assert (req.method, req.path) == ("POST", "/apprise")
    assert (
        req.headers["authorization"]
        == "Basic " + base64.b64encode(b"user:apprise-pw-1").decode()
    )
    assert req.json() == {
        "version": "1.0",
        "title": "Stream online: alice",
        "message": "alice is live: Saturday <art> & *chat*",
        "attachments": [],
        "type": "warning",
    }


async def test_apprise_failure_is_reported(receiver, http):
    receiver.script("/apprise", [500])
    url = f"json://127.0.0.1:{receiver.port}/apprise"
    with pytest.raises(DeliveryError, match=r"Apprise: 1 of 1 URL\(s\) failed.*500"):
        await sender("apprise", {"urls": [url]}, http).send(message())


def test_apprise_refuses_unknown_urls_without_echoing_them():
    with pytest.raises(ValidationError) as caught:
        parse_config("apprise", {"urls": ["nosuchservice://secret-token-value/x"]})
    assert "nosuchservice://" in str(caught.value)
    assert "secret-token-value" not in json.dumps(
        caught.value.errors(include_input=False, include_context=False)
    )


# --- failures every HTTP channel maps the same way -------------------------------


@pytest.mark.parametrize(
    ("answer", "permanent", "retry_after", "reason"),
    [
        pytest.param(503, False, None, "answered 503", id="5xx"),
        pytest.param(408, False, None, "answered 408", id="408"),
        pytest.param(401, True, None, "answered 401", id="4xx"),
        pytest.param(
            Reply(302, {"Location": "http://elsewhere/"}), True, None, "302", id="3xx"
        ),
        pytest.param(
            Reply(429, {"Retry-After": "30"}), False, 30.0, "429", id="429-header"
        ),
        pytest.param(HANG, False, None, "did not answer in time", id="timeout"),
        pytest.param(CLOSE, False, None, "unreachable", id="dropped"),
    ],
)
async def test_http_failures(receiver, http, answer, permanent, retry_after, reason):
    receiver.script("/in", [answer])
    with pytest.raises(DeliveryError, match=reason) as caught:
        await sender("webhook", {"url": receiver.url("/in")}, http).send(message())
    assert caught.value.permanent is permanent
    assert caught.value.retry_after == retry_after


async def test_refused_connection_is_transient(http):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens
    with pytest.raises(DeliveryError, match="unreachable") as caught:
        await sender(
            "gotify", {"url": f"http://127.0.0.1:{port}", "token": "t"}, http
        ).send(message())
    assert not caught.value.permanent

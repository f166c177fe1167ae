"""Secrets stay out of log records (any library's) and error texts."""

from __future__ import annotations

import logging

import pytest

from activities.notify.redact import MASK, SecretRedactor, secret_fragments

TOKEN = "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ-123456789"


def test_url_secrets_are_split_into_their_sensitive_pieces():
    url = "https://discord.com/api/webhooks/1234567890/dIsCoRdToKeN-0123456789abcdef"
    pieces = secret_fragments(url)
    assert url in pieces
    assert "dIsCoRdToKeN-0123456789abcdef" in pieces
    assert "discord.com" not in pieces
    assert "webhooks" not in pieces
    assert "hunter2-password" in secret_fragments("json://me:hunter2-password@h/p")
    assert secret_fragments("short") == []


def test_redact_masks_every_registered_secret():
    redactor = SecretRedactor()
    redactor.add([TOKEN, "json://me:hunter2-password@h/p"])
    text = f"POST https://api.telegram.org/bot{TOKEN}/x failed; pw hunter2-password"
    assert (
        redactor.redact(text)
        == f"POST https://api.telegram.org/bot{MASK}/x failed; pw {MASK}"
    )


@pytest.fixture
def redactor():
    previous = logging.getLogRecordFactory()
    redactor = SecretRedactor()
    redactor.install()
    yield redactor
    logging.setLogRecordFactory(previous)


def test_log_records_of_any_logger_are_redacted(redactor, caplog):
    redactor.add([TOKEN])
    caplog.set_level(logging.DEBUG)
    # what httpx logs for every request, at INFO
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s"', "POST", f"https://h/bot{TOKEN}/sendMessage", "200"
    )
    try:
        raise RuntimeError(f"boom at /bot{TOKEN}/sendMessage")
    except RuntimeError:
        logging.getLogger("urllib3.connectionpool").exception("failed")
    assert TOKEN not in caplog.text
    assert f"/bot{MASK}/sendMessage" in caplog.text
    assert "boom at" in caplog.text


def test_install_is_idempotent(redactor):
    factory = logging.getLogRecordFactory()
    redactor.install()
    assert logging.getLogRecordFactory() is factory

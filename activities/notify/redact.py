"""Keeping channel secrets out of logs, stored errors and Temporal failures.

Channel secrets end up in places srec does not write itself: httpx logs the URL of
each request at INFO (a Telegram bot token and a Discord webhook token are in the
path), urllib3 and Apprise log URLs at DEBUG, and an exception's text may quote a
URL. So every secret a sender is built with is registered here, and:

* `redact(text)` replaces each registered secret in a text (errors are redacted
  before they are stored in the DB or raised to Temporal);
* `install()` wraps the logging record factory once per process, so any log
  record, from any library, is redacted before a handler sees it.

Logging is process-wide, so the registry is too (`REDACTOR`).
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

MASK = "***"
# shorter values (a port, "true") would mask innocent text; no real secret is
MIN_SECRET_LENGTH = 6
MAX_SECRETS = 10_000
_URL_PIECES = re.compile(r"[/:@?&=#,;]")


def _token_like(piece: str) -> bool:
    # tokens are long or mix in digits; path words ("webhooks", "message") are not
    return len(piece) >= 16 or (len(piece) >= 8 and any(c.isdigit() for c in piece))


def secret_fragments(value: str) -> list[str]:
    """A secret and, for URLs, the pieces of it that may be quoted alone.

    A webhook or Apprise URL carries its token in a path segment, a query value or
    its userinfo; error texts and logs often show only that piece.
    """
    fragments = [value]
    if "://" in value:
        try:
            parts = urlsplit(value)
            host, password = parts.hostname or "", parts.password or ""
        except ValueError:
            host, password = "", ""
        fragments.extend({password, unquote(password)})
        _, _, rest = value.partition("://")
        for piece in _URL_PIECES.split(rest):
            if _token_like(piece) and piece.lower() != host and not piece.isdigit():
                fragments.extend({piece, unquote(piece)})
    return [f for f in fragments if len(f) >= MIN_SECRET_LENGTH]


class SecretRedactor:
    """A set of secrets to mask in texts and log records."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self._installed = False

    def add(self, values: Iterable[str]) -> None:
        """Register secrets (URLs are split into their sensitive pieces too)."""
        new = {f for v in values if v for f in secret_fragments(v)} - self._secrets
        if not new:
            return
        with self._lock:
            if len(self._secrets) + len(new) > MAX_SECRETS:
                # channels were edited many times over: keep the newest secrets
                self._secrets.clear()
            self._secrets |= new
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def redact(self, text: str) -> str:
        pattern = self._pattern
        return text if pattern is None or not text else pattern.sub(MASK, text)

    def install(self) -> None:
        """Redact every log record of this process from now on (idempotent)."""
        with self._lock:
            if self._installed:
                return
            self._installed = True
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if self._pattern is not None:
                self._scrub(record)
            return record

        logging.setLogRecordFactory(factory)

    def _scrub(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            clean = self.redact(text)
            if clean != text:
                # handlers print exc_text when it is set instead of formatting anew
                record.exc_text = clean


REDACTOR = SecretRedactor()

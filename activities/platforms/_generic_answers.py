"""What a direct URL's answers mean: offline (a value), a failed check, an error.

Between broadcasts many servers answer 404/410 or refuse the connection: offline,
with the answer kept for the user (`Unreachable`). A host name that does not
resolve is not a server between broadcasts: a failed check
(`StreamUnavailableError`). 5xx and 429 are failed checks too; other 4xx errors.
"""

from __future__ import annotations

import socket

import httpx

from activities.errors import ExtractorError, StreamUnavailableError

GONE = frozenset({404, 410})


class Offline(Exception):
    """The stream is not there (404/410, refused, ended): a value, not an error."""


class Unreachable(Offline):
    """Offline because the URL answers nothing usable (404/410, refused, not FLV).

    Still offline (a channel between broadcasts often looks like this), but the
    reason goes into `LiveStatus.error`: a typo in the URL looks the same, and the
    user should be able to see it.
    """


def connect_failure(url: str, err: BaseException) -> Exception:
    """What a failed connection means: a server that is not there, or no server.

    A refused connection is offline (`Unreachable`): many servers between
    broadcasts look like that. A host name that does not resolve (a
    `socket.gaierror` anywhere in the chain of causes) is a failed check.
    """
    cause: BaseException | None = err
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, socket.gaierror):
            why = cause.strerror or str(cause)
            return StreamUnavailableError(
                f"{url}: the host name does not resolve ({why})"
            )
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return Unreachable(f"{url}: connection failed: {err}")


def check_status(response: httpx.Response) -> None:
    check_code(response.status_code, str(response.url))


def check_code(status: int, url: str) -> None:
    if status in GONE:
        raise Unreachable(f"{url} answered HTTP {status}")
    if status >= 500 or status == 429:
        raise StreamUnavailableError(f"{url} answered HTTP {status}")
    if status >= 400:
        raise ExtractorError(f"{url} answered HTTP {status}")

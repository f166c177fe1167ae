"""The srec API as `srec streamers` talks to it: login, requests, clear refusals.

`Api` logs in once per command as `--user` (the password from `SREC_ADMIN_PASSWORD`
or the data directory's `admin-password` file) or uses `--token`, turns every
refusal into a `CliError` with the API's reason and an exit code (1: refused or
unreachable; 2: a request the API calls malformed, 400/422, or no credentials),
and logs out at the command's end. Only httpx is imported: the command never loads
Temporal or the database.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    import httpx

log = logging.getLogger("srec.streamers")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
PAGE = 500
MAX_ID = 2**63 - 1
ADMIN_PASSWORD_FILE = "admin-password"  # api.auth's, not imported: no API stack here


class CliError(Exception):
    """Ends the command with a message and an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _password(user: str) -> str:
    password = os.environ.get("SREC_ADMIN_PASSWORD")
    if password:
        return password
    data_dir = Path(os.environ.get("SREC_DATA_DIR") or "./data").expanduser()
    path = data_dir / ADMIN_PASSWORD_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise CliError(
            f"no password for {user!r}: set SREC_ADMIN_PASSWORD, or --data-dir to "
            f"the directory whose {ADMIN_PASSWORD_FILE} file holds it (tried "
            f"{path}: {err.strerror}), or pass --token",
            EXIT_USAGE,
        ) from err


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(detail, list):  # FastAPI's field errors
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}"
            for e in detail
            if isinstance(e, dict)
        )
    return str(detail)


class Api:
    """The API over `http`, logged in on first use (once per command).

    Args:
        http: the client.
        args: the parsed command line (`user`, `token`).
        api_url: the API's base URL, for messages.
    """

    def __init__(self, http: httpx.Client, args: argparse.Namespace, api_url: str):
        self.http = http
        self.user: str = args.user
        self.url = api_url
        self.token: str | None = args.token
        self._refresh: str | None = None

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        import httpx

        try:
            return self.http.request(method, path, **kw)
        except httpx.TransportError as err:
            raise CliError(
                f"cannot reach the srec API at {self.url} ({err}): is `srec up` or "
                "`srec api` running there? (--api or SREC_API_URL)"
            ) from err

    def _login(self) -> str:
        if self.token is None:
            body = {"username": self.user, "password": _password(self.user)}
            response = self._send("POST", "/api/auth/login", json=body)
            if response.status_code != 200:
                raise CliError(
                    f"login as {self.user!r} refused ({response.status_code}): "
                    f"{_reason(response)}"
                )
            tokens = response.json()
            self.token, self._refresh = tokens["access_token"], tokens["refresh_token"]
        return self.token

    def call(
        self, method: str, path: str, missing: str | None = None, **kw: Any
    ) -> httpx.Response:
        """One request; an error status raises `CliError` with the API's reason
        (`missing` instead of it for a 404)."""
        headers = {"Authorization": f"Bearer {self._login()}"}
        response = self._send(method, path, headers=headers, **kw)
        if response.status_code < 400:
            return response
        reason = _reason(response)
        if response.status_code == 404 and missing is not None:
            raise CliError(missing)
        if response.status_code == 401:
            raise CliError(f"the API refused the credentials: {reason}")
        code = EXIT_USAGE if response.status_code in (400, 422) else EXIT_FAILED
        raise CliError(reason, code)

    def logout(self) -> None:
        """Revoke the refresh token this command's login made (best effort)."""
        if self._refresh is None or self.token is None:
            return
        refresh, self._refresh = self._refresh, None
        try:
            self.call("POST", "/api/auth/logout", json={"refresh_token": refresh})
        except CliError as err:
            log.debug("logout failed: %s", err)

    def streamers(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.call(
                "GET", "/api/streamers", params={"limit": PAGE, "offset": len(items)}
            ).json()
            items += page["items"]
            if not page["items"] or len(items) >= page["total"]:
                return items

    def streamer(self, ref: str) -> dict[str, Any]:
        """The streamer an id or a name names."""
        if ref.isdigit():
            if not 1 <= int(ref) <= MAX_ID:
                raise CliError(f"not an id: {ref} (1 to 2^63-1)", EXIT_USAGE)
            missing = f"no streamer has the id {ref} (`srec streamers list`)"
            response = self.call("GET", f"/api/streamers/{ref}", missing)
            found: dict[str, Any] = response.json()
            return found
        named = [s for s in self.streamers() if s["name"] == ref]
        if not named:
            raise CliError(f"no streamer is named {ref!r} (`srec streamers list`)")
        return named[0]

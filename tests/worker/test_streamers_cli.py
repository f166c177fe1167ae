"""`srec streamers`: the command line against the API.

Most tests run the command in-process against the API of `tests/api/conftest.py`
(a `TestClient`, which is an httpx client, with the fake Temporal); the last ones
run `srec streamers` as a process against the same API served by uvicorn on a free
port, and against a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest
import uvicorn
from sqlmodel import Session

from activities.db import crud

# the API's fixtures: an app on a copied data dir, with the fake Temporal
from tests.api.conftest import (  # noqa: F401
    ADMIN_PASSWORD,
    _clean_env,
    anon,
    api_database,
    app,
    control,
    queue_probe,
    settings,
    template,
    tokens,
)
from worker import cli, streamers_cli

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from tests.api.conftest import FakeWorkflowControl

WAIT_SECS = 30


class Srec:
    """Runs `srec streamers ...` in-process; keeps the output and every request."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.requests: list[str] = []
        client.event_hooks["request"] = [
            lambda r: self.requests.append(f"{r.method} {r.url.path}")
        ]
        self.out = ""
        self.answers: list[bool] = []

    def __call__(self, *argv: str) -> int:
        args = cli._parser().parse_args(["streamers", *argv])
        out = io.StringIO()
        code = streamers_cli.run(args, self.client, out, self._confirm)
        self.out = out.getvalue()
        return code

    def _confirm(self, question: str) -> bool:
        return self.answers.pop(0)


@pytest.fixture
def srec(anon: TestClient, monkeypatch: pytest.MonkeyPatch) -> Srec:
    monkeypatch.setenv("SREC_ADMIN_PASSWORD", ADMIN_PASSWORD)
    return Srec(anon)


def test_add_list_and_each_call_logs_in_once_and_out(
    srec: Srec, control: FakeWorkflowControl
) -> None:
    assert srec("add", "https://fake.tv/alice") == 0
    assert srec.out == "added streamer 1 (alice): faketv, https://fake.tv/alice\n"
    assert control.calls == [("start", 1)]
    assert srec.requests == [
        "POST /api/auth/login",
        "POST /api/streamers",
        "POST /api/auth/logout",
    ]
    assert srec("add", "https://fake.tv/bob", "--name", "Bob B") == 0
    assert srec("list") == 0
    lines = srec.out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "PLATFORM", "STATE", "LAST", "ERROR"]
    assert lines[1].split() == ["1", "alice", "faketv", "NOT_LIVE"]
    assert lines[2].split() == ["2", "Bob", "B", "faketv", "NOT_LIVE"]
    assert srec("list", "--json") == 0
    listed = json.loads(srec.out)
    assert [(s["id"], s["name"], s["last_error"]) for s in listed] == [
        (1, "alice", None),
        (2, "Bob B", None),
    ]


def test_pause_resume_check_by_id_or_name(
    srec: Srec, control: FakeWorkflowControl
) -> None:
    srec("add", "https://fake.tv/alice")
    control.calls.clear()
    assert srec("pause", "alice") == 0
    assert srec.out == "streamer 1 (alice): pause requested\n"
    assert srec("resume", "1") == 0
    assert srec("check", "alice") == 0
    assert srec.out == "streamer 1 (alice): check requested\n"
    assert control.calls == [("pause", 1), ("resume", 1), ("check_now", 1)]


def test_refusals_are_clear_and_exit_1_or_2(
    srec: Srec, caplog: pytest.LogCaptureFixture
) -> None:
    srec("add", "https://fake.tv/alice")
    assert srec("add", "https://fake.tv/alice", "--name", "again") == 1
    assert 'streamer 1 ("alice") already has this URL' in caplog.text
    assert srec("add", "https://nowhere.example/x") == 2  # a 422: no platform
    assert srec("pause", "99") == 1
    assert "no streamer has the id 99 (`srec streamers list`)" in caplog.text
    assert srec("pause", "carol") == 1
    assert "no streamer is named 'carol'" in caplog.text
    assert srec("pause", str(2**63)) == 2


def _project(
    app: FastAPI, state: str, *, error: str | None = None, reason: str | None = None
) -> None:
    """Streamer 1's state as its workflow would have written it."""
    with Session(app.state.engine) as db:
        crud.set_streamer_state(
            db, 1, state=state, enabled=True, last_error=error, reason=reason
        )


# (state, last_error, state_reason) as the workflow projects them -> what is said
IN_ERROR: list[tuple[tuple[str, str, str | None], str]] = [
    (
        ("FATAL_ERROR", "banned", "banned: this channel is banned"),
        "was FATAL_ERROR: banned: this channel is banned",
    ),
    (("NOT_FOUND", "HTTP 404", None), "was NOT_FOUND: HTTP 404"),
    (
        ("TEMPORAL_DISABLED", "HTTP 503", "backoff until 12:00"),
        "was TEMPORAL_DISABLED: backoff until 12:00",
    ),
    # errors below the backoff threshold: a count to reset
    (("NOT_LIVE", "HTTP 503", None), "was NOT_LIVE: HTTP 503"),
]


def test_clear_error_of_a_streamer_in_error(
    srec: Srec, app: FastAPI, control: FakeWorkflowControl, tokens: dict[str, str]
) -> None:
    srec("add", "https://fake.tv/alice")
    token = ("--token", tokens["access_token"])  # one login, not one per case
    for (state, error, reason), said in IN_ERROR:
        _project(app, state, error=error, reason=reason)
        control.calls.clear()
        assert srec("clear-error", "alice", *token) == 0, state
        assert srec.out == f"streamer 1 (alice): clear-error requested ({said})\n"
        assert control.calls == [("clear_error", 1)]
        assert srec.requests[-1] == "POST /api/streamers/1/clear-error"


def test_clear_error_refuses_clearly(
    srec: Srec,
    app: FastAPI,
    control: FakeWorkflowControl,
    caplog: pytest.LogCaptureFixture,
    tokens: dict[str, str],
) -> None:
    srec("add", "https://fake.tv/alice")
    control.calls.clear()
    token = ("--token", tokens["access_token"])  # no login per call
    assert srec(*token, "clear-error", "1") == 1
    assert "streamer 1 (alice) is not in error (NOT_LIVE): nothing to clear" in (
        caplog.text
    )
    _project(app, "DISABLED")
    assert srec(*token, "clear-error", "alice") == 1
    assert "is not in error (DISABLED)" in caplog.text
    assert srec(*token, "clear-error", "99") == 1
    assert "no streamer has the id 99 (`srec streamers list`)" in caplog.text
    assert srec(*token, "clear-error", "carol") == 1
    assert "no streamer is named 'carol'" in caplog.text
    assert srec(*token, "clear-error", str(2**63)) == 2
    assert control.calls == []
    assert srec.out == ""


def test_add_with_a_template(
    srec: Srec, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    assert srec("add", "https://fake.tv/alice", "--template-id", "3") == 2
    assert "no template has the id 3" in caplog.text
    created = srec.client.post(
        "/api/templates",
        json={"name": "night", "settings": {"poll_interval_secs": 60}},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert created.status_code == 201, created.text
    template_id = str(created.json()["id"])
    assert srec("add", "https://fake.tv/alice", "--template-id", template_id) == 0
    assert srec("list", "--json") == 0
    assert json.loads(srec.out)[0]["template_id"] == int(template_id)


def test_rm_asks_first_unless_yes(srec: Srec, control: FakeWorkflowControl) -> None:
    srec("add", "https://fake.tv/alice")
    srec.answers = [False]
    assert srec("rm", "alice") == 1
    assert srec.out == "nothing removed\n"
    srec.answers = [True]
    assert srec("rm", "1", "--delete-files") == 0
    assert srec.out == "removed streamer 1 (alice)\n"
    assert "DELETE /api/streamers/1" in srec.requests
    assert srec("add", "https://fake.tv/bob") == 0
    assert srec("rm", "bob", "--yes") == 0
    assert srec("list", "--json") == 0
    assert json.loads(srec.out) == []


def test_rm_without_a_terminal_needs_yes(
    anon: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SREC_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    args = cli._parser().parse_args(["streamers", "add", "https://fake.tv/alice"])
    assert streamers_cli.run(args, anon, io.StringIO()) == 0
    args = cli._parser().parse_args(["streamers", "rm", "alice"])
    assert streamers_cli.run(args, anon, io.StringIO()) == 2


def test_credentials_from_the_data_dir_a_token_or_none(
    anon: TestClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tokens: dict[str, str],
) -> None:
    srec = Srec(anon)
    monkeypatch.setenv("SREC_DATA_DIR", str(tmp_path))
    assert srec("list") == 2
    assert "no password for 'admin'" in caplog.text
    (tmp_path / "admin-password").write_text(ADMIN_PASSWORD + "\n")
    assert srec("list") == 0
    (tmp_path / "admin-password").write_text("wrong-password\n")
    assert srec("list") == 1
    assert "login as 'admin' refused (401): invalid username or password" in (
        caplog.text
    )
    assert srec("list", "--token", tokens["access_token"]) == 0
    assert srec.requests[-1] == "GET /api/streamers"  # no login, no logout
    assert srec("--token", "not-a-token", "list") == 1
    assert "the API refused the credentials" in caplog.text


# --- as a process, over HTTP ----------------------------------------------------------


def _srec(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SREC_")}
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "streamers", *argv],
        env=clean | env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT_SECS,
        check=False,
    )


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The API served by uvicorn on a free loopback port: its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve([sock])))
    thread.start()
    try:
        deadline = time.monotonic() + WAIT_SECS
        while not server.started and thread.is_alive():
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        assert server.started, "uvicorn stopped before it started"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(WAIT_SECS)
        sock.close()


def test_the_command_over_http(served: str) -> None:
    env = {"SREC_API_URL": served, "SREC_ADMIN_PASSWORD": ADMIN_PASSWORD}
    added = _srec("add", "https://fake.tv/alice", **env)
    assert added.returncode == 0, added.stderr
    assert added.stdout == "added streamer 1 (alice): faketv, https://fake.tv/alice\n"
    listed = _srec("list", "--json", "--api", served + "/", **env)
    assert listed.returncode == 0, listed.stderr
    assert [s["name"] for s in json.loads(listed.stdout)] == ["alice"]
    refused = _srec("rm", "alice", **env)  # no terminal: it will not ask
    assert refused.returncode == 2
    assert "pass --yes" in refused.stderr


def test_an_unreachable_api_is_exit_1_with_where_it_looked() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    done = _srec("list", "--api", url, SREC_ADMIN_PASSWORD="x" * 8)
    assert done.returncode == 1
    assert f"cannot reach the srec API at {url}" in done.stderr
    assert "Traceback" not in done.stderr

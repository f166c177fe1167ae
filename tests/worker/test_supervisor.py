"""`srec up`: the embedded stack starts, serves, stops on Ctrl-C and resumes, on
SQLite and on an embedded PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from activities.db import crud, make_engine
from tests.e2e.stack import free_port, wait_until
from worker.postgres import EmbeddedPostgres

pytestmark = pytest.mark.e2e


def srec_up(data: Path, ports: dict[str, int], *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SREC_")}
    with (data.parent / "up.log").open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "worker.cli",
                "--data-dir",
                str(data),
                "up",
                "--api-port",
                str(ports["api"]),
                "--temporal-port",
                str(ports["temporal"]),
                "--ui-port",
                str(ports["ui"]),
                *extra,
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def login(base: str, password: str) -> str:
    response = httpx.post(
        f"{base}/api/auth/login", json={"username": "admin", "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def ready(base: str, token: str) -> bool:
    response = httpx.get(
        f"{base}/api/health/ready", headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code == 200


def test_up_serves_everything_stops_cleanly_and_resumes(tmp_path):
    data = tmp_path / "data"
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port()}
    base = f"http://127.0.0.1:{ports['api']}"
    proc = srec_up(data, ports)
    try:
        password_file = data / "admin-password"
        wait_until(password_file.exists, 60, "the admin password file")
        assert password_file.stat().st_mode & 0o777 == 0o600
        password = password_file.read_text().strip()
        token = wait_until(lambda: login(base, password), 120, "login")
        wait_until(lambda: ready(base, token), 60, "a worker on every queue")
        assert httpx.get(f"http://127.0.0.1:{ports['ui']}/").status_code == 200
        created = httpx.post(
            f"{base}/api/streamers",
            json={"name": "bob", "url": "http://127.0.0.1:9/bob.m3u8"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 0
    log = (tmp_path / "up.log").read_text()
    assert "stopped" in log
    assert password not in log  # the secret is never printed

    # a second start on the same data dir resumes: same user, same streamer
    proc = srec_up(data, ports)
    try:
        token = wait_until(lambda: login(base, password), 120, "login after restart")
        streamers = httpx.get(
            f"{base}/api/streamers", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert [s["name"] for s in streamers["items"]] == ["bob"]
        wait_until(lambda: ready(base, token), 60, "ready after restart")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 0


def test_up_on_postgres_stores_what_the_api_is_given():
    # not tmp_path: run by root, PostgreSQL runs as `nobody`, who may not enter
    # pytest's 0700 temp root
    root = Path(tempfile.mkdtemp(prefix="srec-up-pg-"))
    root.chmod(0o711)
    data = root / "data"
    ports = {
        "api": free_port(),
        "temporal": free_port(),
        "ui": free_port(),
        "postgres": free_port(),
    }
    base = f"http://127.0.0.1:{ports['api']}"
    argv = ("--database", "postgres", "--postgres-port", str(ports["postgres"]))
    proc = srec_up(data, ports, *argv)
    try:
        password_file = data / "admin-password"
        wait_until(password_file.exists, 120, "the admin password file")
        token = wait_until(
            lambda: login(base, password_file.read_text().strip()), 30, "login"
        )
        wait_until(lambda: ready(base, token), 60, "a worker on every queue")
        created = httpx.post(
            f"{base}/api/streamers",
            json={"name": "bob", "url": "http://127.0.0.1:9/bob.m3u8"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        # stored in PostgreSQL, not in a SQLite file
        assert not (data / "srec.db").exists()
        server = EmbeddedPostgres(
            data / "postgres", ports["postgres"], data / "postgres-password"
        )
        engine = make_engine(server.url("srec"))
        try:
            with Session(engine) as db:
                assert [s.name for s in crud.list_streamers(db)[0]] == ["bob"]
        finally:
            engine.dispose()
        pg_password = (data / "postgres-password").read_text().strip()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(90)
        log = (root / "up.log").read_text()
        shutil.rmtree(root, ignore_errors=True)
    assert code == 0, log
    assert "then PostgreSQL" in log
    assert "stopped" in log
    assert pg_password not in log  # the URL's secret is never printed

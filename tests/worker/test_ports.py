"""Ports in use stop `srec up` / `srec api` at once, naming the port and its option;
a child of `srec up` that cannot start is reported on the console, not looped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.e2e.stack import free_port
from worker.ports import Port, port_problems

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# `srec up` stops well within this when it refuses; a hang means it started anyway
REFUSAL_TIMEOUT_SECS = 60
STARTUP_FAILURE_TIMEOUT_SECS = 120


@pytest.fixture
def busy() -> Iterator[int]:
    """A port with a listening socket on it, as a running srec's would be."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def srec(
    *argv: str, env: dict[str, str] | None = None, timeout: float
) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SREC_")}
    proc = subprocess.run(
        [sys.executable, "-m", "worker.cli", *argv],
        env=clean | (env or {}),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("which", "label", "option"),
    [
        pytest.param("temporal", "Temporal", "--temporal-port", id="temporal"),
        pytest.param("ui", "Temporal UI", "--ui-port", id="ui"),
        pytest.param("api", "API", "--api-port", id="api"),
    ],
)
def test_up_refuses_a_port_in_use_before_starting_anything(
    tmp_path: Path, busy: int, which: str, label: str, option: str
) -> None:
    ports = {"temporal": free_port(), "ui": free_port(), "api": free_port()}
    ports[which] = busy
    data = tmp_path / "data"
    code, output = srec(
        "--data-dir",
        str(data),
        "up",
        "--temporal-port",
        str(ports["temporal"]),
        "--ui-port",
        str(ports["ui"]),
        "--api-port",
        str(ports["api"]),
        timeout=REFUSAL_TIMEOUT_SECS,
    )
    assert code == 2, output
    assert f"port {busy} is in use ({label}); choose another with {option}" in output
    assert not data.exists()  # no database, no Temporal, no worker
    assert "started temporal" not in output


def test_api_refuses_a_port_in_use(tmp_path: Path, busy: int) -> None:
    code, output = srec(
        "--data-dir",
        str(tmp_path / "data"),
        "api",
        "--api-port",
        str(busy),
        timeout=REFUSAL_TIMEOUT_SECS,
    )
    assert code == 2, output
    assert f"port {busy} is in use (API); choose another with --api-port" in output


def test_port_problems_name_each_port() -> None:
    free = free_port()
    assert port_problems([Port("127.0.0.1", free, "API", "--api-port")]) == []
    same = port_problems(
        [
            Port("127.0.0.1", free, "Temporal", "--temporal-port"),
            Port("127.0.0.1", free, "API", "--api-port"),
        ]
    )
    assert same == [
        f"port {free} is given to both Temporal and API; choose another with --api-port"
    ]
    (bad_host,) = port_problems([Port("no-such-host.invalid", free, "API", "--host")])
    assert "cannot listen on no-such-host.invalid" in bad_host


@pytest.mark.e2e
def test_a_temporal_that_cannot_start_is_reported_on_the_console(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    (data / "temporal.db").mkdir(parents=True)  # SQLite cannot open a directory
    code, output = srec(
        "--data-dir",
        str(data),
        "up",
        "--temporal-port",
        str(free_port()),
        "--ui-port",
        str(free_port()),
        "--api-port",
        str(free_port()),
        timeout=STARTUP_FAILURE_TIMEOUT_SECS,
    )
    assert code == 1, output
    assert "the Temporal dev server could not start: temporal exited with code" in (
        output
    )
    # its own words, from its log file
    assert "unable to open database file" in output


@pytest.mark.e2e
def test_a_child_that_cannot_start_stops_up_instead_of_looping(
    tmp_path: Path,
) -> None:
    code, output = srec(
        "--data-dir",
        str(tmp_path / "data"),
        "up",
        "--temporal-port",
        str(free_port()),
        "--ui-port",
        str(free_port()),
        "--api-port",
        str(free_port()),
        # the API refuses a key this short at start-up; the worker does not read it
        env={"SREC_JWT_SECRET": "short"},
        timeout=STARTUP_FAILURE_TIMEOUT_SECS,
    )
    assert code == 1, output
    assert "srec up: api could not start: api exited with code 2" in output
    assert "SREC_JWT_SECRET" in output or "jwt_secret" in output  # the API's reason
    assert "restarting" not in output
    assert "stopped" in output

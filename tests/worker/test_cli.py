"""The `srec` command line: global options on either side, what each path imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fakes.live_flv import LiveFlvServer
from worker import cli

if TYPE_CHECKING:
    import argparse

# what `srec record`, `srec flv`, `srec streamers` and `srec --help` must never load:
# the Temporal, database and API stacks cost about a CPU-second at start-up
SERVER_STACKS = (
    "temporalio",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "fastapi",
    "uvicorn",
)


def parse(*argv: str) -> argparse.Namespace:
    return cli._parser().parse_args(argv)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("--data-dir", "X", "up"), id="before"),
        pytest.param(("up", "--data-dir", "X"), id="after"),
        pytest.param(("up", "--api-port", "9", "--data-dir", "X"), id="after-own"),
        pytest.param(("worker", "--data-dir", "X"), id="worker"),
        pytest.param(("api", "--data-dir", "X", "--api-port", "9"), id="api"),
    ],
)
def test_data_dir_is_accepted_before_and_after_the_subcommand(
    argv: tuple[str, ...],
) -> None:
    assert parse(*argv).data_dir == Path("X")


def test_after_the_subcommand_wins_and_absent_keeps_the_default() -> None:
    assert parse("--data-dir", "A", "up", "--data-dir", "B").data_dir == Path("B")
    assert parse("--log-level", "debug", "up").log_level == "DEBUG"
    args = parse("up")
    assert (args.data_dir, args.log_level) == (None, "INFO")


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("record", "http://x/a.m3u8", "--log-level", "warning"), id="rec"),
        pytest.param(("flv", "analyze", "in.flv", "--log-level", "warning"), id="flv"),
        pytest.param(("worker", "--log-level", "Warning"), id="worker"),
    ],
)
def test_log_level_is_accepted_after_any_subcommand(argv: tuple[str, ...]) -> None:
    assert parse(*argv).log_level == "WARNING"


def test_a_bad_log_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("up", "--log-level", "loud")
    assert exited.value.code == 2
    assert "not a log level: 'loud'" in capsys.readouterr().err


def test_main_hands_the_data_dir_after_the_subcommand_to_the_stack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[str] = []

    def worker(_args: argparse.Namespace) -> int:
        seen.append(os.environ["SREC_DATA_DIR"])
        return 0

    monkeypatch.setenv("SREC_DATA_DIR", "unset")  # restored after the test
    monkeypatch.setattr(cli, "_worker", worker)
    assert cli.main(["worker", "--data-dir", str(tmp_path)]) == 0
    assert seen == [str(tmp_path)]


# --- what each path imports -----------------------------------------------------------

_PROBE = """
import atexit, json, sys
def report():
    with open(sys.argv[1], "w") as out:
        json.dump(sorted(m.split(".")[0] for m in sys.modules), out)
atexit.register(report)
from worker.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exited:
    code = exited.code
sys.exit(code)
"""


def loaded_by(tmp_path: Path, *argv: str) -> tuple[int, set[str]]:
    """Run `srec *argv` in a fresh interpreter; its exit code and loaded packages."""
    report = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SREC_")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(report), *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr.decode(), done.stderr.decode()
    return done.returncode, set(json.loads(report.read_text()))


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("--help",), id="help"),
        pytest.param(("record", "--help"), id="record-help"),
        pytest.param(("flv", "analyze", "missing.flv"), id="flv"),
        pytest.param(("streamers", "--help"), id="streamers-help"),
        # a whole call: options, credentials, httpx, the connection error
        pytest.param(
            ("streamers", "list", "--api", "http://127.0.0.1:9", "--token", "t"),
            id="streamers-list",
        ),
    ],
)
def test_quick_paths_load_no_server_stack(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    _, loaded = loaded_by(tmp_path, *argv)
    assert not loaded & set(SERVER_STACKS)


def test_a_recording_loads_no_server_stack(tmp_path: Path, ffmpeg: Path) -> None:
    out = tmp_path / "out"
    with LiveFlvServer(ffmpeg, duration_secs=60) as server:
        code, loaded = loaded_by(
            tmp_path, "record", server.url, "--out", str(out), "--duration", "1"
        )
    assert code == 0
    assert [p.suffix for p in out.rglob("*.flv")] == [".flv"]  # it recorded
    assert not loaded & set(SERVER_STACKS)
    assert "httpx" in loaded  # the probe sees what the recording used

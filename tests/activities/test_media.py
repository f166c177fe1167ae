"""The header-level check of a recorded file, and the probe old histories still call."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session
from temporalio.testing import ActivityEnvironment

from activities.contracts import ProbeSegmentInput
from activities.db import crud_sessions, make_engine, migrate
from activities.media import MediaActivities, check_file, pyav_check
from tests.fakes.flv_samples import RESOURCES

if TYPE_CHECKING:
    from collections.abc import Iterator

    import sqlalchemy as sa

SAMPLE = RESOURCES / "sample.flv"


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_a_media_file_is_valid_with_its_streams() -> None:
    found = check_file(SAMPLE)
    assert found.valid
    assert [s.model_dump(exclude_none=True) for s in found.streams] == [
        {"kind": "video", "codec": "h264", "width": 426, "height": 240},
        {"kind": "audio", "codec": "aac", "sample_rate": 48000, "channels": 2},
    ]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"<segment 1><segment 2>", id="not-media"),
        pytest.param(SAMPLE.read_bytes()[:13], id="header-only"),
    ],
)
def test_anything_else_is_invalid(tmp_path, content: bytes) -> None:
    path = tmp_path / "x.flv"
    path.write_bytes(content)
    assert not check_file(path).valid
    assert not check_file(tmp_path / "missing.ts").valid


def test_matroska_is_read_from_its_tracks(tmp_path, ffmpeg) -> None:
    path = tmp_path / "a.mkv"
    subprocess.run(
        [str(ffmpeg), "-v", "error", "-i", str(SAMPLE), "-c", "copy", str(path)],
        check=True,
        timeout=60,
    )
    found = check_file(path)
    assert found == pyav_check(path)
    assert found.valid
    assert [s.codec for s in found.streams] == ["h264", "aac"]


def test_tables_without_media_are_left_to_pyav(tmp_path, ffmpeg) -> None:
    ts = tmp_path / "a.ts"
    subprocess.run(
        [str(ffmpeg), "-v", "error", "-i", str(SAMPLE), "-c", "copy", str(ts)],
        check=True,
        timeout=60,
    )
    head = tmp_path / "head.ts"
    head.write_bytes(ts.read_bytes()[: 2 * 188])  # PAT and PMT only
    assert not check_file(head).valid


def test_the_check_reads_headers_not_the_whole_file(tmp_path) -> None:
    """A file cut after its first tags checks the same as the whole file."""
    head = tmp_path / "head.flv"
    head.write_bytes(SAMPLE.read_bytes()[:20_000])
    assert check_file(head) == check_file(SAMPLE)


def test_probe_activity_stores_the_check_and_keeps_the_engines_duration(
    tmp_path, db
) -> None:
    path = tmp_path / "a_0.flv"
    path.write_bytes(SAMPLE.read_bytes())
    with Session(db) as s:
        crud_sessions.begin_segment(s, session_id=3, index=0, file_path=str(path))
        crud_sessions.complete_segment(
            s, session_id=3, index=0, size_bytes=path.stat().st_size, duration_secs=10.3
        )
    activity = MediaActivities(db).probe_segment
    inp = ProbeSegmentInput(session_id=3, index=0, file_path=str(path))
    result = ActivityEnvironment().run(activity, inp)
    assert (result.valid, result.streams, result.duration_secs) == (
        True,
        ["h264", "aac"],
        10.3,
    )
    with Session(db) as s:
        row = crud_sessions.get_segment(s, 3, 0)
    assert row is not None
    assert row.valid
    assert [s["codec"] for s in row.streams or []] == ["h264", "aac"]

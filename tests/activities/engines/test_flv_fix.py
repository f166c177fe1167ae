"""Offline repair of FLV files: `fix_flv` writes, `analyze_flv` only reports."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from activities.engines.flv.fix import (
    FlvFixReport,
    FlvInputError,
    analyze_flv,
    fix_flv,
    output_path,
)
from activities.engines.flv.tags import FlvParser
from tests.fakes.flv_samples import RESOURCES, sample_to_flv

if TYPE_CHECKING:
    from pathlib import Path

CHANGE_HEADER = RESOURCES / "bad" / "p3-mock-20210310-change_header_video.input.xml"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "sample.flv"
    path.parent.mkdir()
    shutil.copy(RESOURCES / "sample.flv", path)
    return path


def test_fix_rewrites_a_good_file_into_one(sample: Path, tmp_path: Path) -> None:
    report = fix_flv(sample, tmp_path / "out")
    [output] = report.outputs
    assert output.path == str(tmp_path / "out" / "sample.fixed-001.flv")
    assert output.tags == 798
    assert output.duration_ms == 10_350  # the last media tag
    assert report.fixes == []
    parser = FlvParser()
    assert len(parser.feed((tmp_path / "out" / output.path).read_bytes())) == 799
    assert parser.pending == 0


def test_fix_splits_where_the_stream_changed(tmp_path: Path) -> None:
    source = tmp_path / "changed.flv"
    source.write_bytes(sample_to_flv(CHANGE_HEADER))
    report = fix_flv(source, tmp_path / "out")
    assert [o.path for o in report.outputs] == [
        str(output_path(source, tmp_path / "out", i)) for i in range(2)
    ]
    assert [o.tags for o in report.outputs] == [641, 1067]
    assert [(f.type.value, f.count) for f in report.fixes] == [("header_changed", 1)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "changed.fixed-001.flv",
        "changed.fixed-002.flv",
    ]


def test_analyze_reports_the_same_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "changed.flv"
    source.write_bytes(sample_to_flv(CHANGE_HEADER))
    analysis = analyze_flv(source)
    assert list(tmp_path.iterdir()) == [source]
    fixed = fix_flv(source, tmp_path)
    assert analysis == fixed


def test_a_truncated_file_loses_only_its_broken_tag(
    sample: Path, tmp_path: Path
) -> None:
    data = sample.read_bytes()[:-100]
    sample.write_bytes(data)
    parser = FlvParser()
    complete = len(parser.feed(data)) - 1
    assert parser.pending > 0
    report = fix_flv(sample, tmp_path / "out")
    assert [o.tags for o in report.outputs] == [complete]
    assert [(f.type.value, f.count) for f in report.fixes] == [("truncated", 1)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"<html>offline</html>", "is not an FLV file", id="html"),
        pytest.param(b"FLV", "too short", id="short"),
        pytest.param(b"", "too short", id="empty"),
    ],
)
def test_input_that_is_not_flv_is_refused(
    tmp_path: Path, content: bytes, message: str
) -> None:
    source = tmp_path / "x.flv"
    source.write_bytes(content)
    with pytest.raises(FlvInputError, match=message):
        fix_flv(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FlvInputError, match="cannot read"):
        analyze_flv(tmp_path / "nope.flv")


def test_the_report_serialises_as_documented(sample: Path, tmp_path: Path) -> None:
    report = fix_flv(sample, tmp_path / "out")
    data = report.model_dump(mode="json")
    assert data == {
        "outputs": [
            {
                "path": str(tmp_path / "out" / "sample.fixed-001.flv"),
                "tags": 798,
                "duration_ms": 10_350,
            }
        ],
        "fixes": [],
    }
    assert FlvFixReport.model_validate_json(report.model_dump_json()) == report

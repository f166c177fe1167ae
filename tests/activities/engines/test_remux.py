"""ffmpeg's output side, shared by the ffmpeg and streamlink engines.

Recording behaviour (names, closes, splits, stops) is exercised through both engines
in test_ffmpeg.py and test_streamlink.py; these are the pure parts.
"""

from __future__ import annotations

import pytest

from activities.contracts import Container, StreamKind
from activities.engines.remux.output import output_args, output_format


@pytest.mark.parametrize(
    ("container", "kind", "expected"),
    [
        pytest.param(Container.AUTO, StreamKind.HLS, ("mpegts", "ts"), id="auto-hls"),
        pytest.param(Container.AUTO, StreamKind.FLV, ("flv", "flv"), id="auto-flv"),
        pytest.param(Container.TS, StreamKind.FLV, ("mpegts", "ts"), id="ts"),
        pytest.param(Container.MKV, StreamKind.HLS, ("matroska", "mkv"), id="mkv"),
        pytest.param(Container.MP4, StreamKind.HLS, ("mp4", "mp4"), id="mp4"),
        pytest.param(Container.FLV, StreamKind.HLS, ("flv", "flv"), id="flv"),
    ],
)
def test_output_format(
    container: Container, kind: StreamKind, expected: tuple[str, str]
) -> None:
    assert output_format(container, kind) == expected


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_output_args_copy_into_segments_and_report() -> None:
    args = output_args("mp4", 60.0, 7, "/rec/.srec-ab-%06d.mp4")
    assert args[:2] == ["-c", "copy"]
    assert option(args, "-f") == "segment"
    assert option(args, "-segment_format") == "mp4"
    assert "frag_keyframe" in option(args, "-segment_format_options")
    assert "flush_packets=1" in option(args, "-segment_format_options")
    assert option(args, "-segment_time") == "60.000"
    assert option(args, "-reset_timestamps") == "1"
    assert option(args, "-segment_list") == "pipe:7"
    assert option(args, "-segment_list_type") == "csv"
    assert option(args, "-progress") == "pipe:1"
    assert args[-1] == "/rec/.srec-ab-%06d.mp4"


def test_no_duration_limit_is_one_file() -> None:
    args = output_args("mpegts", 0.0, 3, "x-%06d.ts")
    assert float(option(args, "-segment_time")) >= 10**9
    assert option(args, "-segment_format_options") == "flush_packets=1"

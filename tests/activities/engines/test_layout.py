"""What the readers of `engines.layout` and `engines.matroska` make of a file's head
matches what PyAV finds in the file.

Each case is two seconds encoded by ffmpeg into a container an engine writes
(MPEG-TS, fMP4, FLV, Matroska) with the codecs live streams carry: the readers must
name the same codecs, picture sizes (crops and 4:4:4 included), sample rates and
channel counts as PyAV, and `check_file` must agree without opening PyAV.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from activities.contracts import MediaStream
from activities.engines.bitstream import aac_config, adts_config, h264_size
from activities.engines.flv.repair import DataGroup, Prelude
from activities.engines.flv.tags import TAG_AUDIO, FlvHeader, FlvParser, FlvTag
from activities.engines.flv.writer import FlvOutput
from activities.engines.layout import (
    flv_audio,
    flv_video,
    mp4_init,
    mp4_streams,
    ts_streams,
)
from activities.engines.matroska import matroska_streams
from activities.media import check_file, pyav_check
from tests.fakes.flv_recording import AVC_SEQ, video
from tests.fakes.flv_samples import RESOURCES

if TYPE_CHECKING:
    from collections.abc import Callable

H264 = ["-c:v", "libx264", "-preset", "ultrafast"]
HEVC = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]
H264_444 = [*H264, "-profile:v", "high444", "-pix_fmt", "yuv444p"]
FRAGMENTED = ["-movflags", "+frag_keyframe+empty_moov"]
AAC, MP3_MONO = ["-c:a", "aac", "-ac", "2"], ["-c:a", "libmp3lame", "-ac", "1"]
AC3, EAC3_51 = ["-c:a", "ac3"], ["-c:a", "eac3", "-ac", "6"]
OPUS = ["-c:a", "libopus"]
# name: picture size, sample rate, codec options, muxer
CASES = {
    "ts-h264-aac": ("320x180", 44100, [*H264, *AAC], "mpegts"),
    "ts-hevc-mp3": ("320x240", 48000, [*HEVC, *MP3_MONO], "mpegts"),
    "ts-h264-444-ac3": ("642x362", 48000, [*H264_444, *AC3], "mpegts"),
    "ts-h264-eac3-5.1": ("320x240", 44100, [*H264, *EAC3_51], "mpegts"),
    "mp4-h264-aac": ("320x180", 44100, [*H264, *AAC, *FRAGMENTED], "mp4"),
    "mp4-hevc-opus": ("320x240", 48000, [*HEVC, *OPUS, *FRAGMENTED], "mp4"),
    "flv-h264-aac": ("320x180", 44100, [*H264, *AAC], "flv"),
    "flv-hevc-mp3": ("320x240", 44100, [*HEVC, *MP3_MONO], "flv"),
    "mkv-h264-aac": ("320x180", 44100, [*H264, *AAC], "matroska"),
    "mkv-hevc-opus": ("320x240", 48000, [*HEVC, *OPUS], "matroska"),
    "mkv-h264-eac3-5.1": ("320x240", 48000, [*H264, *EAC3_51], "matroska"),
}


@pytest.fixture(scope="module")
def media(
    ffmpeg: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    root = tmp_path_factory.mktemp("layout")

    def make(case: str) -> Path:
        size, rate, codecs, muxer = CASES[case]
        path = root / f"{case}.{muxer}"
        if not path.exists():
            subprocess.run(
                [
                    *(str(ffmpeg), "-nostdin", "-v", "error", "-y"),
                    *("-f", "lavfi", "-i", f"testsrc=size={size}:rate=25"),
                    *("-f", "lavfi", "-i", f"sine=sample_rate={rate}", "-t", "2"),
                    *(*codecs, "-f", muxer, str(path)),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
        return path

    return make


def read_natively(path: Path) -> list[MediaStream] | None:
    data = path.read_bytes()
    if path.suffix == ".mpegts":
        return ts_streams(data)
    if path.suffix == ".matroska":
        return matroska_streams(data)
    if path.suffix == ".mp4":
        init = mp4_init(data)
        assert init is not None
        return mp4_streams(init)
    tags = [t for t in FlvParser().feed(data) if isinstance(t, FlvTag)]
    first_video = next(t for t in tags if t.is_video)
    first_audio = next(t for t in tags if t.is_audio)
    return [s for s in (flv_video(first_video.data), flv_audio(first_audio.data)) if s]


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in CASES])
def test_native_readers_agree_with_pyav(media, case: str) -> None:
    path = media(case)
    checked = pyav_check(path)
    assert checked.valid
    assert read_natively(path) == checked.streams
    assert check_file(path) == checked  # from the head alone, without PyAV
    video_stream = next(s for s in checked.streams if s.kind == "video")
    assert f"{video_stream.width}x{video_stream.height}" == CASES[case][0]


def test_the_flv_sample_from_its_sequence_headers() -> None:
    path = RESOURCES / "sample.flv"
    assert read_natively(path) == pyav_check(path).streams


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"<segment 1>" * 40, id="not-ts"),
        pytest.param(b"\x47" + b"\x00" * 187, id="ts-without-tables"),
        pytest.param(b"\x1a\x45\xdf\xa3" + b"\xff" * 12, id="ebml-without-tracks"),
        pytest.param(b"\x00\x00\x00\x18ftypiso5" + b"\x00" * 16, id="mp4-without-moov"),
    ],
)
def test_bytes_that_tell_nothing_give_none(data: bytes) -> None:
    assert ts_streams(data) is None
    assert mp4_streams(data) is None
    assert mp4_init(data) is None
    assert matroska_streams(data) is None


def test_an_empty_flv_tag_names_nothing() -> None:
    # any other first byte of a tag body is a codec id
    assert flv_video(b"") is None
    assert flv_audio(b"") is None
    assert flv_audio(b"\xf0") is None  # SoundFormat 15: device-specific


@pytest.mark.parametrize(
    ("reader", "data"),
    [
        pytest.param(h264_size, b"\x67\x64", id="short-sps"),
        pytest.param(aac_config, b"", id="empty-asc"),
        pytest.param(adts_config, b"\xff\xf1\x7c\x80\x00\x00\x00", id="bad-rate"),
    ],
)
def test_broken_headers_are_unknown_not_errors(reader, data: bytes) -> None:
    assert reader(data) is None


def test_an_flv_file_names_a_codec_without_a_sequence_header(tmp_path) -> None:
    """MP3 audio has no sequence header: the first audio tag names it."""
    sample = (RESOURCES / "sample.flv").read_bytes()
    header = next(
        t for t in FlvParser().feed(sample) if isinstance(t, FlvTag) and t.is_video
    )
    mp3 = [FlvTag(TAG_AUDIO, 40 * i, b"\x2f" + b"\xff\xfb\x90\x00") for i in range(5)]
    output = FlvOutput(lambda i: tmp_path / f"{i}.flv")
    output.header = FlvHeader(has_audio=True, has_video=True)
    prelude = Prelude(video_header=header)
    group = [video(0, key=True), *mp3]
    output.apply(DataGroup(tags=group, prelude=prelude, splittable=True))
    [closed] = [e.file for e in output.close() if e.kind == "closed"]
    assert [
        (s.kind, s.codec, s.sample_rate, s.channels) for s in closed.streams or []
    ] == [
        ("video", "h264", None, None),
        ("audio", "mp3", 44100, 2),
    ]
    assert AVC_SEQ.is_video_sequence_header  # the fake header names no picture size
    assert flv_video(AVC_SEQ.data) == MediaStream(kind="video", codec="h264")

"""onMetaData: parsing, synthesis, the keyframe index and its fixed size."""

from __future__ import annotations

import math

import pytest

from activities.engines.flv.amf import AmfEcmaArray, AmfObject, decode_all, encode_all
from activities.engines.flv.meta import (
    KeyframeIndex,
    metadata_body,
    parse_metadata,
    synthesise_metadata,
)
from activities.engines.flv.tags import TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, FlvTag


def script(*values: object) -> FlvTag:
    return FlvTag(TAG_SCRIPT, 0, encode_all(list(values)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        pytest.param(
            script("onMetaData", AmfEcmaArray(width=1.0)),
            AmfEcmaArray(width=1.0),
            id="ecma-array",
        ),
        pytest.param(
            script("onMetaData", AmfObject(width=1.0)),
            AmfEcmaArray(width=1.0),
            id="object",
        ),
        pytest.param(
            script("onMetaData", AmfEcmaArray(width=1.0), None),
            AmfEcmaArray(width=1.0),
            id="trailing-null",
        ),
        pytest.param(script("onMetaData", None), None, id="null"),
        pytest.param(script("onMetaData"), None, id="no-value"),
        pytest.param(script("onCuePoint", AmfObject()), None, id="other"),
        pytest.param(FlvTag(TAG_SCRIPT, 0, b"\x02\x00"), None, id="corrupt"),
    ],
)
def test_parse_metadata(tag: FlvTag, expected: AmfEcmaArray | None) -> None:
    assert parse_metadata(tag) == expected


@pytest.mark.parametrize(
    ("config", "rate", "channels"),
    [
        pytest.param("AF00119056E500", 48000.0, 2.0, id="48k-stereo"),
        pytest.param("AF001210", 44100.0, 2.0, id="44k-stereo"),
        pytest.param("AF001288", 32000.0, 1.0, id="32k-mono"),
    ],
)
def test_synthesised_metadata_reads_the_aac_config(
    config: str, rate: float, channels: float
) -> None:
    audio = FlvTag(TAG_AUDIO, 0, bytes.fromhex(config))
    video = FlvTag(TAG_VIDEO, 0, b"\x17\x00\x00\x00\x00")
    meta = synthesise_metadata(video, audio)
    assert meta["videocodecid"] == 7.0
    assert meta["audiocodecid"] == 10.0
    assert meta["audiosamplerate"] == rate
    assert meta["audiochannels"] == channels
    assert meta["stereo"] is (channels == 2)


def test_synthesised_metadata_without_headers_is_empty() -> None:
    assert synthesise_metadata(None, None) == {}


def test_index_keeps_keyframes_at_least_a_second_apart() -> None:
    index = KeyframeIndex(slots=10)
    for t in range(0, 5000, 400):
        index.add(t, t * 10)
    assert index.times_ms == [0, 1200, 2400, 3600, 4800]
    assert index.positions == [0, 12000, 24000, 36000, 48000]


def test_a_full_index_thins_itself_and_still_covers_the_file() -> None:
    index = KeyframeIndex(slots=8)
    for t in range(0, 60_000, 1000):
        index.add(t, t)
    assert len(index.times_ms) <= 8
    assert index.times_ms[0] == 0
    assert index.times_ms[-1] >= 48_000
    gaps = {b - a for a, b in zip(index.times_ms, index.times_ms[1:], strict=False)}
    assert gaps == {8000}


def test_the_body_keeps_its_size_whatever_the_values() -> None:
    properties = AmfEcmaArray(width=1920.0, duration=99.0, filesize=5.0, encoder="x")
    index = KeyframeIndex(slots=16)
    empty = metadata_body(properties, duration_ms=0, file_size=0, index=index)
    for t in range(0, 40_000, 2000):
        index.add(t, t * 100)
    full = metadata_body(properties, duration_ms=40_000, file_size=10**9, index=index)
    assert len(full) == len(empty)
    name, meta = decode_all(full)
    assert name == "onMetaData"
    assert isinstance(meta, AmfEcmaArray)
    assert list(meta) == [
        "width",
        "encoder",
        "duration",
        "filesize",
        "keyframes",
    ]
    assert meta["duration"] == 40.0
    assert meta["filesize"] == 1e9
    keyframes = meta["keyframes"]
    assert isinstance(keyframes, AmfObject)
    assert keyframes["times"] == [t / 1000 for t in index.times_ms]
    spacer = keyframes["spacer"]
    assert isinstance(spacer, list)
    assert len(spacer) == 2 * (16 - len(index.times_ms))
    assert all(isinstance(v, float) and math.isnan(v) for v in spacer)


def test_the_body_can_leave_the_index_out() -> None:
    body = metadata_body(AmfEcmaArray(), duration_ms=1500, file_size=10, index=None)
    assert decode_all(body) == ["onMetaData", AmfEcmaArray(duration=1.5, filesize=10.0)]

"""onMetaData: parsing, synthesis, the keyframe index and its fixed size."""

from __future__ import annotations

import math

import pytest

from activities.engines.flv.amf import (
    AmfEcmaArray,
    AmfObject,
    decode_all,
    encode,
    encode_all,
)
from activities.engines.flv.meta import (
    KeyframeIndex,
    metadata_body,
    metadata_numbers,
    metadata_tail,
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


def test_the_kept_encoding_matches_the_index_through_thinning() -> None:
    index = KeyframeIndex(slots=8)
    assert index.encode() == encode(index.to_amf())
    versions = {index.version}
    for t in range(0, 30_000, 700):
        index.add(t, t * 37)
        assert index.encode() == encode(index.to_amf())
        versions.add(index.version)
    assert len(versions) > 8  # it changed with every keyframe kept


@pytest.mark.parametrize("with_index", [True, False])
def test_the_tail_is_the_end_of_the_body(with_index: bool) -> None:
    properties = AmfEcmaArray(width=1920.0, Duration=3.0, keyframes=None, title="é")
    index = KeyframeIndex(slots=12) if with_index else None
    for duration_ms, size in [(0, 0), (1500, 10**6), (40_000, 10**9)]:
        if index is not None:
            index.add(duration_ms, size)
        body = metadata_body(
            properties, duration_ms=duration_ms, file_size=size, index=index
        )
        tail = metadata_tail(duration_ms=duration_ms, file_size=size, index=index)
        assert body.endswith(tail)
        assert tail.startswith(
            metadata_numbers(duration_ms=duration_ms, file_size=size)
        )

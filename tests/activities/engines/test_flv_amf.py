"""AMF0: every type both ways, byte layouts, and corrupt input."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime

import pytest

from activities.engines.flv.amf import (
    UNDEFINED,
    AmfDate,
    AmfEcmaArray,
    AmfError,
    AmfObject,
    AmfUndefined,
    AmfValue,
    decode,
    decode_all,
    encode,
    encode_all,
)
from activities.engines.flv.tags import FlvParser, FlvTag
from tests.fakes.flv_samples import RESOURCES, read_sample, script_values


@pytest.mark.parametrize(
    ("value", "data"),
    [
        pytest.param(1.5, b"\x00" + struct.pack(">d", 1.5), id="number"),
        pytest.param(True, b"\x01\x01", id="true"),
        pytest.param(False, b"\x01\x00", id="false"),
        pytest.param("ab", b"\x02\x00\x02ab", id="string"),
        pytest.param(None, b"\x05", id="null"),
        pytest.param(UNDEFINED, b"\x06", id="undefined"),
        pytest.param(
            AmfObject(a=1.0),
            b"\x03\x00\x01a\x00" + struct.pack(">d", 1) + b"\0\0\x09",
            id="object",
        ),
        pytest.param(
            AmfEcmaArray(a=None),
            b"\x08\x00\x00\x00\x01\x00\x01a\x05\x00\x00\x09",
            id="ecma-array",
        ),
        pytest.param(["x"], b"\x0a\x00\x00\x00\x01\x02\x00\x01x", id="strict-array"),
        pytest.param(
            AmfDate(1000.0, -60),
            b"\x0b" + struct.pack(">dh", 1000.0, -60),
            id="date",
        ),
    ],
)
def test_encodes_and_decodes_each_type(value: AmfValue, data: bytes) -> None:
    assert encode(value) == data
    decoded, end = decode(data)
    assert end == len(data)
    assert decoded == value
    assert type(decoded) is type(value)


def test_ints_encode_as_numbers() -> None:
    assert decode(encode(3))[0] == 3.0


def test_long_strings_use_the_long_form() -> None:
    text = "é" * 40_000
    data = encode(text)
    assert data[0] == 0x0C
    assert decode(data)[0] == text


def test_nested_values_round_trip() -> None:
    value = AmfEcmaArray(
        duration=12.5,
        keyframes=AmfObject(times=[0.0, 2.0], filepositions=[13.0, 4000.0]),
        tags=["a", None, UNDEFINED, True],
        when=AmfDate.from_datetime(datetime(2021, 3, 9, 13, 50, tzinfo=UTC)),
    )
    assert decode_all(encode_all(["onMetaData", value])) == ["onMetaData", value]


def test_nan_survives() -> None:
    value = decode(encode(math.nan))[0]
    assert isinstance(value, float)
    assert math.isnan(value)


def test_undefined_is_a_singleton() -> None:
    assert AmfUndefined() is UNDEFINED


def test_date_converts_to_datetime() -> None:
    when = datetime(2021, 3, 9, 13, 50, 51, 213000, tzinfo=UTC)
    assert AmfDate.from_datetime(when).to_datetime() == when


def test_an_ecma_array_without_end_marker_ends_with_the_data() -> None:
    data = b"\x08\x00\x00\x00\x01\x00\x01a\x01\x01"
    assert decode(data) == (AmfEcmaArray(a=True), len(data))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x00\x01\x02", id="short-number"),
        pytest.param(b"\x02\x00\x09abc", id="short-string"),
        pytest.param(b"\x0a\xff\xff\xff\xff\x05", id="huge-strict-array"),
        pytest.param(b"\x07\x00\x01", id="reference"),
        pytest.param(b"\x11", id="amf3-switch"),
        pytest.param(b"\x0a\x00\x00\x00\x01" * 100 + b"\x05", id="too-deep"),
    ],
)
def test_corrupt_data_raises(data: bytes) -> None:
    with pytest.raises(AmfError):
        decode_all(data)


def test_values_without_amf0_form_raise() -> None:
    with pytest.raises(AmfError, match="no AMF0 encoding"):
        encode(b"bytes")  # type: ignore[arg-type]


def test_the_real_metadata_of_sample_flv() -> None:
    """Decoding the real file's onMetaData gives the oracle's values; encoding
    them gives the file's bytes back."""
    items = FlvParser().feed((RESOURCES / "sample.flv").read_bytes())
    script = items[1]
    assert isinstance(script, FlvTag)
    expected = script_values(read_sample(RESOURCES / "sample.flv.parsed.xml")[0])
    assert decode_all(script.data) == expected
    assert encode_all(expected) == script.data
    meta = expected[1]
    assert isinstance(meta, AmfEcmaArray)
    assert meta["duration"] == 10.467
    assert meta["encoder"] == "Lavf58.29.100"

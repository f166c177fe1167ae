"""AMF0, the value encoding of FLV script tags (onMetaData), both ways.

Python values stand for AMF0 types:

    float / int    Number (0)            AmfObject      Object (3)
    bool           Boolean (1)           None           Null (5)
    str            String (2), or Long   UNDEFINED      Undefined (6)
                   String (12) when long AmfEcmaArray   ECMA array (8)
    list           Strict array (10)     AmfDate        Date (11)

Objects and ECMA arrays are both string-keyed maps; they are distinct `dict`
subclasses so that a decoded value encodes back to the same bytes. A plain `dict`
encodes as an Object. References (7), movie clips and AMF3 are not supported: FLV
metadata does not use them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, TypeAlias

NUMBER = 0x00
BOOLEAN = 0x01
STRING = 0x02
OBJECT = 0x03
NULL = 0x05
UNDEFINED_MARKER = 0x06
ECMA_ARRAY = 0x08
OBJECT_END = 0x09
STRICT_ARRAY = 0x0A
DATE = 0x0B
LONG_STRING = 0x0C

_END_OF_OBJECT = b"\x00\x00\x09"
_MAX_DEPTH = 64
_SHORT_STRING_MAX = 0xFFFF


class AmfError(ValueError):
    """The bytes are not valid AMF0 (or use a type this module does not read)."""


class AmfUndefined:
    """The AMF0 `undefined` value (a singleton: `UNDEFINED`)."""

    _instance: AmfUndefined | None = None

    def __new__(cls) -> AmfUndefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = AmfUndefined()


@dataclass(frozen=True)
class AmfDate:
    """An AMF0 date: milliseconds since the Unix epoch (UTC) and a zone offset.

    Attributes:
        millis: milliseconds since 1970-01-01T00:00:00Z.
        tz_minutes: the writer's zone offset; readers are told to ignore it.
    """

    millis: float
    tz_minutes: int = 0

    @classmethod
    def from_datetime(cls, when: datetime) -> AmfDate:
        """Build a date from an aware datetime."""
        offset = when.utcoffset() or timedelta()
        return cls(when.timestamp() * 1000, int(offset.total_seconds() // 60))

    def to_datetime(self) -> datetime:
        """The instant as an aware UTC datetime."""
        return datetime.fromtimestamp(self.millis / 1000, UTC)


class AmfObject(dict[str, "AmfValue"]):
    """An AMF0 anonymous object (type 3)."""


class AmfEcmaArray(dict[str, "AmfValue"]):
    """An AMF0 ECMA (associative) array (type 8): what onMetaData usually carries."""


AmfValue: TypeAlias = (
    float
    | int
    | bool
    | str
    | AmfUndefined
    | AmfDate
    | list["AmfValue"]
    | dict[str, "AmfValue"]
    | None
)


def encode(value: AmfValue) -> bytes:
    """Encode one value.

    Args:
        value: a value of one of the types in the module docstring.

    Returns:
        The AMF0 bytes, type marker first.

    Raises:
        AmfError: the value has no AMF0 form.
    """
    out = bytearray()
    _encode(value, out, 0)
    return bytes(out)


def encode_all(values: list[AmfValue]) -> bytes:
    """Encode a sequence of values back to back (a script tag body)."""
    out = bytearray()
    for value in values:
        _encode(value, out, 0)
    return bytes(out)


def decode(data: bytes, pos: int = 0) -> tuple[AmfValue, int]:
    """Decode one value.

    Args:
        data: the buffer.
        pos: where the value's type marker is.

    Returns:
        The value and the position just after it.

    Raises:
        AmfError: truncated data, an unknown marker, or nesting deeper than 64.
    """
    try:
        return _decode(data, pos, 0)
    except (struct.error, IndexError) as err:
        raise AmfError(f"truncated AMF0 value at byte {pos}") from err


def decode_all(data: bytes) -> list[AmfValue]:
    """Decode every value of a buffer (a script tag body).

    Raises:
        AmfError: as `decode`.
    """
    values: list[AmfValue] = []
    pos = 0
    while pos < len(data):
        value, pos = decode(data, pos)
        values.append(value)
    return values


def _encode_key(key: str, out: bytearray) -> None:
    raw = key.encode()
    if len(raw) > _SHORT_STRING_MAX:
        raise AmfError(f"AMF0 property name longer than 65535 bytes: {key[:32]!r}…")
    out += struct.pack(">H", len(raw)) + raw


def _encode(value: AmfValue, out: bytearray, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise AmfError("AMF0 value nested too deeply")
    # bool before int: bool is an int subclass
    if isinstance(value, bool):
        out += struct.pack(">B?", BOOLEAN, value)
    elif isinstance(value, int | float):
        out += struct.pack(">Bd", NUMBER, float(value))
    elif isinstance(value, str):
        raw = value.encode()
        if len(raw) > _SHORT_STRING_MAX:
            out += struct.pack(">BI", LONG_STRING, len(raw)) + raw
        else:
            out += struct.pack(">BH", STRING, len(raw)) + raw
    elif value is None:
        out.append(NULL)
    elif isinstance(value, AmfUndefined):
        out.append(UNDEFINED_MARKER)
    elif isinstance(value, AmfDate):
        out += struct.pack(">Bdh", DATE, value.millis, value.tz_minutes)
    elif isinstance(value, list):
        out += struct.pack(">BI", STRICT_ARRAY, len(value))
        for item in value:
            _encode(item, out, depth + 1)
    elif isinstance(value, dict):
        if isinstance(value, AmfEcmaArray):
            out += struct.pack(">BI", ECMA_ARRAY, len(value))
        else:
            out.append(OBJECT)
        for key, item in value.items():
            _encode_key(key, out)
            _encode(item, out, depth + 1)
        out += _END_OF_OBJECT
    else:
        raise AmfError(f"no AMF0 encoding for {type(value).__name__}")


def _decode_string(data: bytes, pos: int, size_format: str) -> tuple[str, int]:
    (size,) = struct.unpack_from(size_format, data, pos)
    pos += struct.calcsize(size_format)
    if pos + size > len(data):
        raise AmfError(f"AMF0 string runs past the end of the data at byte {pos}")
    return data[pos : pos + size].decode(errors="replace"), pos + size


def _decode_properties(
    data: bytes, pos: int, depth: int, into: dict[str, AmfValue]
) -> int:
    # Some encoders end an ECMA array at the end of the tag without the end marker.
    while pos < len(data):
        if data[pos : pos + 3] == _END_OF_OBJECT:
            return pos + 3
        key, pos = _decode_string(data, pos, ">H")
        into[key], pos = _decode(data, pos, depth + 1)
    return pos


def _decode(data: bytes, pos: int, depth: int) -> tuple[AmfValue, int]:
    if depth > _MAX_DEPTH:
        raise AmfError("AMF0 value nested too deeply")
    marker = data[pos]
    pos += 1
    if marker == NUMBER:
        return struct.unpack_from(">d", data, pos)[0], pos + 8
    if marker == BOOLEAN:
        return data[pos] != 0, pos + 1
    if marker == STRING:
        return _decode_string(data, pos, ">H")
    if marker == LONG_STRING:
        return _decode_string(data, pos, ">I")
    if marker == NULL:
        return None, pos
    if marker == UNDEFINED_MARKER:
        return UNDEFINED, pos
    if marker == DATE:
        millis, tz = struct.unpack_from(">dh", data, pos)
        return AmfDate(millis, tz), pos + 10
    if marker in (OBJECT, ECMA_ARRAY):
        # The ECMA array's count is advisory: the end marker is what ends it.
        pos += 4 if marker == ECMA_ARRAY else 0
        mapping: dict[str, AmfValue] = (
            AmfEcmaArray() if marker == ECMA_ARRAY else AmfObject()
        )
        return mapping, _decode_properties(data, pos, depth, mapping)
    if marker == STRICT_ARRAY:
        (count,) = struct.unpack_from(">I", data, pos)
        pos += 4
        # Each value takes at least one byte: a bigger count is corrupt, and would
        # otherwise allocate before failing.
        if count > len(data) - pos:
            raise AmfError(f"AMF0 strict array of {count} values overruns the data")
        items: list[AmfValue] = []
        for _ in range(count):
            item, pos = _decode(data, pos, depth + 1)
            items.append(item)
        return items, pos
    raise AmfError(f"unsupported AMF0 type marker 0x{marker:02x} at byte {pos - 1}")

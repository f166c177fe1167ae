"""TARS (JCE) binary serialisation, the encoding of Huya's websocket protocol.

Each field is a head (tag and type in one byte, or type byte + tag byte when the tag
is 15 or more) then the value, big-endian. Integers take the smallest width that
holds them and zero has a type of its own; strings have a 1- or 4-byte length; a
"simple list" is raw bytes; structs are fields between begin/end marks. A struct at
the top of a buffer is written bare (no marks), as Huya's client does.

Decoded structs are `dict[int, value]` by tag. To encode, wrap a struct's fields in
`Struct` (a plain dict is a TARS map).
"""

from __future__ import annotations

import struct
from typing import Any

INT8, INT16, INT32, INT64, FLOAT, DOUBLE = 0, 1, 2, 3, 4, 5
STRING1, STRING4, MAP, LIST, STRUCT_BEGIN, STRUCT_END, ZERO, SIMPLE_LIST = range(6, 14)
_INTS = {
    INT8: struct.Struct(">b"),
    INT16: struct.Struct(">h"),
    INT32: struct.Struct(">i"),
    INT64: struct.Struct(">q"),
}
_F32, _F64 = struct.Struct(">f"), struct.Struct(">d")


class Struct(dict[int, Any]):
    """A TARS struct to encode: field values by tag."""


def _head(tag: int, kind: int) -> bytes:
    return bytes([tag << 4 | kind]) if tag < 15 else bytes([0xF0 | kind, tag])


def encode_field(tag: int, value: Any) -> bytes:
    """Encode one tagged value (bool/int/float/str/bytes/list/dict/Struct)."""
    if isinstance(value, bool | int):
        value = int(value)
        if value == 0:
            return _head(tag, ZERO)
        for kind in (INT8, INT16, INT32, INT64):
            try:
                return _head(tag, kind) + _INTS[kind].pack(value)
            except struct.error:
                continue
        raise ValueError(f"integer out of int64 range: {value}")
    if isinstance(value, float):
        return _head(tag, DOUBLE) + _F64.pack(value)
    if isinstance(value, str):
        data = value.encode()
        if len(data) < 256:
            return _head(tag, STRING1) + bytes([len(data)]) + data
        return _head(tag, STRING4) + struct.pack(">I", len(data)) + data
    if isinstance(value, bytes):
        return (
            _head(tag, SIMPLE_LIST)
            + _head(0, INT8)
            + encode_field(0, len(value))
            + value
        )
    if isinstance(value, Struct):
        return _head(tag, STRUCT_BEGIN) + encode_struct(value) + _head(0, STRUCT_END)
    if isinstance(value, dict):
        out = _head(tag, MAP) + encode_field(0, len(value))
        for key, item in value.items():
            out += encode_field(0, key) + encode_field(1, item)
        return out
    if isinstance(value, list):
        return (
            _head(tag, LIST)
            + encode_field(0, len(value))
            + b"".join(encode_field(0, item) for item in value)
        )
    raise TypeError(f"cannot TARS-encode {type(value).__name__}")


def encode_struct(fields: dict[int, Any]) -> bytes:
    """A struct's fields, bare (no begin/end marks), in tag order."""
    return b"".join(encode_field(tag, fields[tag]) for tag in sorted(fields))


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ValueError("TARS data truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def head(self) -> tuple[int, int]:
        first = self.take(1)[0]
        tag, kind = first >> 4, first & 0x0F
        if tag == 15:
            tag = self.take(1)[0]
        return tag, kind

    def value(self, kind: int) -> Any:
        if kind in _INTS:
            return _INTS[kind].unpack(self.take(_INTS[kind].size))[0]
        if kind == ZERO:
            return 0
        if kind == FLOAT:
            return _F32.unpack(self.take(4))[0]
        if kind == DOUBLE:
            return _F64.unpack(self.take(8))[0]
        if kind in (STRING1, STRING4):
            size = (
                self.take(1)[0]
                if kind == STRING1
                else struct.unpack(">I", self.take(4))[0]
            )
            return self.take(size).decode("utf-8", "replace")
        if kind == MAP:
            size = self.length()
            return {self.field()[1]: self.field()[1] for _ in range(size)}
        if kind == LIST:
            return [self.field()[1] for _ in range(self.length())]
        if kind == SIMPLE_LIST:
            self.head()  # the element type: always a byte
            return self.take(self.length())
        if kind == STRUCT_BEGIN:
            return self.fields(nested=True)
        raise ValueError(f"unknown TARS type {kind}")

    def length(self) -> int:
        _, kind = self.head()
        value = self.value(kind)
        if not isinstance(value, int) or value < 0:
            raise ValueError("TARS length is not a non-negative integer")
        return value

    def field(self) -> tuple[int, Any]:
        tag, kind = self.head()
        return tag, self.value(kind)

    def fields(self, *, nested: bool = False) -> dict[int, Any]:
        out: dict[int, Any] = {}
        while self.pos < len(self.data):
            tag, kind = self.head()
            if kind == STRUCT_END:
                return out
            out[tag] = self.value(kind)
        if nested:
            raise ValueError("TARS struct without its end mark")
        return out


def decode_struct(data: bytes) -> dict[int, Any]:
    """Decode a bare struct (a whole buffer of fields) into values by tag.

    Raises:
        ValueError: the bytes are not TARS.
    """
    return _Reader(data).fields()

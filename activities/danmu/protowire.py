"""A minimal protobuf wire codec: the few fields our protocols read, no generated code.

Douyin's push frames and Bilibili's INTERACT_WORD_V2 are protobuf. We read a handful
of fields from each message by number (from the published schemas), so a 60-line wire
reader beats committing thousands of generated lines for a 21,000-line schema, and
unknown fields are skipped as protobuf intends.
"""

from __future__ import annotations

from collections.abc import Iterable

Fields = dict[int, list[int | bytes]]

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def parse(buf: bytes) -> Fields:
    """Split one message into its fields: varints as ints, the rest as bytes.

    Raises:
        ValueError: the bytes are not a protobuf message.
    """
    fields: Fields = {}
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
        elif wire == _LEN:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise ValueError("length-delimited field runs past the end")
            value, pos = buf[pos : pos + size], pos + size
        elif wire == _I64:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == _I32:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if number == 0 or pos > end:
            raise ValueError("not a protobuf message")
        fields.setdefault(number, []).append(value)
    return fields


def get_int(fields: Fields, number: int, default: int = 0) -> int:
    """The last value of a scalar field (protobuf's last-one-wins)."""
    values = fields.get(number)
    if not values or not isinstance(values[-1], int):
        return default
    return values[-1]


def get_bytes(fields: Fields, number: int) -> bytes:
    """The last value of a bytes / message field (b'' when absent)."""
    values = fields.get(number)
    if not values or not isinstance(values[-1], bytes):
        return b""
    return values[-1]


def get_str(fields: Fields, number: int) -> str:
    """A string field, invalid UTF-8 replaced rather than rejected."""
    return get_bytes(fields, number).decode("utf-8", "replace")


def get_message(fields: Fields, number: int) -> Fields:
    """A sub-message field, parsed ({} when absent)."""
    raw = get_bytes(fields, number)
    return parse(raw) if raw else {}


def repeated(fields: Fields, number: int) -> list[bytes]:
    """Every value of a repeated message / bytes field, in order."""
    return [v for v in fields.get(number, ()) if isinstance(v, bytes)]


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # negative int32/int64 are ten-byte two's complement
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode(pairs: Iterable[tuple[int, int | str | bytes]]) -> bytes:
    """Encode (number, value) pairs: ints as varints, str/bytes length-delimited.

    Zero ints and empty strings are written too; proto3 readers accept them.
    """
    out = bytearray()
    for number, value in pairs:
        if isinstance(value, int):
            out += _encode_varint(number << 3 | _VARINT) + _encode_varint(value)
        else:
            data = value.encode() if isinstance(value, str) else value
            out += _encode_varint(number << 3 | _LEN) + _encode_varint(len(data))
            out += data
    return bytes(out)

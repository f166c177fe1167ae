"""BililiveRecorder's XML FLV samples: read them, and build FLV bytes from them.

The samples (`tests/resources/flv/`, GPL-3.0, see its README and FORMAT.md) describe
streams tag by tag without payloads. `sample_to_flv` rebuilds a real FLV: sequence
headers from `BinaryData`, script tags encoded from `ScriptData`, and other bodies
synthesised with the right size, flags, NAL layout and composition time. Each
synthesised body embeds the tag's position, so no two bodies are equal by accident.

`TagInfo` is the comparable shape of a tag, built from an XML element
(`xml_tag_info`) or from a parsed tag (`tag_info`).
"""

from __future__ import annotations

import json
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from activities.engines.flv.amf import (
    AmfDate,
    AmfEcmaArray,
    AmfObject,
    AmfValue,
    decode_all,
    encode_all,
)
from activities.engines.flv.tags import (
    TAG_AUDIO,
    TAG_SCRIPT,
    TAG_VIDEO,
    FlvHeader,
    FlvParser,
    FlvTag,
)

RESOURCES = Path(__file__).parent.parent / "resources" / "flv"


def _cases(kind: str) -> list[str]:
    inputs = (RESOURCES / kind).glob("*.input.xml")
    return sorted(p.name.removesuffix(".input.xml") for p in inputs)


GOOD = _cases("good")
BAD = _cases("bad")

_TYPES = {"Audio": TAG_AUDIO, "Video": TAG_VIDEO, "Script": TAG_SCRIPT}
_TYPE_NAMES = {v: k for k, v in _TYPES.items()}
_NAL_TYPES = {
    "CodedSliceOfANonIdrPicture": 1,
    "CodedSliceOfAnIdrPicture": 5,
    "Sei": 6,
    "Sps": 7,
    "Pps": 8,
    "AccessUnitDelimiter": 9,
    "EndOfSequence": 10,
    "FillerData": 12,
}


@dataclass(frozen=True)
class TagInfo:
    """What a test compares of a tag.

    Attributes:
        type: `Audio`, `Video` or `Script`.
        flags: subset of {`Header`, `Keyframe`, `End`}.
        size: body size; for headers, the length of the body actually used.
        timestamp: milliseconds.
        binary: the body of a sequence header.
    """

    type: str
    flags: frozenset[str]
    size: int
    timestamp: int
    binary: bytes | None = None


def xml_tags(root: ET.Element) -> list[ET.Element]:
    """The `<Tag>` elements of a sample document."""
    tags = root.find("Tags")
    assert tags is not None
    return list(tags)


def read_sample(path: Path) -> list[ET.Element]:
    """The tags of an input sample (or of `sample.flv.parsed.xml`)."""
    return xml_tags(ET.parse(path).getroot())


def read_expected(path: Path) -> tuple[dict[str, Any], list[list[ET.Element]]]:
    """Split a `bad/*.expected.txt`: its JSON summary and the tags of each file."""
    text = path.read_text(encoding="utf-8")
    head, *documents = re.split(r"(?=<\?xml )", text)
    files = [xml_tags(ET.fromstring(doc.encode())) for doc in documents]
    return json.loads(head), files


def xml_tag_info(element: ET.Element) -> TagInfo:
    """The comparable shape of an XML `<Tag>`."""
    flags = frozenset(element.get("Flag", "None").split()) - {"None"}
    binary_el = element.find("BinaryData")
    binary = bytes.fromhex(binary_el.text or "") if binary_el is not None else None
    size = int(element.get("Size", "0"))
    if "Header" in flags and binary is not None:
        size = len(binary)
    return TagInfo(
        type=element.get("Type", ""),
        flags=flags,
        size=size,
        timestamp=int(element.get("Timestamp", "0")),
        binary=binary if "Header" in flags else None,
    )


def tag_info(tag: FlvTag) -> TagInfo:
    """The comparable shape of a parsed tag, flags derived from its bytes."""
    flags = set()
    if tag.is_sequence_header:
        flags.add("Header")
    if tag.is_keyframe:
        flags.add("Keyframe")
    if tag.is_end_of_sequence:
        flags.add("End")
    return TagInfo(
        type=_TYPE_NAMES.get(tag.tag_type, str(tag.tag_type)),
        flags=frozenset(flags),
        size=len(tag.data),
        timestamp=tag.timestamp,
        binary=tag.data if tag.is_sequence_header else None,
    )


def amf_from_json(item: dict[str, Any]) -> AmfValue:
    """Convert one `{"Type", "Value"}` item of `ScriptData` to an AMF value."""
    kind: str = item["Type"]
    value: Any = item.get("Value")
    if kind == "Number":
        return float(value)
    if kind in ("String", "LongString", "Boolean"):
        return value  # type: ignore[no-any-return]
    if kind == "Null":
        return None
    if kind == "Date":
        return AmfDate.from_datetime(datetime.fromisoformat(value))
    if kind == "Object":
        return AmfObject({k: amf_from_json(v) for k, v in value.items()})
    if kind == "EcmaArray":
        return AmfEcmaArray({k: amf_from_json(v) for k, v in value.items()})
    if kind == "StrictArray":
        return [amf_from_json(v) for v in value]
    raise ValueError(f"unknown ScriptData type {kind}")


def script_values(element: ET.Element) -> list[AmfValue]:
    """The AMF values of a script `<Tag>`."""
    data = element.find("ScriptData")
    assert data is not None
    assert data.text
    return [amf_from_json(item) for item in json.loads(data.text)]


def script_duration(tag: FlvTag) -> float:
    """The `duration` of an onMetaData tag."""
    _, meta = decode_all(tag.data)
    assert isinstance(meta, dict)
    duration = meta["duration"]
    assert isinstance(duration, float)
    return duration


def _filler(size: int, seed: int) -> bytearray:
    pattern = struct.pack(">I", seed) + b"\xa5\x5a"
    return bytearray((pattern * (size // len(pattern) + 1))[:size])


def _body(element: ET.Element, position: int) -> bytes:
    kind = element.get("Type", "")
    flags = set(element.get("Flag", "None").split())
    binary = element.find("BinaryData")
    if kind == "Script":
        return encode_all(script_values(element))
    if "Header" in flags and binary is not None:
        return bytes.fromhex(binary.text or "")
    size = int(element.get("Size", "0"))
    body = _filler(size, position)
    extra = element.find("ExtraData")
    first = bytes.fromhex(extra.get("FirstBytes", "")) if extra is not None else b""
    if kind == "Audio":
        body[:2] = first or b"\xaf\x01"
        return bytes(body[:size])
    if "End" in flags:
        return b"\x17\x02\x00\x00\x00"[:size]
    body[:2] = first or (b"\x17\x01" if "Keyframe" in flags else b"\x27\x01")
    cts = int(extra.get("CompositionTime", "0")) if extra is not None else 0
    body[2:5] = (cts & 0xFFFFFF).to_bytes(3, "big")
    for nal in element.findall("Nalus"):
        start, full = int(nal.get("StartPosition", "0")), int(nal.get("FullSize", "0"))
        nal_type = _NAL_TYPES.get(nal.get("Type", ""), 1)
        body[start - 4 : start] = full.to_bytes(4, "big")
        body[start] = (3 << 5 if nal_type != 6 else 0) | nal_type
    return bytes(body[:size])


def sample_tags(path: Path) -> list[FlvTag]:
    """Build the tags of an XML sample."""
    return [
        FlvTag(_TYPES[el.get("Type", "")], int(el.get("Timestamp", "0")), _body(el, i))
        for i, el in enumerate(read_sample(path))
    ]


def flv_file(tags: list[FlvTag]) -> bytes:
    """FLV bytes: a header whose flags match the tags, then the tags."""
    header = FlvHeader(
        has_audio=any(t.is_audio for t in tags),
        has_video=any(t.is_video for t in tags),
    )
    return header.encode() + b"".join(t.encode() for t in tags)


def sample_to_flv(path: Path) -> bytes:
    """Build the FLV bytes of an XML sample."""
    return flv_file(sample_tags(path))


def check_keyframe_index(data: bytes) -> int:
    """Check a written file's onMetaData against its tags; return the index size.

    The `keyframes` index must point at keyframe tags whose timestamps match its
    times, `filesize` must be the file's size and `duration` its last media tag.
    """
    items = FlvParser().feed(data)
    tags = [t for t in items if isinstance(t, FlvTag)]
    _, meta = decode_all(tags[0].data)
    assert isinstance(meta, dict)
    assert meta["filesize"] == len(data)
    last_media = max((t.timestamp for t in tags if t.is_media), default=0)
    assert meta["duration"] == last_media / 1000
    keyframes = meta["keyframes"]
    assert isinstance(keyframes, dict)
    times, positions = keyframes["times"], keyframes["filepositions"]
    assert isinstance(times, list)
    assert isinstance(positions, list)
    assert len(times) == len(positions)
    header = FlvHeader(has_audio=True, has_video=True).encode()
    for time, position in zip(times, positions, strict=True):
        assert isinstance(time, float)
        assert isinstance(position, float)
        start = int(position)
        end = start + 15 + int.from_bytes(data[start + 1 : start + 4], "big")
        _, keyframe = FlvParser().feed(header + data[start:end])
        assert isinstance(keyframe, FlvTag)
        assert keyframe.is_keyframe
        assert keyframe.timestamp == round(time * 1000)
    return len(times)

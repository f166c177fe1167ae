"""The media time of a file's first frame, read from the bytes that open it.

The native HLS engine reports each file's start as wall clock and media time of its
first frame (`SegmentState.started_at`, `media_start_secs`): what danmu and other
side files align to. This module reads the media time: the smallest first PTS of
the elementary streams of an MPEG-TS segment (ISO/IEC 13818-1 2.4.3.7), or the
smallest `tfdt` base media decode time of an fMP4 fragment, in its track's
`mdhd` timescale (ISO/IEC 14496-12 8.8.12, 8.4.2). Both return None when the
bytes do not tell.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

_TS_PACKET = 188
_TS_SYNC = 0x47
_PTS_HZ = 90_000
# the first PES of every stream starts within the first few hundred packets
_TS_SCAN_PACKETS = 2_000
_MP4_NESTED = frozenset({b"moov", b"trak", b"mdia", b"moof", b"traf"})


def ts_first_pts(data: bytes) -> float | None:
    """Seconds: the smallest first PTS among the streams of an MPEG-TS segment."""
    first: dict[int, int] = {}
    end = min(len(data), _TS_SCAN_PACKETS * _TS_PACKET) - _TS_PACKET + 1
    for at in range(0, max(end, 0), _TS_PACKET):
        packet = data[at : at + _TS_PACKET]
        if packet[0] != _TS_SYNC:
            break
        pid = ((packet[1] & 0x1F) << 8) | packet[2]
        control = (packet[3] >> 4) & 3
        if not packet[1] & 0x40 or not control & 1 or pid in first:
            continue  # not the start of a PES, or this stream's first already seen
        pes = packet[4 + (1 + packet[4] if control & 2 else 0) :]
        # a PES (not a PSI section) whose header carries a PTS
        if pes[:3] == b"\x00\x00\x01" and len(pes) >= 14 and pes[7] & 0x80:
            p = pes[9:14]
            first[pid] = (
                ((p[0] >> 1) & 0x07) << 30
                | p[1] << 22
                | (p[2] >> 1) << 15
                | p[3] << 7
                | p[4] >> 1
            )
    return min(first.values()) / _PTS_HZ if first else None


def mp4_first_time(init: bytes, fragment: bytes) -> float | None:
    """Seconds: the smallest `tfdt` of a fragment, in its track's timescale."""
    scales: dict[int, int] = {}
    for trak in _named(init, b"trak"):
        tkhd, mdhd = next(_named(trak, b"tkhd"), b""), next(_named(trak, b"mdhd"), b"")
        long_t, long_m = tkhd[:1] == b"\x01", mdhd[:1] == b"\x01"
        id_at, scale_at = (20 if long_t else 12), (20 if long_m else 12)
        if len(tkhd) >= id_at + 4 and len(mdhd) >= scale_at + 4:
            track = struct.unpack_from(">I", tkhd, id_at)[0]
            scales[track] = struct.unpack_from(">I", mdhd, scale_at)[0]
    found: list[float] = []
    for traf in _named(fragment, b"traf"):
        tfhd, tfdt = next(_named(traf, b"tfhd"), b""), next(_named(traf, b"tfdt"), b"")
        if len(tfhd) < 8 or len(tfdt) < 8:
            continue
        scale = scales.get(struct.unpack_from(">I", tfhd, 4)[0], 0)
        if tfdt[0] == 1 and len(tfdt) >= 12:
            base = struct.unpack_from(">Q", tfdt, 4)[0]
        else:
            base = struct.unpack_from(">I", tfdt, 4)[0]
        if scale:
            found.append(base / scale)
    return min(found) if found else None


def _named(data: bytes, wanted: bytes) -> Iterator[bytes]:
    """Bodies of the boxes named `wanted`, looking inside the container boxes."""
    at = 0
    while at + 8 <= len(data):
        size, name = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1 and at + 16 <= len(data):
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = len(data) - at
        if size < header:
            return
        body = data[at + header : at + size]
        if name == wanted:
            yield body
        elif name in _MP4_NESTED:
            yield from _named(body, wanted)
        at += size

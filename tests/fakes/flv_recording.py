"""Recording FLV in tests: synthetic streams, a recording sink, file checks.

Shared by the engine tests (`tests/activities/engines/test_flv*.py`): tags to build
streams from, `record_bytes` to run the engine over a mocked HTTP body, `FakeSink`
to watch the files, `parse_file`/`split_prelude` and PyAV's `check_playable` to
judge them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import av
import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import OutputPlan, RecordingStats, SegmentState
from activities.engines.flv import FlvEngine
from activities.engines.flv.tags import (
    TAG_AUDIO,
    TAG_SCRIPT,
    TAG_VIDEO,
    FlvHeader,
    FlvParser,
    FlvTag,
)
from tests.fakes.flv_samples import script_duration
from tests.fakes.media_check import monotonic_packets

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

URL = "http://edge.test/live.flv"
METADATA = FlvTag(TAG_SCRIPT, 0, b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00")
AVC_SEQ = FlvTag(TAG_VIDEO, 0, b"\x17\x00\x00\x00\x00avc-config-1")
AVC_SEQ_2 = FlvTag(TAG_VIDEO, 0, b"\x17\x00\x00\x00\x00avc-config-2")
AAC_SEQ = FlvTag(TAG_AUDIO, 0, b"\xaf\x00\x12\x10")


# Bodies carry their timestamp: byte-identical GOPs would be repeated data.
def video(ts: int, *, key: bool = False) -> FlvTag:
    frame = (b"\x17" if key else b"\x27") + b"\x01\x00\x00\x00"
    return FlvTag(TAG_VIDEO, ts, frame + (ts & 0xFFFFFFFF).to_bytes(4, "big"))


def audio(ts: int) -> FlvTag:
    return FlvTag(TAG_AUDIO, ts, b"\xaf\x01aac" + (ts & 0xFFFFFFFF).to_bytes(4, "big"))


def flv_bytes(*tags: FlvTag, audio_flag: bool = True, video_flag: bool = True) -> bytes:
    header = FlvHeader(has_audio=audio_flag, has_video=video_flag).encode()
    return header + b"".join(t.encode() for t in tags)


def av_stream(start: int, seconds: int, fps: int = 10, gop: int = 10) -> list[FlvTag]:
    """Tags of a synthetic A/V stream starting at timestamp `start`."""
    tags: list[FlvTag] = []
    for i in range(seconds * fps):
        ts = start + i * 1000 // fps
        tags += [video(ts, key=i % gop == 0), audio(ts + 3)]
    return tags


def split_prelude(written: list[FlvTag]) -> tuple[FlvTag, list[FlvTag], list[FlvTag]]:
    """A file's onMetaData, its sequence headers and its media tags."""
    metadata, *rest = written
    assert metadata.is_metadata
    headers = [t for t in rest if t.is_sequence_header]
    assert rest[: len(headers)] == headers, "headers come before media"
    return metadata, headers, rest[len(headers) :]


def parse_file(path: Path, size: int | None = None) -> tuple[FlvHeader, list[FlvTag]]:
    """Parse a whole file (or its first `size` bytes) and require a tag boundary."""
    data = path.read_bytes()
    if size is not None:
        assert len(data) >= size
        data = data[:size]
    parser = FlvParser()
    items = parser.feed(data)
    assert parser.pending == 0, f"{path.name} does not end at a tag boundary"
    header, *tags = items
    assert isinstance(header, FlvHeader)
    assert all(isinstance(t, FlvTag) for t in tags)
    return header, [t for t in tags if isinstance(t, FlvTag)]


class FakeSink:
    """Records the sink calls; checks each `progressed` is a consistent cut point."""

    def __init__(self) -> None:
        self.events: list[tuple[str, SegmentState]] = []
        self.progress = asyncio.Event()

    async def opened(self, segment: SegmentState) -> None:
        self.events.append(("opened", segment))

    async def progressed(self, segment: SegmentState) -> None:
        _, written = parse_file(segment.path, segment.size_bytes)
        # onMetaData is rewritten at every flush: a crash leaves a useful file
        assert script_duration(written[0]) == pytest.approx(segment.duration_secs)
        self.events.append(("progressed", segment))
        self.progress.set()

    async def closed(self, segment: SegmentState) -> None:
        assert segment.path.stat().st_size == segment.size_bytes
        self.events.append(("closed", segment))

    def of(self, kind: str) -> list[SegmentState]:
        return [s for k, s in self.events if k == kind]


def plan_in(tmp_path: Path, **kwargs: float) -> OutputPlan:
    return OutputPlan(path_for=lambda i, ext: tmp_path / f"seg_{i:03d}.flv", **kwargs)  # type: ignore[arg-type]


def mock_client(
    respond: Callable[[httpx.Request], httpx.Response],
) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(respond))


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def record_bytes(
    tmp_path: Path, body: bytes, chunk: int = 7, **plan: float
) -> tuple[str, FakeSink, RecordingStats]:
    def respond(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == URL
        return httpx.Response(200, content=chunked(body, chunk))

    sink, stats = FakeSink(), RecordingStats()
    async with mock_client(respond) as http:
        reason = await FlvEngine(http).record(
            StreamSource(url=URL, kind=StreamKind.FLV),
            plan_in(tmp_path, **plan),
            sink,
            stats,
        )
    return reason, sink, stats


def check_playable(path: Path) -> float:
    """Open with PyAV, decode everything, check order; return the video duration."""
    with av.open(str(path)) as container:
        assert container.streams.video, f"{path.name}: no video"
        assert container.streams.audio, f"{path.name}: no audio"
        vstream = container.streams.video[0]
        last_video_dts = 0
        first_video = True
        decoded = 0
        for packet in monotonic_packets(container, path):
            if packet.stream.index == vstream.index:
                if first_video:
                    assert packet.is_keyframe, f"{path.name}: starts on an inter-frame"
                    first_video = False
                last_video_dts = packet.dts
            decoded += len(packet.decode())
        assert decoded > 0
        assert vstream.time_base is not None
        return float(last_video_dts * vstream.time_base)

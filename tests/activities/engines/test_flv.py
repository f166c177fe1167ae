"""The native FLV engine: parser on synthetic bytes, segmenting rules, a live stream."""

from __future__ import annotations

import asyncio
import random
import struct
from typing import TYPE_CHECKING

import av
import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import OutputPlan, RecordingStats, SegmentState
from activities.engines.flv import FlvEngine
from activities.engines.flv_tags import (
    TAG_AUDIO,
    TAG_SCRIPT,
    TAG_VIDEO,
    FlvFormatError,
    FlvHeader,
    FlvParser,
    FlvTag,
)
from activities.errors import RecorderProcessError, StreamUnavailableError
from tests.fakes.live_flv import LiveFlvServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

URL = "http://edge.test/live.flv"
METADATA = FlvTag(TAG_SCRIPT, 0, b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00")
AVC_SEQ = FlvTag(TAG_VIDEO, 0, b"\x17\x00\x00\x00\x00avc-config-1")
AVC_SEQ_2 = FlvTag(TAG_VIDEO, 0, b"\x17\x00\x00\x00\x00avc-config-2")
AAC_SEQ = FlvTag(TAG_AUDIO, 0, b"\xaf\x00\x12\x10")


def video(ts: int, *, key: bool = False) -> FlvTag:
    return FlvTag(TAG_VIDEO, ts, (b"\x17" if key else b"\x27") + b"\x01\x00\x00\x00xx")


def audio(ts: int) -> FlvTag:
    return FlvTag(TAG_AUDIO, ts, b"\xaf\x01aac-frame")


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
        parse_file(segment.path, segment.size_bytes)
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


# --- parser -----------------------------------------------------------------------


def test_parser_reads_header_and_tags() -> None:
    tags = [METADATA, AVC_SEQ, AAC_SEQ, video(0, key=True), audio(23), video(40)]
    items = FlvParser().feed(flv_bytes(*tags))
    assert items == [FlvHeader(has_audio=True, has_video=True), *tags]


@pytest.mark.parametrize(
    "sizes",
    [
        pytest.param([1], id="byte-by-byte"),
        pytest.param([9], id="header-sized"),
        pytest.param([11, 4, 2], id="tag-header-splits"),
        pytest.param([random.Random(7).randint(1, 64) for _ in range(50)], id="random"),
    ],
)
def test_parser_handles_any_chunk_boundary(sizes: list[int]) -> None:
    tags = [METADATA, AVC_SEQ, AAC_SEQ, *av_stream(0, 2)]
    data = flv_bytes(*tags)
    parser, items, pos, i = FlvParser(), [], 0, 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        items += parser.feed(data[pos : pos + size])
        pos, i = pos + size, i + 1
    assert items[1:] == tags
    assert parser.pending == 0
    assert parser.bytes_consumed == len(data)


def test_parser_keeps_an_incomplete_tag_pending() -> None:
    data = flv_bytes(video(0, key=True), audio(5))
    parser = FlvParser()
    assert len(parser.feed(data[:-3])) == 2
    assert parser.pending == audio(5).encoded_size - 3
    assert parser.feed(data[-3:]) == [audio(5)]


def test_extended_timestamp_round_trips() -> None:
    tag = video(0x12345678, key=True)
    encoded = tag.encode()
    assert encoded[4:8] == bytes([0x34, 0x56, 0x78, 0x12])
    assert FlvParser().feed(flv_bytes(tag))[1] == tag


@pytest.mark.parametrize(
    ("tag", "flags"),
    [
        pytest.param(video(0, key=True), {"is_keyframe"}, id="keyframe"),
        pytest.param(video(0), set(), id="inter-frame"),
        pytest.param(AVC_SEQ, {"is_keyframe", "is_avc_sequence_header"}, id="avc-seq"),
        pytest.param(AAC_SEQ, {"is_aac_sequence_header"}, id="aac-seq"),
        pytest.param(audio(0), set(), id="aac-frame"),
        pytest.param(METADATA, {"is_metadata"}, id="onMetaData"),
        pytest.param(FlvTag(TAG_SCRIPT, 0, b"\x02\x00\x0aonCuePoint"), set(), id="cue"),
    ],
)
def test_tag_classification(tag: FlvTag, flags: set[str]) -> None:
    names = {"is_keyframe", "is_avc_sequence_header", "is_aac_sequence_header"}
    names.add("is_metadata")
    assert {n for n in names if getattr(tag, n)} == flags


def test_parser_rejects_non_flv() -> None:
    with pytest.raises(FlvFormatError, match="not an FLV stream"):
        FlvParser().feed(b"<html>")


def test_parser_waits_for_a_partial_signature() -> None:
    parser = FlvParser()
    assert parser.feed(b"FL") == []
    assert parser.feed(flv_bytes()[2:]) == [FlvHeader(has_audio=True, has_video=True)]


# --- segmenting on synthetic streams ---------------------------------------------


async def test_files_start_with_headers_and_timestamps_at_zero(tmp_path: Path) -> None:
    tags = [video(4990), METADATA, AVC_SEQ, AAC_SEQ, *av_stream(5000, 2), audio(5100)]
    reason, sink, stats = await record_bytes(tmp_path, flv_bytes(*tags))
    assert reason == "ended"
    [closed] = sink.of("closed")
    header, written = parse_file(closed.path)
    assert header.has_video
    assert written[:3] == [METADATA, AVC_SEQ, AAC_SEQ]
    media = written[3:]
    assert media[0].is_keyframe, "frames before the first keyframe are dropped"
    assert media[0].timestamp == 0
    stamps = [t.timestamp for t in media]
    assert stamps == sorted(stamps), "timestamps never go backwards"
    assert stamps[-1] == 1903
    assert closed.duration_secs == pytest.approx(1.903)
    assert stats.bytes_written == closed.size_bytes == closed.path.stat().st_size
    assert stats.segments_closed == 1
    assert stats.next_index == 1


async def test_splits_on_keyframes_by_duration(tmp_path: Path) -> None:
    body = flv_bytes(METADATA, AVC_SEQ, AAC_SEQ, *av_stream(0, 5, gop=10))
    _, sink, stats = await record_bytes(tmp_path, body, chunk=1000, max_duration_secs=2)
    closed = sink.of("closed")
    assert [s.index for s in closed] == [0, 1, 2]
    assert [s.index for s in sink.of("opened")] == [0, 1, 2]
    for segment in closed:
        _, written = parse_file(segment.path)
        assert written[:3] == [METADATA, AVC_SEQ, AAC_SEQ]
        assert written[3].is_keyframe
        assert written[3].timestamp == 0
    assert [s.duration_secs for s in closed[:2]] == [1.903, 1.903]
    assert stats.segments_closed == 3
    assert stats.bytes_written == sum(s.size_bytes for s in closed)


async def test_splits_by_size_only_at_keyframes(tmp_path: Path) -> None:
    body = flv_bytes(AVC_SEQ, AAC_SEQ, *av_stream(0, 4, gop=10))
    _, sink, _ = await record_bytes(tmp_path, body, max_size_bytes=500)
    closed = sink.of("closed")
    assert len(closed) == 4
    for segment in closed:
        _, written = parse_file(segment.path)
        assert written[2].is_keyframe
    assert all(s.size_bytes >= 500 for s in closed[:-1])


async def test_changed_sequence_header_starts_a_new_file(tmp_path: Path) -> None:
    body = flv_bytes(
        AVC_SEQ,
        AAC_SEQ,
        *av_stream(0, 1),
        FlvTag(TAG_VIDEO, 1000, AVC_SEQ.data),  # identical repeat: dropped
        *av_stream(1000, 1),
        FlvTag(TAG_VIDEO, 2000, AVC_SEQ_2.data),
        video(2000),  # no keyframe after the new configuration yet: dropped
        *av_stream(2100, 1),
    )
    _, sink, _ = await record_bytes(tmp_path, body)
    first, second = sink.of("closed")
    _, tags1 = parse_file(first.path)
    _, tags2 = parse_file(second.path)
    assert sum(t.is_avc_sequence_header for t in tags1) == 1
    assert len(tags1) == 2 + 40
    assert tags2[:2] == [AVC_SEQ_2, AAC_SEQ]
    assert tags2[2].is_keyframe
    assert tags2[2].timestamp == 0


async def test_audio_only_streams_split_at_any_tag(tmp_path: Path) -> None:
    tags = [AAC_SEQ, *(audio(i * 23) for i in range(200))]
    body = flv_bytes(*tags, video_flag=False)
    _, sink, _ = await record_bytes(tmp_path, body, max_duration_secs=1)
    closed = sink.of("closed")
    assert len(closed) == 5
    assert all(0.9 <= s.duration_secs < 1.0 for s in closed[:-1])
    header, written = parse_file(closed[1].path)
    assert not header.has_video
    assert written[0] == AAC_SEQ


async def test_backward_timestamp_reset_is_rebased(tmp_path: Path) -> None:
    body = flv_bytes(AVC_SEQ, *av_stream(90_000, 1), *av_stream(0, 1))
    _, sink, _ = await record_bytes(tmp_path, body)
    _, written = parse_file(sink.of("closed")[0].path)
    stamps = [t.timestamp for t in written[1:]]
    assert stamps == sorted(stamps)
    assert stamps[-1] < 2100


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param(httpx.ReadTimeout("no data"), "stalled", id="read-timeout"),
        pytest.param(
            httpx.RemoteProtocolError("peer closed"), "disconnected", id="broken"
        ),
    ],
)
async def test_a_broken_body_closes_the_file(
    tmp_path: Path, error: Exception, reason: str
) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield flv_bytes(AVC_SEQ, *av_stream(0, 1))
        raise error

    sink = FakeSink()
    async with mock_client(lambda _: httpx.Response(200, content=body())) as http:
        got = await FlvEngine(http).record(
            StreamSource(url=URL, kind=StreamKind.FLV),
            plan_in(tmp_path),
            sink,
            RecordingStats(),
        )
    assert got == reason
    [closed] = sink.of("closed")
    assert len(parse_file(closed.path)[1]) == 1 + 20


@pytest.mark.parametrize("status", [404, 403, 502])
async def test_http_errors_are_unavailable(tmp_path: Path, status: int) -> None:
    sink = FakeSink()
    async with mock_client(lambda _: httpx.Response(status)) as http:
        with pytest.raises(StreamUnavailableError, match=str(status)):
            await FlvEngine(http).record(
                StreamSource(url=URL, kind=StreamKind.FLV),
                plan_in(tmp_path),
                sink,
                RecordingStats(),
            )
    assert sink.events == []


async def test_connection_refused_is_unavailable(tmp_path: Path) -> None:
    async with httpx.AsyncClient() as http:
        # Port 9 (discard) on loopback is closed on any test machine.
        source = StreamSource(url="http://127.0.0.1:9/live.flv", kind=StreamKind.FLV)
        with pytest.raises(StreamUnavailableError, match="unreachable"):
            await FlvEngine(http).record(
                source, plan_in(tmp_path), FakeSink(), RecordingStats()
            )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html><body>offline</body></html>", id="html"),
        pytest.param(b"#EXTM3U\n#EXT-X-VERSION:3\n", id="hls"),
        pytest.param(b"FL", id="truncated"),
    ],
)
async def test_a_body_that_is_not_flv_fails_clearly(
    tmp_path: Path, body: bytes
) -> None:
    with pytest.raises(RecorderProcessError, match="is not FLV"):
        await record_bytes(tmp_path, body)


async def test_an_empty_body_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StreamUnavailableError, match="empty"):
        await record_bytes(tmp_path, b"")


# --- a real live stream from ffmpeg ---------------------------------------------


def check_playable(path: Path) -> float:
    """Open with PyAV, decode everything, check order; return the video duration."""
    with av.open(str(path)) as container:
        assert container.streams.video, f"{path.name}: no video"
        assert container.streams.audio, f"{path.name}: no audio"
        vstream = container.streams.video[0]
        last: dict[int, int] = {}
        first_video = True
        decoded = 0
        for packet in container.demux():
            if packet.dts is None:
                continue
            index = packet.stream.index
            assert packet.dts >= last.get(index, packet.dts), f"{path.name}: dts back"
            last[index] = packet.dts
            if packet.stream.type == "video" and first_video:
                assert packet.is_keyframe, f"{path.name}: starts on an inter-frame"
                first_video = False
            decoded += len(packet.decode())
        assert decoded > 0
        assert vstream.time_base is not None
        return float(last[vstream.index] * vstream.time_base)


def live_source(server: LiveFlvServer) -> StreamSource:
    return StreamSource(url=server.url, kind=StreamKind.FLV)


def live_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(10.0))


async def test_records_a_live_stream_in_duration_segments(
    tmp_path: Path, ffmpeg: Path
) -> None:
    sink, stats = FakeSink(), RecordingStats()
    with LiveFlvServer(ffmpeg, duration_secs=5.5) as server:
        async with live_client() as http:
            reason = await FlvEngine(http).record(
                live_source(server), plan_in(tmp_path, max_duration_secs=2), sink, stats
            )
    assert reason == "ended"
    closed = sink.of("closed")
    assert len(closed) >= 2
    assert sink.of("progressed")
    for segment in closed[:-1]:
        duration = check_playable(segment.path)
        assert 1.5 <= duration <= 2.1
        assert segment.duration_secs == pytest.approx(duration, abs=0.1)
    check_playable(closed[-1].path)
    assert stats.segments_closed == len(closed)
    assert stats.bytes_written == sum(s.path.stat().st_size for s in closed)
    assert stats.media_time_secs == pytest.approx(sum(s.duration_secs for s in closed))


async def test_records_a_live_stream_in_size_segments(
    tmp_path: Path, ffmpeg: Path
) -> None:
    sink = FakeSink()
    max_size = 20_000
    with LiveFlvServer(ffmpeg, duration_secs=4.5) as server:
        async with live_client() as http:
            await FlvEngine(http).record(
                live_source(server),
                plan_in(tmp_path, max_size_bytes=max_size),
                sink,
                RecordingStats(),
            )
    closed = sink.of("closed")
    assert len(closed) >= 2
    for segment in closed:
        check_playable(segment.path)
    assert all(s.size_bytes >= max_size for s in closed[:-1])


async def test_cancel_finalises_the_current_file(tmp_path: Path, ffmpeg: Path) -> None:
    sink = FakeSink()
    with LiveFlvServer(ffmpeg, duration_secs=20) as server:
        async with live_client() as http:
            task = asyncio.create_task(
                FlvEngine(http).record(
                    live_source(server), plan_in(tmp_path), sink, RecordingStats()
                )
            )
            async with asyncio.timeout(15):
                await sink.progress.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert not server.ended
    [closed] = sink.of("closed")
    assert closed.size_bytes >= sink.of("progressed")[-1].size_bytes
    assert check_playable(closed.path) >= 0.5


def test_header_encoding() -> None:
    assert FlvHeader(has_audio=True, has_video=False).encode() == (
        b"FLV\x01\x04" + struct.pack(">I", 9) + b"\x00" * 4
    )

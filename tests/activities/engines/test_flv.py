"""The native FLV engine: parser on synthetic bytes, segmenting rules, HTTP errors."""

from __future__ import annotations

import asyncio
import random
import struct
from typing import TYPE_CHECKING

import httpx
import pytest

from activities.contracts import StreamKind, StreamSource
from activities.engines.base import RecordingStats, SegmentState
from activities.engines.flv import FlvEngine
from activities.engines.flv.tags import (
    TAG_SCRIPT,
    TAG_VIDEO,
    FlvFormatError,
    FlvHeader,
    FlvParser,
    FlvTag,
)
from activities.errors import RecorderProcessError, StreamUnavailableError
from tests.fakes.flv_recording import (
    AAC_SEQ,
    AVC_SEQ,
    AVC_SEQ_2,
    METADATA,
    URL,
    FakeSink,
    audio,
    av_stream,
    chunked,
    flv_bytes,
    mock_client,
    parse_file,
    plan_in,
    record_bytes,
    split_prelude,
    video,
)
from tests.fakes.flv_samples import check_keyframe_index, script_duration

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


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
    metadata, headers, media = split_prelude(written)
    assert headers == [AVC_SEQ, AAC_SEQ]
    assert script_duration(metadata) == pytest.approx(2.003)
    assert media[0].is_keyframe, "frames before the first keyframe are dropped"
    assert media[0].timestamp == 0
    stamps = [t.timestamp for t in media]
    assert stamps == sorted(stamps), "timestamps never go backwards"
    # the stray old audio frame is placed after the last frame, where it is due
    assert stamps[-2:] == [1903, 2003]
    assert closed.duration_secs == pytest.approx(2.003)
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
        _, headers, media = split_prelude(written)
        assert headers == [AVC_SEQ, AAC_SEQ]
        assert media[0].is_keyframe
        assert media[0].timestamp == 0
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
        assert split_prelude(written)[2][0].is_keyframe
    assert all(s.size_bytes >= 500 for s in closed[:-1])


async def test_a_changed_size_limit_applies_from_the_next_file(tmp_path: Path) -> None:
    body = flv_bytes(AVC_SEQ, AAC_SEQ, *av_stream(0, 6, gop=10))
    plan = plan_in(tmp_path, max_size_bytes=500)

    class Reconfigured(FakeSink):
        """The configuration changes while the first file is written."""

        async def closed(self, segment: SegmentState) -> None:
            await super().closed(segment)
            plan.max_size_bytes = 0  # no size limit from now on

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunked(body, 7))

    sink = Reconfigured()
    async with mock_client(respond) as http:
        await FlvEngine(http).record(
            StreamSource(url=URL, kind=StreamKind.FLV), plan, sink, RecordingStats()
        )
    first, second = sink.of("closed")  # the rest in one file: the limit is gone
    assert first.size_bytes >= 500
    assert second.size_bytes > 500


@pytest.mark.parametrize(
    "plan",
    [
        pytest.param({"max_duration_secs": 2}, id="duration"),
        pytest.param({"max_size_bytes": 700}, id="size"),
    ],
)
async def test_splitting_loses_no_media(tmp_path: Path, plan: dict[str, float]) -> None:
    # bodies made unique, so that each written tag can be traced to its source
    tags = [
        FlvTag(t.tag_type, t.timestamp, t.data + t.timestamp.to_bytes(4, "big"))
        for t in av_stream(0, 5, gop=10)
    ]
    body = flv_bytes(METADATA, AVC_SEQ, AAC_SEQ, *tags)
    _, sink, stats = await record_bytes(tmp_path, body, chunk=333, **plan)
    closed = sink.of("closed")
    assert len(closed) >= 2
    written: list[FlvTag] = []
    for segment in closed:
        _, media = split_prelude(parse_file(segment.path)[1])[::2]
        assert media[0].is_keyframe
        base = next(t for t in tags if t.data == media[0].data).timestamp
        # each file's clock starts at its first keyframe
        assert media[0].timestamp == 0
        written += [FlvTag(t.tag_type, t.timestamp + base, t.data) for t in media]
        check_keyframe_index(segment.path.read_bytes())
    assert written == tags
    assert stats.bytes_written == sum(s.path.stat().st_size for s in closed)


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
    assert len(tags1) == 3 + 40
    _, headers, media = split_prelude(tags2)
    assert headers == [AVC_SEQ_2, AAC_SEQ]
    assert media[0].is_keyframe
    assert media[0].timestamp == 0


async def test_audio_only_streams_split_at_any_tag(tmp_path: Path) -> None:
    tags = [AAC_SEQ, *(audio(i * 23) for i in range(200))]
    body = flv_bytes(*tags, video_flag=False)
    _, sink, _ = await record_bytes(tmp_path, body, max_duration_secs=1)
    closed = sink.of("closed")
    assert len(closed) == 5
    assert all(0.9 <= s.duration_secs < 1.0 for s in closed[:-1])
    header, written = parse_file(closed[1].path)
    assert not header.has_video
    assert split_prelude(written)[1] == [AAC_SEQ]


async def test_backward_timestamp_reset_is_rebased(tmp_path: Path) -> None:
    body = flv_bytes(AVC_SEQ, *av_stream(90_000, 1), *av_stream(0, 1))
    _, sink, _ = await record_bytes(tmp_path, body)
    _, written = parse_file(sink.of("closed")[0].path)
    stamps = [t.timestamp for t in written[1:]]
    assert stamps == sorted(stamps)
    assert stamps[-1] < 2100


def restamped(tags: list[FlvTag], offset: int) -> list[FlvTag]:
    return [FlvTag(t.tag_type, t.timestamp + offset, t.data) for t in tags]


async def test_replayed_gops_are_dropped_while_recording(tmp_path: Path) -> None:
    first, replay, rest = av_stream(0, 2), av_stream(1000, 1), av_stream(2000, 2)
    # the edge re-sends the second GOP, stamped to continue the stream, and
    # carries on one GOP ahead
    body = flv_bytes(
        METADATA,
        AVC_SEQ,
        AAC_SEQ,
        *first,
        *restamped(replay, 1000),
        *restamped(rest, 1000),
    )
    reason, sink, _ = await record_bytes(tmp_path, body, chunk=1000)
    assert reason == "ended"
    [closed] = sink.of("closed")
    _, media = split_prelude(parse_file(closed.path)[1])[::2]
    assert [t.data for t in media] == [t.data for t in first + rest]
    # continuous: the copy's second is gone
    assert media[-1].timestamp == pytest.approx(3903, abs=10)


async def test_an_edge_repeating_its_last_gop_ends_the_recording(
    tmp_path: Path,
) -> None:
    live = av_stream(0, 3)
    last = av_stream(2000, 1)
    loop = [t for i in range(1, 40) for t in restamped(last, 1000 * i)]
    body = flv_bytes(METADATA, AVC_SEQ, AAC_SEQ, *live, *loop)
    reason, sink, _ = await record_bytes(tmp_path, body, chunk=1000)
    # after recording.REPEATS_TO_END copies the stream is over, as if the body ended
    assert reason == "repeating"
    [closed] = sink.of("closed")
    _, media = split_prelude(parse_file(closed.path)[1])[::2]
    assert media == live
    assert closed.duration_secs == pytest.approx(2.903)


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
    assert len(parse_file(closed.path)[1]) == 2 + 20


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


def test_header_encoding() -> None:
    assert FlvHeader(has_audio=True, has_video=False).encode() == (
        b"FLV\x01\x04" + struct.pack(">I", 9) + b"\x00" * 4
    )


async def test_no_bytes_for_the_stream_timeout_is_a_stall(tmp_path: Path) -> None:
    """The plan's stream timeout, not the shared client's read timeout, decides."""
    served, hung_up = asyncio.Event(), asyncio.Event()

    async def respond(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\n\r\n")
            writer.write(flv_bytes(AVC_SEQ, *av_stream(0, 1)))
            await writer.drain()
            served.set()
            await reader.read()  # then silence until the engine hangs up
        finally:
            writer.close()
            await writer.wait_closed()
            hung_up.set()

    server = await asyncio.start_server(respond, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sink = FakeSink()
    async with server, httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as http:
        got = await asyncio.wait_for(
            FlvEngine(http).record(
                StreamSource(
                    url=f"http://127.0.0.1:{port}/live.flv", kind=StreamKind.FLV
                ),
                plan_in(tmp_path, stream_timeout_secs=0.5),
                sink,
                RecordingStats(),
            ),
            10,
        )
        await hung_up.wait()
    assert served.is_set()
    assert got == "stalled"
    [closed] = sink.of("closed")
    assert closed.size_bytes > 0

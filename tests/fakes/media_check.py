"""Checks of what an engine recorded, with PyAV: streams, timestamps, durations."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from activities.contracts import Container

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.fakes.sink import Event, Outcome


def monotonic_packets(
    container: Any, path: Path, *, pts_fallback: bool = False
) -> Iterator[Any]:
    """Demux `container`, asserting each stream's timestamps never go back.

    Skips the demuxer's empty end-of-stream packets and packets without a decode
    timestamp; with `pts_fallback`, such a packet is checked by its presentation
    time instead (Matroska video has no DTS) and one with neither fails.

    Yields:
        The packets checked, in file order.
    """
    last: dict[int, int] = {}
    for packet in container.demux():
        if packet.size == 0:
            continue  # the demuxer's end-of-stream marker
        stamp = packet.dts
        if stamp is None and pts_fallback:
            stamp = packet.pts
            assert stamp is not None, f"{path}: an untimed packet"
        if stamp is None:
            continue
        index = packet.stream.index
        assert stamp >= last.get(index, stamp), (
            f"{path}: stream {index} went back {last[index]} → {stamp}"
        )
        last[index] = stamp
        yield packet


@dataclass(frozen=True)
class Probed:
    duration_secs: float  # span of presentation times of the longest stream
    packets: dict[str, int]  # per codec
    header_duration_secs: float | None  # what the container itself declares


def probe(path: Path) -> Probed:
    """Open `path` with PyAV and check it plays.

    H.264 and AAC streams are present, each stream's decode timestamps (its
    presentation times where a container has none, as Matroska for video) never go
    back, and the video decodes to at least one frame.

    Returns:
        Its duration from packet timestamps, packet counts, and the duration the
        container declares (None when it declares none, as MPEG-TS and a file
        without its trailer do).
    """
    import av

    packets: dict[str, int] = {}
    spans: dict[int, tuple[float, float]] = {}
    frames = 0
    with av.open(str(path)) as container:
        codecs = {s.index: s.codec_context.name for s in container.streams}
        assert sorted(codecs.values()) == ["aac", "h264"], f"{path}: {codecs}"
        declared = container.duration
        video = container.streams.video[0]
        for packet in monotonic_packets(container, path, pts_fallback=True):
            index = packet.stream.index
            packets[codecs[index]] = packets.get(codecs[index], 0) + 1
            if packet.stream.index == video.index:
                frames += len(video.codec_context.decode(packet))
            if packet.pts is not None and packet.time_base is not None:
                start = float(packet.pts * packet.time_base)
                end = start + float((packet.duration or 0) * packet.time_base)
                first, final = spans.get(index, (start, end))
                spans[index] = (min(first, start), max(final, end))
        frames += len(video.codec_context.decode(None))
    assert frames >= 1, f"{path}: no video frame decodes"
    assert packets.get("aac"), f"{path}: no audio"
    return Probed(
        duration_secs=max(last - first for first, last in spans.values()),
        packets=packets,
        header_duration_secs=None if declared is None else declared / 1_000_000,
    )


def check_segments(
    closed: list[Event], *, ext: str, tolerance_secs: float = 0.3
) -> list[Probed]:
    """Each closed file plays, has the extension, and lasts what was reported.

    Returns:
        The probes, in the order of `closed`.
    """
    from pathlib import Path

    probes = []
    for event in closed:
        path = Path(event.path)
        assert path.suffix == f".{ext}", path
        assert path.stat().st_size == event.size
        probed = probe(path)
        assert abs(probed.duration_secs - event.duration) <= tolerance_secs, (
            f"{path.name}: PyAV measures {probed.duration_secs:.2f} s, "
            f"the engine reported {event.duration:.2f} s"
        )
        probes.append(probed)
    return probes


def has_mp4_trailer(path: Path) -> bool:
    """Whether a fragmented MP4 ends with its `mfra` index, which the trailer writes.

    The last box of `mfra` is `mfro`: size, type, version and flags, `mfra`'s size.
    """
    return path.read_bytes()[-12:-8] == b"mfro"


EXTENSIONS = {
    Container.TS: "ts",
    Container.FLV: "flv",
    Container.MKV: "mkv",
    Container.MP4: "mp4",
}


def check_split(outcome: Outcome, *, start: int, ext: str) -> None:
    """A recording cut into several files: contiguous indexes, each file opened
    after the previous one closed, the first closed while the engine went on, every
    file playable and lasting what was reported, and stats that add up."""
    sink, stats = outcome.sink, outcome.stats
    closed = sink.of("closed")
    assert len(closed) >= 2
    assert [e.index for e in closed] == list(range(start, start + len(closed)))
    assert all(e.size > 0 for e in closed)
    order = [(e.kind, e.index) for e in sink.events if e.kind != "progressed"]
    assert order == [
        (kind, i)
        for i in range(start, start + len(closed))
        for kind in ("opened", "closed")
    ]
    if outcome.cancelled_at is not None:
        assert closed[0].at < outcome.cancelled_at
    check_segments(closed, ext=ext)
    assert stats.segments_closed == len(closed)
    assert stats.next_index == start + len(closed)
    assert stats.bytes_written == sum(e.size for e in closed)
    assert stats.media_time_secs == pytest.approx(sum(e.duration for e in closed))


@dataclass(frozen=True)
class Timeline:
    """The video of several files played one after the other.

    Attributes:
        media_secs: video frames over the frame rate (no gap or jump inflates it).
        largest_gap_secs: the longest step between consecutive frames.
        frames: video frames in all files.
    """

    media_secs: float
    largest_gap_secs: float
    frames: int


def video_timeline(paths: list[Path]) -> Timeline:
    """Check that `paths`, in order, hold one continuous, unrepeated video timeline.

    Each file's decode timestamps never go back (`monotonic_packets`), and the
    presentation times of all video frames, file after file, rise strictly: a
    segment written twice would show its frames again, a step back would show
    older ones.

    Returns:
        How much video there is and its largest gap.
    """
    import av

    stamps: list[float] = []
    rate = 0.0
    for path in paths:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            rate = float(video.average_rate or video.guessed_rate or 0)
            times = sorted(
                float(packet.pts * packet.time_base)
                for packet in monotonic_packets(container, path)
                if packet.stream.index == video.index and packet.pts is not None
            )
        assert times, f"{path}: no video"
        if stamps:
            assert times[0] > stamps[-1], (
                f"{path.name} starts at {times[0]:.3f} s, before the previous "
                f"file's last frame at {stamps[-1]:.3f} s"
            )
        stamps += times
    assert stamps, "no files"
    steps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(step > 0 for step in steps), "a frame is shown twice"
    assert rate > 0, "no frame rate"
    return Timeline(
        media_secs=len(stamps) / rate,
        largest_gap_secs=max(steps, default=0.0),
        frames=len(stamps),
    )

"""Checking recorded files: a look at their headers, never a full demux.

The engines measure each file's duration as they write it (EXTINF sums, FLV tag
timestamps, ffmpeg's segment list and progress) and the native ones describe its
streams from the bytes that open it (`engines.layout`). A file no engine could
describe (written by ffmpeg or streamlink, or cut back after a crash) is checked
here, from its head only:

* MPEG-TS, FLV, fragmented MP4 and Matroska (what ffmpeg writes for `ts`, `flv`,
  `mp4`, `mkv`) are read by the readers the native engines use (`engines.layout`,
  `engines.matroska`): the tables and the first PES, the header and sequence
  headers, `moov`, `Tracks`; the file must also hold media after them (a PES, a
  media tag, a `moof`, a `Cluster`). Under a millisecond.
* Anything else (a codec or layout the readers do not know) is opened with PyAV,
  which reads the headers and decodes a first frame to learn the picture format,
  then demuxes one packet: about 7 ms.

Either way the cost does not grow with the file; main's full demux cost about 0.1
CPU-s per recorded minute of a 6 Mbps stream (`bench/segment_check.py`).

`MediaActivities.probe_segment` is the CPU-queue activity streamer workflows
started for each closed segment before the check moved into the recording
activity. It stays registered, as cheap as the check, for the workflows whose
history still schedules it (`workflows.legacy.session_v1`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import av
from sqlmodel import Session
from temporalio import activity

from activities.contracts import (
    ACTIVITY_PROBE_SEGMENT,
    MediaStream,
    ProbeSegmentInput,
    ProbeSegmentResult,
)
from activities.db import crud_sessions
from activities.engines.flv.tags import FlvFormatError, FlvParser, FlvTag
from activities.engines.layout import (
    flv_audio,
    flv_video,
    mp4_init,
    mp4_streams,
    ts_streams,
)
from activities.engines.matroska import matroska_streams
from activities.ownership import Ownership

if TYPE_CHECKING:
    import sqlalchemy as sa
    from av.audio.stream import AudioStream
    from av.video.stream import VideoStream

log = logging.getLogger(__name__)

# packets read to find one with data: a file starting with empty packets is rare
MAX_PACKETS = 32
# the head read for the built-in readers: tables, headers and a keyframe's start
HEAD_BYTES = 512 * 1024


@dataclass(frozen=True)
class FileCheck:
    """What a header-level look at a file found.

    Attributes:
        valid: it opened, holds audio or video, and its first packet reads.
        streams: its audio and video streams.
    """

    valid: bool
    streams: list[MediaStream] = field(default_factory=list)


def check_file(path: Path) -> FileCheck:
    """Read `path`'s headers and first media; never the whole file.

    Returns:
        Its streams, and whether it is a media file holding any.
    """
    try:
        with path.open("rb") as handle:
            streams = described(handle.read(HEAD_BYTES))
    except OSError as err:
        log.warning("cannot read %s: %s", path, err)
        return FileCheck(valid=False)
    if streams is not None:
        return FileCheck(valid=True, streams=streams)
    return pyav_check(path)


def described(head: bytes) -> list[MediaStream] | None:
    """The streams of a TS, FLV, fragmented MP4 or Matroska file from its head, if
    it holds media after them; None when the head does not tell."""
    if head[:3] == b"FLV":
        return _flv_streams(head)
    if head[4:8] == b"ftyp":
        init = mp4_init(head)
        return mp4_streams(init) if init is not None else None
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return matroska_streams(head)
    return ts_streams(head)


def _flv_streams(head: bytes) -> list[MediaStream] | None:
    try:
        tags = [t for t in FlvParser().feed(head) if isinstance(t, FlvTag)]
    except FlvFormatError:
        return None
    if not any((t.is_video or t.is_audio) and not t.is_sequence_header for t in tags):
        return None
    first_video = next((t for t in tags if t.is_video), None)
    first_audio = next((t for t in tags if t.is_audio), None)
    streams = [
        flv_video(first_video.data) if first_video else None,
        flv_audio(first_audio.data) if first_audio else None,
    ]
    return [s for s in streams if s is not None] or None


def pyav_check(path: Path) -> FileCheck:
    """Open `path` with PyAV: its headers, a first decoded frame, one packet."""
    try:
        with av.open(str(path)) as container:
            video, audio = container.streams.video, container.streams.audio
            streams = [_video(s) for s in video] + [_audio(s) for s in audio]
            wanted = [*video, *audio]
            has_data = False
            for count, packet in enumerate(container.demux(*wanted)):
                if packet.size > 0 or count >= MAX_PACKETS:
                    has_data = packet.size > 0
                    break
    except (av.error.FFmpegError, OSError, ValueError) as err:
        log.warning("%s is not a readable media file: %s", path, err)
        return FileCheck(valid=False)
    return FileCheck(valid=bool(streams) and has_data, streams=streams)


def _video(stream: VideoStream) -> MediaStream:
    context = stream.codec_context
    return MediaStream(
        kind="video",
        codec=context.codec.canonical_name,
        width=context.width or None,
        height=context.height or None,
    )


def _audio(stream: AudioStream) -> MediaStream:
    context = stream.codec_context
    return MediaStream(
        kind="audio",
        codec=context.codec.canonical_name,
        sample_rate=context.sample_rate or None,
        channels=context.channels or None,
    )


class MediaActivities:
    """CPU-queue media work.

    Args:
        db: the app database engine, to store what a check found.
        instance_id: the database's instance id, if already read.
    """

    def __init__(self, db: sa.Engine, *, instance_id: str | None = None) -> None:
        self.db = db
        self.owner = Ownership(db, instance_id)

    @activity.defn(name=ACTIVITY_PROBE_SEGMENT)
    def probe_segment(self, inp: ProbeSegmentInput) -> ProbeSegmentResult:
        """Check a closed segment's file and store what was found on its row.

        Only workflows whose history already schedules it still call it; the
        duration returned is the one the engine measured, from the row.
        """
        # the file and the row both belong to the workflow's own instance
        self.owner.check(inp)
        found = check_file(Path(inp.file_path))
        with Session(self.db) as db:
            crud_sessions.set_segment_media(
                db,
                session_id=inp.session_id,
                index=inp.index,
                valid=found.valid,
                streams=[s.model_dump() for s in found.streams],
            )
            row = crud_sessions.get_segment(db, inp.session_id, inp.index)
            duration = row.duration_secs if row is not None else None
        return ProbeSegmentResult(
            duration_secs=duration,
            streams=[s.codec for s in found.streams],
            valid=found.valid,
        )

"""Checking recorded files: a header-level look with PyAV, never a full demux.

The engines measure each file's duration as they write it (EXTINF sums, FLV tag
timestamps, ffmpeg's segment list and progress) and the native ones describe its
streams from the bytes that open it (`engines.layout`). A file no engine could
describe (written by ffmpeg or streamlink, or cut back after a crash) is checked
here: opened, its headers read (MPEG-TS PAT/PMT and first PES, Matroska tracks, MP4
`moov`, FLV sequence headers) and its first packet demuxed. That costs a few
milliseconds whatever the file's length; main's full demux cost 0.18 CPU-s per
recorded minute of a 6 Mbps stream (`bench/segment_check.py`).

`MediaActivities.probe_segment` is the CPU-queue activity streamer workflows
started for each closed segment before the check moved into the recording
activity. It stays registered, as cheap as the check, for the workflows whose
history still schedules it (`workflows.session`).
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
from activities.db import crud

if TYPE_CHECKING:
    import sqlalchemy as sa
    from av.audio.stream import AudioStream
    from av.video.stream import VideoStream

log = logging.getLogger(__name__)

# packets read to find one with data: a file starting with empty packets is rare
MAX_PACKETS = 32


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
    """Open `path`, read its headers and its first packet; never the whole file.

    Returns:
        Its streams, and whether it is a media file holding any.
    """
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
    """

    def __init__(self, db: sa.Engine) -> None:
        self.db = db

    @activity.defn(name=ACTIVITY_PROBE_SEGMENT)
    def probe_segment(self, inp: ProbeSegmentInput) -> ProbeSegmentResult:
        """Check a closed segment's file and store what was found on its row.

        Only workflows whose history already schedules it still call it; the
        duration returned is the one the engine measured, from the row.
        """
        found = check_file(Path(inp.file_path))
        with Session(self.db) as db:
            crud.set_segment_media(
                db,
                session_id=inp.session_id,
                index=inp.index,
                valid=found.valid,
                streams=[s.model_dump() for s in found.streams],
            )
            row = crud.get_segment(db, inp.session_id, inp.index)
            duration = row.duration_secs if row is not None else None
        return ProbeSegmentResult(
            duration_secs=duration,
            streams=[s.codec for s in found.streams],
            valid=found.valid,
        )

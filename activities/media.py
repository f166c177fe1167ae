"""Media activities on the CPU queue: probing recorded files with PyAV."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import av
from sqlmodel import Session
from temporalio import activity

from activities.contracts import (
    ACTIVITY_PROBE_SEGMENT,
    ProbeSegmentInput,
    ProbeSegmentResult,
)
from activities.db import crud
from activities.ownership import Ownership

if TYPE_CHECKING:
    import sqlalchemy as sa

log = logging.getLogger(__name__)


def probe(path: Path) -> ProbeSegmentResult:
    """Open a media file and measure it: codecs and duration from packet timestamps.

    Containers without an index (MPEG-TS, live FLV) carry no duration header, so the
    duration is the span of presentation timestamps of the longest stream.
    """
    try:
        with av.open(str(path)) as container:
            codecs = [s.codec_context.name for s in container.streams]
            spans: dict[int, tuple[float, float]] = {}
            for packet in container.demux():
                if packet.pts is None or packet.time_base is None:
                    continue
                start = float(packet.pts * packet.time_base)
                end = start + float((packet.duration or 0) * packet.time_base)
                first, last = spans.get(packet.stream.index, (start, end))
                spans[packet.stream.index] = (min(first, start), max(last, end))
    except (av.error.FFmpegError, OSError) as err:
        log.warning("cannot probe %s: %s", path, err)
        return ProbeSegmentResult(duration_secs=None, streams=[], valid=False)
    duration = max((last - first for first, last in spans.values()), default=None)
    return ProbeSegmentResult(
        duration_secs=duration, streams=codecs, valid=bool(codecs) and bool(spans)
    )


class MediaActivities:
    """CPU-bound media work (srec-cpu queue).

    Args:
        db: the app database engine, to store what a probe measured.
        instance_id: the database's instance id, if already read.
    """

    def __init__(self, db: sa.Engine, *, instance_id: str | None = None) -> None:
        self.db = db
        self.owner = Ownership(db, instance_id)

    @activity.defn(name=ACTIVITY_PROBE_SEGMENT)
    def probe_segment(self, inp: ProbeSegmentInput) -> ProbeSegmentResult:
        """Probe a closed segment and store its measured duration on its row."""
        # the file and the row both belong to the workflow's own instance
        self.owner.check(inp)
        result = probe(Path(inp.file_path))
        if result.duration_secs is not None:
            with Session(self.db) as db:
                crud.set_segment_duration(
                    db,
                    session_id=inp.session_id,
                    index=inp.index,
                    duration_secs=round(result.duration_secs, 3),
                )
        return result

"""ffmpeg remuxing a live stream into segment files: the output half of the ffmpeg and
streamlink engines, kept in one place (with `run`, one ffmpeg process, and
`files`, the files it writes and the reports on them).

One ffmpeg run copies the stream (`-c copy`) through its segment muxer:

    ffmpeg ... -c copy -f segment -segment_format F -segment_time N
        -reset_timestamps 1 -segment_list pipe:FD -segment_list_type csv
        -progress pipe:1 DIR/.srec-TOKEN-%06d.EXT

* Names. ffmpeg numbers its files itself, so it writes hidden staging names in the
  directory of the first final path. As soon as a staging file appears (checked every
  `run.TICK_SECS`) it is renamed to `plan.path_for(index, ext)` and only then
  is `sink.opened` told, so a segment row always names the file on disk. ffmpeg keeps
  writing through its open descriptor; none of the muxers used here reopens a file by
  name (MP4 `faststart` would, one reason it is not used).
* Closes. The segment muxer writes `name,start,end` to the list pipe as soon as a
  file's trailer is flushed, before it opens the next file, so `sink.closed` hears of
  each file at once, with its size from `stat` and `end - start` as its duration,
  while ffmpeg writes on: pipelines start while the recording continues.
* Progress. `-progress pipe:1` gives the media time (`out_time_us`) and `speed`;
  sizes come from `stat`. Each tick updates `RecordingStats` (the heartbeat only
  reads it), calls `sink.progressed` at most every `progress_interval_secs`, and
  watches for a stall: no new media for the plan's `stream_timeout_secs` stops
  ffmpeg (`stalled`).
* Splitting by duration is the segment muxer's, at the first keyframe at or after
  `max_duration_secs`: no gap, no overlap. The muxer's duration is fixed when ffmpeg
  starts, so when the plan's changes (the configuration did), the open file is
  finished and ffmpeg restarted with the new one, as after a size cut.
* Splitting by size restarts ffmpeg once the open file reaches `max_size_bytes` (the
  segment muxer cannot cut by size): the file is finished with SIGINT, as on a stop,
  overshooting by up to a tick's worth of stream, and a new run reconnects, HLS at
  the playlist's last segment. Upstream timestamps are not kept
  (`-reset_timestamps`), so nothing repairs the seam. Measured on loopback (the
  tests/fakes streams: 1 s HLS segments, 1 s GOP, a 2-core machine), between the last
  frame of one file and the first of the next:
    - ffmpeg, HLS: 0.1 s lost (the new run starts at the next segment boundary);
    - ffmpeg, HTTP-FLV: 0.4 s lost (reconnect, then the next keyframe: a server that
      starts new clients at a cached GOP repeats up to a GOP instead);
    - streamlink: 0.1-1.1 s lost on HLS, 1.7 s on HTTP-FLV (streamlink's start-up,
      about 1.2 s, comes on top).
  With longer HLS segments the seam is up to one segment either way: repeated when
  no new segment appeared during the restart, lost when ffmpeg stopped halfway
  through one. A stream that ends during the restart is read again from the start
  of its last playlist window (both readers play an ended playlist from its start).
  Duration splits cost none of this: prefer them, with a size limit as a safety net.
* Where an HLS run starts (`resume`): srec loads the playlist just before each run
  and tells the program how many segments back from the live edge to start: its
  default (3) for a fresh recording, 1 after a size cut, and after a crash (or a
  drop within the session) as far back as `plan.resume_edge_ms` says the last
  attempt's media ended, so a retry continues where the last confirmed bytes end.
* Signed URLs that expire (`activities.engines.refresh`): neither program can be
  handed a new URL, so the run is restarted with the fresh one, like a size cut.
  Ahead of the deadline the refresh runs while the program records; after a
  403/410 (in what either program printed: ffmpeg exits 0 when its playlist
  reload is refused, streamlink keeps retrying) the run is stopped first. Either
  way the next run continues from the live-edge time of the last media written, as
  a retry does (`resume`): nothing in the window is lost, and the start of the new
  file repeats what the estimate over-shoots (about 2 s with ffmpeg on 1 s
  segments). Each restart is a new file of the same recording. A refresh that
  finds the broadcast over ends it (`ended`).
* Stops (cancel, size restart, stall) go through `ProcessGroup`'s ladder: SIGINT, on
  which ffmpeg writes the trailer of the open file (MP4 and MKV stay playable), then
  SIGTERM and SIGKILL. The last file is reported closed either way.
* Containers: `ts` (mpegts), `flv`, `mkv` (matroska) and `mp4`, written fragmented
  (`frag_keyframe+empty_moov`): playable after SIGINT like any MP4, and up to its
  last complete fragment after a SIGKILL, a power cut, or when a retry truncates it
  to the size its row last confirmed.

`plan.resume_marker` (a native engine's media sequence) is not used.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from activities.contracts import Container, StreamKind
from activities.engines.refresh import StreamEnded
from activities.engines.remux.files import SegmentFiles
from activities.engines.remux.resume import EdgeClock, load_window, resume_back
from activities.engines.remux.run import (
    LIMIT_CUT,
    OVER,
    RENEWED,
    SIZE_CUT,
    STALLED,
    FfmpegRun,
)
from activities.errors import RecorderProcessError, StreamUnavailableError
from activities.process import StopTimeouts

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from activities.contracts import StreamSource
    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink
    from activities.engines.refresh import SourceRefresher

log = logging.getLogger(__name__)

# the segment muxer always cuts at some duration: "never" is a billion seconds
NO_SPLIT_SECS = 1_000_000_000
# Options of the muxer inside the segment muxer. `flush_packets`: ffmpeg would keep
# 100s of KiB of a file in memory, so its size on disk (what progress reports and size
# splits read) lagged by seconds; flushed per packet, every file on disk ends at a
# packet, tag, fragment or cluster boundary, the consistent cut `progressed` promises.
# MP4 is fragmented (see the module docstring). Matroska keeps a whole cluster in
# memory, 5 s by default: 1 s clusters keep what is on disk close to what was received.
_MUXER_OPTIONS = {
    "mp4": "flush_packets=1:movflags=+frag_keyframe+empty_moov+default_base_moof",
    "matroska": "flush_packets=1:cluster_time_limit=1000",
}
_DEFAULT_MUXER_OPTIONS = "flush_packets=1"
# what ffmpeg prints when it could not open or read its input at all
_UNAVAILABLE = re.compile(
    r"Error opening input|Server returned [45]|HTTP error [45]|Connection refused"
    r"|Failed to resolve|timed out|Network is unreachable|End of file",
    re.IGNORECASE,
)

_FORMATS: dict[Container, tuple[str, str]] = {
    Container.TS: ("mpegts", "ts"),
    Container.FLV: ("flv", "flv"),
    Container.MKV: ("matroska", "mkv"),
    Container.MP4: ("mp4", "mp4"),
}


def output_format(container: Container, kind: StreamKind) -> tuple[str, str]:
    """The ffmpeg muxer and file extension for `container`.

    Args:
        container: the plan's container; `auto` keeps the transport's own.
        kind: the stream's transport.

    Returns:
        `(muxer, extension)`, e.g. `("matroska", "mkv")`.
    """
    if container == Container.AUTO:
        # whatever a streamlink-only stream carries, MPEG-TS takes it
        container = Container.FLV if kind == StreamKind.FLV else Container.TS
    return _FORMATS[container]


def output_args(
    muxer: str, max_duration_secs: float, list_fd: int, pattern: str
) -> list[str]:
    """ffmpeg's output options: copy into segment files, report closes and progress.

    Args:
        muxer: the segment files' muxer (`output_format`).
        max_duration_secs: cut after this much media; 0 = one file.
        list_fd: descriptor ffmpeg writes a csv line to as each file closes.
        pattern: the staging file pattern, with `%06d` for ffmpeg's file number.

    Returns:
        Options that follow the input's.
    """
    seconds = max_duration_secs if max_duration_secs > 0 else NO_SPLIT_SECS
    # No -map: ffmpeg picks the best video and audio stream (the highest resolution
    # of an HLS master playlist), by the codecs the pattern's extension implies.
    return [
        "-c",
        "copy",
        "-sn",
        "-dn",
        "-f",
        "segment",
        "-segment_format",
        muxer,
        "-segment_format_options",
        _MUXER_OPTIONS.get(muxer, _DEFAULT_MUXER_OPTIONS),
        "-segment_time",
        f"{seconds:.3f}",
        "-reset_timestamps",
        "1",
        "-segment_list",
        f"pipe:{list_fd}",
        "-segment_list_type",
        "csv",
        "-progress",
        "pipe:1",
        pattern,
    ]


@dataclass(frozen=True)
class RemuxSettings:
    """What the ffmpeg-based engines share.

    Attributes:
        ffmpeg: the ffmpeg binary.
        stop: the stop ladder's waits.
        progress_interval_secs: least time between two `sink.progressed` calls.
        live_edge_segments: HLS segments back from the live edge a fresh
            recording starts at.
        startup_secs: about how long the input program takes from its start to
            its first playlist load; a resumed run rewinds this much further.
    """

    ffmpeg: Path
    stop: StopTimeouts = field(default_factory=StopTimeouts)
    progress_interval_secs: float = 1.0
    live_edge_segments: int = 3
    startup_secs: float = 1.0


@dataclass(frozen=True)
class RemuxInput:
    """Where ffmpeg reads the stream: a URL, or the stdout of a feeder program.

    Attributes:
        args: ffmpeg's input options, ending with `-i URL` (or `-i pipe:0`).
        feeder: a program whose stdout becomes ffmpeg's stdin, if any.
        feeder_name: the feeder's name in logs and messages.
    """

    args: Sequence[str]
    feeder: Sequence[str] | None = None
    feeder_name: str = "feeder"


async def remux(
    settings: RemuxSettings,
    inputs: Callable[[StreamSource, int | None], RemuxInput],
    refresher: SourceRefresher,
    plan: OutputPlan,
    sink: SegmentSink,
    stats: RecordingStats,
) -> str:
    """Record through ffmpeg until the stream ends; the body of `Engine.record`.

    Args:
        settings: the engine's settings.
        inputs: where each ffmpeg run reads the stream (the current source), and
            how many HLS segments back from the live edge the run starts at
            (None: the program's default, and always for HTTP-FLV).
        refresher: the stream, and fresh URLs when it expires.
        plan: where files go and when to cut them.
        sink: told as files open, grow and close.
        stats: kept current for the heartbeat.

    Returns:
        `ended` (ffmpeg finished, the stream was gone after a restart, or a
        refresh found the broadcast over) or `stalled` (no media for the plan's
        `stream_timeout_secs`).

    Raises:
        StreamUnavailableError: the input could not be opened, or gave no media.
        RecorderProcessError: ffmpeg (or the feeder) failed otherwise.
        asyncio.CancelledError: after ffmpeg finished the current file.
    """
    muxer, ext = output_format(plan.container, refresher.source.kind)
    files = SegmentFiles(
        plan,
        ext,
        sink,
        stats,
        progress_interval_secs=settings.progress_interval_secs,
    )
    after_cut = False
    runs = 0
    resume_ms = plan.resume_edge_ms
    while True:
        source, generation = refresher.source, refresher.generation
        back, edge = await _placement(settings, source, resume_ms, after_cut=after_cut)
        inp = inputs(source, back)

        duration = plan.max_duration_secs

        def argv_for(
            list_fd: int,
            pattern: str,
            inp: RemuxInput = inp,
            duration: float = duration,
        ) -> list[str]:
            return [
                str(settings.ffmpeg),
                "-nostdin",
                "-hide_banner",
                "-loglevel",
                "warning",
                *inp.args,
                *output_args(muxer, duration, list_fd, pattern),
            ]

        # the plan's limits are read every tick: the record activity changes them
        # when the configuration does
        run = FfmpegRun(
            files,
            settings,
            url=source.url,
            limits=lambda: (plan.max_duration_secs, plan.max_size_bytes),
            duration_secs=duration,
            stall_timeout_secs=plan.stream_timeout_secs,
            refresher=refresher,
        )
        await run.start(argv_for, inp.feeder, inp.feeder_name, edge=edge)
        await run.follow()
        runs += 1
        if run.stop_reason in (SIZE_CUT, LIMIT_CUT):
            # the newest segment next: the one being recorded at the cut
            if run.stop_reason == SIZE_CUT:
                log.info("file %d reached its size: restarting", files.next_index - 1)
            after_cut, resume_ms = True, None
            continue
        if run.stop_reason == OVER:
            return "ended"
        if run.stop_reason == RENEWED or await _renewed(run, refresher, generation):
            # on from where the last media ends, as a retry does: nothing lost (a
            # run that could not place itself keeps the point it was given)
            edge_ms = files.last_edge_ms
            after_cut, resume_ms = False, resume_ms if edge_ms is None else edge_ms
            continue
        if refresher.ended:
            return "ended"
        return _outcome(run, files, source, plan, restarted=runs > 1)


async def _renewed(run: FfmpegRun, refresher: SourceRefresher, generation: int) -> bool:
    """After a run that met 403/410: whether a fresh URL came for the next run."""
    if not refresher.available or not run.met_expiry():
        return False
    with contextlib.suppress(StreamEnded):  # `refresher.ended` says it
        return (
            await refresher.renew("the URL was refused (403/410)", seen=generation)
            is not None
        )
    return False


async def _placement(
    settings: RemuxSettings,
    source: StreamSource,
    resume_ms: int | None,
    *,
    after_cut: bool,
) -> tuple[int | None, EdgeClock | None]:
    """Segments back from the live edge the next HLS run starts at, and its clock.

    A run resumes from `resume_ms` (the last attempt's, or the last run's before a
    refused URL) when there is one; a run after a size cut or a fresh URL starts at
    the newest segment, the one being recorded when the last run stopped.
    """
    if source.kind != StreamKind.HLS:
        return None, None
    window = await load_window(source)
    if after_cut:
        back = 1
    elif resume_ms is not None and window is not None:
        back = resume_back(window, resume_ms, settings.startup_secs)
    else:
        back = settings.live_edge_segments
    return back, EdgeClock(window, back) if window is not None else None


def _outcome(
    run: FfmpegRun,
    files: SegmentFiles,
    source: StreamSource,
    plan: OutputPlan,
    *,
    restarted: bool,
) -> str:
    if run.stop_reason == STALLED:
        if not files.produced:
            raise StreamUnavailableError(
                f"no media from {source.url} within "
                f"{plan.stream_timeout_secs:g} s ({run.failure()})"
            )
        return "stalled"
    if run.exit_code == 0:
        return "ended"
    ffmpeg_said = "\n".join(run.ffmpeg.tail) if run.ffmpeg else ""
    if not files.run_produced and _UNAVAILABLE.search(ffmpeg_said):
        if restarted and files.produced:
            log.info("%s is gone after a restart: %s", source.url, run.failure())
            return "ended"
        raise StreamUnavailableError(f"cannot read {source.url}: {run.failure()}")
    raise RecorderProcessError(run.failure())

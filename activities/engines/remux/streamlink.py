"""The streamlink engine: the streamlink CLI fetches the stream, ffmpeg writes files.

    streamlink --stdout hls://URL best  |  ffmpeg -i pipe:0 -c copy -f segment ...

streamlink reads the stream (`hls://` for HLS, `httpstream://` for HTTP-FLV, so no
plugin is involved: extractors resolved the URL already; a `streamlink` source is a
page URL that its plugin resolves, in the quality the extractor picked) with the
source's headers and proxy, and writes it to its stdout, which is ffmpeg's stdin.
From there on everything (segment files, progress, splitting, stopping) is the
ffmpeg engine's code in `activities.engines.remux.output`.

The CLI rather than the Python API: both programs run in one process group, so the
stop ladder (SIGINT, on which streamlink closes the stream and ffmpeg writes its
trailer; then SIGTERM, SIGKILL) ends the pipeline promptly, and none of streamlink's
reader threads live in the worker process. It runs with `--no-config` and
`--no-plugin-sideloading`, so nothing in the worker's home directory changes it.

The quality is `best`, after the names in `source.selection.qualities`, in order
(streamlink takes the first that exists: `720p60,720p,best`). Where an HLS recording
starts in the playlist is `--hls-live-edge` (see `resume`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from activities.contracts import StreamKind
from activities.engines.refresh import SourceRefresher
from activities.engines.remux.output import RemuxInput, RemuxSettings, remux
from activities.process import StopTimeouts

if TYPE_CHECKING:
    from pathlib import Path

    from activities.contracts import StreamSelection, StreamSource
    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink
    from activities.engines.refresh import Refresh, RefreshPolicy

# a `streamlink` source is a page URL: its plugin resolves it again in the CLI
_SCHEMES = {
    StreamKind.HLS: "hls://",
    StreamKind.FLV: "httpstream://",
    StreamKind.STREAMLINK: "",
}
# ffmpeg analyses 5 s of MPEG-TS from a pipe before it writes a byte, for streams
# that might still appear; live streams announce theirs at once, and 2 s of
# analysis cut the start of every file (and every size restart) by 3 s.
ANALYZE_MICROSECONDS = 2_000_000
# streamlink's start-up before its first playlist load: 1.2 s measured on an idle
# 2-core machine, 2.1-2.6 s on one loaded 5x over; a resume that allows too little
# loses what the window moved meanwhile, one that allows more repeats it
STARTUP_SECS = 5.0


def quality_spec(selection: StreamSelection) -> str:
    """streamlink's stream argument: the preferred qualities, then `best`."""
    names = [q.strip().lower() for q in selection.qualities]
    names = [n for n in names if n and "," not in n and n != "best"]
    return ",".join([*dict.fromkeys(names), "best"])


def streamlink_args(
    streamlink: Path,
    source: StreamSource,
    *,
    stream_timeout_secs: float,
    hls_live_edge: int,
) -> list[str]:
    """The streamlink command line that writes `source` to stdout.

    Args:
        streamlink: the streamlink executable.
        source: the stream, with its headers, proxy and quality preferences.
        stream_timeout_secs: streamlink gives up after this long without data.
        hls_live_edge: HLS segments back from the live edge to start at.

    Returns:
        The argv.
    """
    args = [
        str(streamlink),
        "--no-config",
        "--no-plugin-sideloading",
        "--loglevel",
        "warning",
        "--stdout",
        "--stream-timeout",
        f"{stream_timeout_secs:g}",
        "--hls-live-edge",
        str(hls_live_edge),
    ]
    for name, value in source.headers.items():
        args += ["--http-header", f"{name}={value}"]
    if source.proxy:
        args += ["--http-proxy", source.proxy]
    selection = source.selection
    if source.kind == StreamKind.STREAMLINK and source.quality:
        # the extractor picked it with the streamer's selection already
        wanted = [source.quality, *selection.qualities]
        selection = selection.model_copy(update={"qualities": wanted})
    return [*args, _SCHEMES[source.kind] + source.url, quality_spec(selection)]


class StreamlinkEngine:
    """Records HLS and HTTP-FLV streams with streamlink piped into ffmpeg.

    Args:
        ffmpeg: the ffmpeg binary (`activities.tools.ffmpeg_executable()`).
        streamlink: the streamlink CLI (`activities.tools.find_executable`).
        interrupt_timeout_secs: on a stop, time the pipeline gets after SIGINT
            (ffmpeg writes its trailer) before SIGTERM.
        terminate_timeout_secs: time after SIGTERM before SIGKILL.
        progress_interval_secs: least time between two `sink.progressed` calls.
        hls_live_edge: streamlink's `--hls-live-edge` for a fresh recording.
        startup_secs: about how long streamlink takes to load its first playlist;
            a resumed recording rewinds this much further (see `resume`).
        refresh_policy: how often and how early to ask for fresh URLs.

    The plan's `stream_timeout_secs` is streamlink's `--stream-timeout`, and no new
    media for that long ends a recording (`stalled`), or fails it when nothing was
    recorded at all.
    """

    def __init__(
        self,
        ffmpeg: Path,
        streamlink: Path,
        *,
        interrupt_timeout_secs: float = 10.0,
        terminate_timeout_secs: float = 5.0,
        progress_interval_secs: float = 1.0,
        hls_live_edge: int = 3,
        startup_secs: float = STARTUP_SECS,
        refresh_policy: RefreshPolicy | None = None,
    ) -> None:
        self.settings = RemuxSettings(
            ffmpeg=ffmpeg,
            stop=StopTimeouts(
                interrupt_secs=interrupt_timeout_secs,
                terminate_secs=terminate_timeout_secs,
            ),
            progress_interval_secs=progress_interval_secs,
            live_edge_segments=hls_live_edge,
            startup_secs=startup_secs,
        )
        self.streamlink = streamlink
        self.hls_live_edge = hls_live_edge
        self.refresh_policy = refresh_policy

    async def record(
        self,
        source: StreamSource,
        plan: OutputPlan,
        sink: SegmentSink,
        stats: RecordingStats,
        *,
        refresh: Refresh | None = None,
    ) -> str:
        """Record until the stream ends (`ended`) or stalls (`stalled`).

        Given `refresh`, an expiring URL is replaced by restarting the pipeline on
        a fresh one (`activities.engines.remux.output`).

        Raises:
            StreamUnavailableError: streamlink could not open the stream, or it
                gave no media.
            RecorderProcessError: the pipeline failed otherwise; the last stderr
                lines of both programs are in the message.
            asyncio.CancelledError: after ffmpeg finished the current file.
        """

        def inputs(current: StreamSource, live_edge: int | None) -> RemuxInput:
            feeder = streamlink_args(
                self.streamlink,
                current,
                stream_timeout_secs=plan.stream_timeout_secs,
                hls_live_edge=live_edge or self.hls_live_edge,
            )
            args = ["-analyzeduration", str(ANALYZE_MICROSECONDS), "-i", "pipe:0"]
            return RemuxInput(args, feeder, "streamlink")

        refresher = SourceRefresher(source, refresh, stats, self.refresh_policy)
        try:
            return await remux(self.settings, inputs, refresher, plan, sink, stats)
        finally:
            await refresher.aclose()

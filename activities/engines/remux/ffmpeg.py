"""The ffmpeg engine: ffmpeg reads the HLS or HTTP-FLV URL and copies it into files.

ffmpeg opens the stream with the source's headers (`-headers`, `-user_agent`) and
proxy (`-http_proxy`, HTTP proxies only), a network timeout (`-rw_timeout`) and the
reconnect flags that suit a live stream: reconnect a dropped connection, also on a
body of unknown length, for at most a couple of seconds, and never at a clean end
(a live stream that ends is over). HLS master playlists are followed by ffmpeg's
demuxer, which records its highest-resolution variant; where an HLS recording
starts in the playlist is `-live_start_index` (see `resume`).

Everything after the input (segment files, progress, splitting, stopping) is shared
with the streamlink engine and lives in `activities.engines.remux.output`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from activities.contracts import StreamKind
from activities.engines.refresh import SourceRefresher
from activities.engines.remux.output import RemuxInput, RemuxSettings, remux
from activities.errors import RecorderProcessError
from activities.process import StopTimeouts

if TYPE_CHECKING:
    from pathlib import Path

    from activities.contracts import StreamSource
    from activities.engines.base import OutputPlan, RecordingStats, SegmentSink
    from activities.engines.refresh import Refresh, RefreshPolicy

RECONNECT_DELAY_MAX_SECS = 2
# ffmpeg's start-up before its first playlist load: under 0.1 s on an idle machine,
# with room for a loaded one
STARTUP_SECS = 1.0


def input_args(
    source: StreamSource, *, rw_timeout_secs: float, live_edge: int | None = None
) -> list[str]:
    """ffmpeg's input options for reading `source.url` over HTTP.

    Args:
        source: the stream, with its headers and proxy.
        rw_timeout_secs: give up on a read or write that makes no progress this long.
        live_edge: start HLS this many segments back from the end of the playlist
            (`-live_start_index -N`); None keeps ffmpeg's default (3).

    Returns:
        Options ending with `-i URL`.

    Raises:
        RecorderProcessError: the proxy is not an HTTP proxy (ffmpeg has no SOCKS).
    """
    args = [
        "-rw_timeout",
        str(round(rw_timeout_secs * 1_000_000)),
        "-reconnect",
        "1",
        "-reconnect_streamed",
        "1",
        "-reconnect_delay_max",
        str(RECONNECT_DELAY_MAX_SECS),
    ]
    headers = dict(source.headers)
    agent = next((k for k in headers if k.lower() == "user-agent"), None)
    if agent is not None:
        args += ["-user_agent", headers.pop(agent)]
    if headers:
        args += ["-headers", "".join(f"{k}: {v}\r\n" for k, v in headers.items())]
    if source.proxy:
        if not source.proxy.lower().startswith("http://"):
            raise RecorderProcessError(
                f"ffmpeg only supports http:// proxies, not {source.proxy!r}: "
                "use the streamlink engine"
            )
        args += ["-http_proxy", source.proxy]
    if live_edge is not None and source.kind == StreamKind.HLS:
        args += ["-live_start_index", str(-max(1, live_edge))]
    return [*args, "-i", source.url]


class FfmpegEngine:
    """Records HLS and HTTP-FLV streams by running ffmpeg on the URL (`-c copy`).

    One instance serves both transports and any number of concurrent recordings.

    Args:
        ffmpeg: the ffmpeg binary (`activities.tools.ffmpeg_executable()`).
        interrupt_timeout_secs: on a stop, time ffmpeg gets after SIGINT to write
            its trailer before SIGTERM.
        terminate_timeout_secs: time after SIGTERM before SIGKILL.
        rw_timeout_secs: ffmpeg's network timeout (`-rw_timeout`).
        progress_interval_secs: least time between two `sink.progressed` calls.
        refresh_policy: how often and how early to ask for fresh URLs.

    No new media for the plan's `stream_timeout_secs` ends a recording
    (`stalled`), or fails it when nothing was recorded at all.
    """

    def __init__(
        self,
        ffmpeg: Path,
        *,
        interrupt_timeout_secs: float = 10.0,
        terminate_timeout_secs: float = 5.0,
        rw_timeout_secs: float = 15.0,
        progress_interval_secs: float = 1.0,
        refresh_policy: RefreshPolicy | None = None,
    ) -> None:
        self.settings = RemuxSettings(
            ffmpeg=ffmpeg,
            stop=StopTimeouts(
                interrupt_secs=interrupt_timeout_secs,
                terminate_secs=terminate_timeout_secs,
            ),
            progress_interval_secs=progress_interval_secs,
            startup_secs=STARTUP_SECS,
        )
        self.rw_timeout_secs = rw_timeout_secs
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

        Given `refresh`, an expiring URL is replaced by restarting ffmpeg on a
        fresh one (`activities.engines.remux.output`).

        Raises:
            StreamUnavailableError: ffmpeg could not open the URL, or got no media.
            RecorderProcessError: ffmpeg failed otherwise; its last stderr lines
                are in the message.
            asyncio.CancelledError: after ffmpeg finished the current file.
        """

        def inputs(current: StreamSource, live_edge: int | None) -> RemuxInput:
            return RemuxInput(
                input_args(
                    current, rw_timeout_secs=self.rw_timeout_secs, live_edge=live_edge
                )
            )

        refresher = SourceRefresher(source, refresh, stats, self.refresh_policy)
        try:
            return await remux(self.settings, inputs, refresher, plan, sink, stats)
        finally:
            await refresher.aclose()

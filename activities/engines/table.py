"""The engine table: which engine records which transport, for each engine kind.

The worker and `srec record` both build their engines here, so a new engine is
registered in one place. An engine kind missing from the table is "not available"
(the activity and the command say so); a kind offers only the transports it can
record. The ffmpeg engine needs an ffmpeg (PATH, else imageio-ffmpeg's static
build); the streamlink engine needs that ffmpeg and the `streamlink` program that
the `streamlink` dependency installs beside the interpreter. A `streamlink` stream
(a page URL only streamlink can read) is recorded by the streamlink engine under
every engine kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from activities.contracts import EngineKind, StreamKind
from activities.engines.flv import FlvEngine
from activities.engines.hls import HlsEngine
from activities.engines.remux.ffmpeg import FfmpegEngine
from activities.engines.remux.streamlink import StreamlinkEngine
from activities.tools import ffmpeg_executable, find_executable

if TYPE_CHECKING:
    import httpx

    from activities.engines.base import Engine, EngineTable
    from activities.engines.network import NetworkAccess

DEFAULT_STOP_TIMEOUT_SECS = 10.0


def build_engines(
    http: httpx.AsyncClient,
    *,
    network: NetworkAccess | None = None,
    stop_timeout_secs: float = DEFAULT_STOP_TIMEOUT_SECS,
) -> EngineTable:
    """Build every engine this process offers.

    Args:
        http: the process's shared client, used by the native engines.
        network: how `http` reaches the network (it was built from it); None
            keeps the native engines' every request on `http`.
        stop_timeout_secs: how long ffmpeg gets to write its trailer after SIGINT
            before SIGTERM (then SIGKILL of its process group, 5 s later).

    Returns:
        For each available engine kind, one engine per transport it records.
    """
    table: dict[EngineKind, dict[StreamKind, Engine]] = {
        EngineKind.NATIVE: {
            StreamKind.HLS: HlsEngine(http, network=network),
            StreamKind.FLV: FlvEngine(http),
        },
    }
    ffmpeg = ffmpeg_executable()
    if ffmpeg is not None:
        remux = FfmpegEngine(ffmpeg, interrupt_timeout_secs=stop_timeout_secs)
        table[EngineKind.FFMPEG] = {StreamKind.HLS: remux, StreamKind.FLV: remux}
        streamlink = find_executable("streamlink")
        if streamlink is not None:
            piped = StreamlinkEngine(
                ffmpeg, streamlink, interrupt_timeout_secs=stop_timeout_secs
            )
            table[EngineKind.STREAMLINK] = {
                StreamKind.HLS: piped,
                StreamKind.FLV: piped,
                StreamKind.STREAMLINK: piped,
            }
            # a stream only streamlink reads goes to it whichever engine is chosen
            for engines in table.values():
                engines[StreamKind.STREAMLINK] = piped
    return table

"""The engine table: which engine records which transport, for each engine kind.

The worker and `srec record` both build their engines here, so a new engine is
registered in one place. An engine kind missing from the table is "not available"
(the activity and the command say so); a kind offers only the transports it can
record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from activities.contracts import EngineKind, StreamKind
from activities.engines.flv import FlvEngine
from activities.engines.hls import HlsEngine

if TYPE_CHECKING:
    import httpx

    from activities.engines.base import EngineTable


def build_engines(http: httpx.AsyncClient) -> EngineTable:
    """Build every engine this process offers.

    Args:
        http: the process's shared client, used by the native engines.

    Returns:
        For each available engine kind, one engine per transport it records.
    """
    return {
        EngineKind.NATIVE: {
            StreamKind.HLS: HlsEngine(http),
            StreamKind.FLV: FlvEngine(http),
        },
    }

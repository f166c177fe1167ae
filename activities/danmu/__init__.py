"""Danmu: a live room's chat, recorded beside its video, one XML file per segment.

Layers, bottom up:

* `models`: `DanmuConnectInfo` (how to reach a room's chat: websocket URLs, token,
  cookie, room id, protocol params) goes in; `DanmuMessage` (chat, gift, super chat,
  guard/subscription, join, follow, system) and `ControlEvent` (stream closed or
  started, room info changed) come out.
* Codecs, one module per protocol, behind `codec.DanmuCodec`: sans-IO objects
  that say what to send on connect (`handshake`) and on schedule (`heartbeat`,
  every `heartbeat_secs`) and turn each received frame into messages plus the
  frames to send back (`decode`). `bilibili`, `twitch`, `douyu`, `huya` (over
  `tars`), `douyin` (over `protowire`), `twitcasting`, `soop`, `bigo`;
  `registry.codec_for(platform)` picks one.
* `connection.DanmuConnection`: the only code that touches the network. Keeps one
  websocket up for as long as its task runs: handshake, heartbeats, decoding,
  reconnects with jittered backoff (5 s → 60 s), a `DanmuAlert` after 5 minutes
  without chat; it ends only by cancellation.
* `writer.DanmakuXmlWriter`: Bilibili-style XML as BililiveRecorder writes it,
  times relative to the segment's first frame, valid after a crash but for its
  closing tag, which `repair.close_unterminated` restores.
* `stats.StatisticsAccumulator`: totals, rate, top talkers, words and gifts.
* `session.DanmuSession`: one connection and the current segment's writer for a
  whole recording session, deduplicating by message id.

The danmu activity (`activities.danmu_activity`, with `danmu_run` and `danmu_room`)
drives it: the platform module resolves the room into a `DanmuConnectInfo` inside
the activity (the cookie never crosses a Temporal boundary), afresh before every
reconnect, and the activity runs::

    session = DanmuSession(resolve, path_for=segment_xml_path, meta=RoomMeta(...),
                           on_control=..., on_alert=..., hold_secs=5.0)
    await session.start(seen_ids=ids_from_the_last_heartbeat)
    # for each segment the recording engine opened (wall clock + media time of
    # its first frame, from the segment rows): file N closes and N+1 opens at that
    # instant; an existing file (a dead attempt's) is repaired and continued
    closed = await session.rotate(index, wall_start, media_start)
    # heartbeat every few seconds with session.progress()
    # `session.stream_closed` is set on the platform's stream-closed event, for
    # `end_stream_on_danmu_stream_closed`
    result = await session.stop()  # files (paired with videos by index) + stats

Nothing here raises into the recording: network, protocol and file errors are
caught, counted in `progress()` and logged.
"""

from activities.danmu.codec import DanmuCodec, DanmuProtocolError
from activities.danmu.connection import ConnectionStats, DanmuConnection
from activities.danmu.models import (
    ControlEvent,
    ControlKind,
    DanmuAlert,
    DanmuAlertKind,
    DanmuConnectInfo,
    DanmuItem,
    DanmuMessage,
    Decoded,
    MessageKind,
)
from activities.danmu.registry import codec_for, supports
from activities.danmu.repair import RepairResult, close_unterminated
from activities.danmu.session import (
    DanmuFileResult,
    DanmuProgress,
    DanmuSession,
    DanmuSessionResult,
)
from activities.danmu.stats import (
    AccumulatorState,
    DanmuStatistics,
    StatisticsAccumulator,
)
from activities.danmu.writer import DanmakuXmlWriter, RoomMeta

__all__ = [
    "AccumulatorState",
    "ConnectionStats",
    "ControlEvent",
    "ControlKind",
    "DanmakuXmlWriter",
    "DanmuAlert",
    "DanmuAlertKind",
    "DanmuCodec",
    "DanmuConnectInfo",
    "DanmuConnection",
    "DanmuFileResult",
    "DanmuItem",
    "DanmuMessage",
    "DanmuProgress",
    "DanmuProtocolError",
    "DanmuSession",
    "DanmuSessionResult",
    "DanmuStatistics",
    "Decoded",
    "MessageKind",
    "RepairResult",
    "RoomMeta",
    "StatisticsAccumulator",
    "close_unterminated",
    "codec_for",
    "supports",
]

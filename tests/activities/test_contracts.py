"""Every contract model survives the data converter both processes use."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pydantic
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter

from activities import contracts

MODELS = [
    obj
    for _, obj in inspect.getmembers(contracts, inspect.isclass)
    if issubclass(obj, pydantic.BaseModel)
    and obj.__module__.startswith(f"{contracts.__name__}.")
]

SAMPLES: dict[str, dict[str, object]] = {
    "StreamSource": {"url": "http://h/a.m3u8", "kind": "hls"},
    "StreamerConfig": {
        "streamer_id": 1,
        "name": "a",
        "url": "http://h/a.m3u8",
        "platform": "generic",
    },
    "LoadStreamerInput": {"streamer_id": 1},
    "ProjectStateInput": {"streamer_id": 1, "state": "LIVE", "enabled": True},
    "OpenSessionInput": {
        "streamer_id": 1,
        "title": "t",
        "start_time": datetime(2026, 1, 1, tzinfo=UTC),
    },
    "OpenSessionResult": {"session_id": 3},
    "Detected": {
        "outcome": "live",
        "checked_at": datetime(2026, 1, 1, tzinfo=UTC),
        "source": {"url": "http://h/a.m3u8", "kind": "hls"},
        "failing_since": datetime(2026, 1, 1, tzinfo=UTC),
    },
    "PollShardInput": {
        "shard": 1,
        "shards": 4,
        "instance_id": "abc",
        "carried": {"signalled": {"offline": [1, 5]}},
    },
    "PollerWorkflowInput": {"instance_id": "abc", "shard": 0, "shards": 4},
    "CloseSessionInput": {
        "session_id": 3,
        "end_time": datetime(2026, 1, 1, tzinfo=UTC),
    },
    "CloseSessionResult": {"total_size_bytes": 5, "segment_count": 1},
    "CheckLiveInput": {
        "url": "http://h/a.m3u8",
        "streamer_id": 3,
        "selection": {"qualities": ["720p"]},
    },
    "StreamInfo": {
        "url": "http://h/a.flv",
        "kind": "flv",
        "quality": "原画",
        "cdn": "c1",
        "expires_at": datetime(2026, 1, 1, tzinfo=UTC),
    },
    "LiveStatus": {
        "is_live": True,
        "title": "t",
        "source": {
            "url": "http://h/a.m3u8",
            "kind": "flv",
            "headers": {"a": "b"},
            "expires_at": datetime(2026, 1, 1, tzinfo=UTC),
            "channel_url": "https://live.bilibili.com/1",
            "quality": "原画",
        },
        "outcome": "live",
        "author": "a",
        "viewers": 3,
        "started_at": datetime(2026, 1, 1, tzinfo=UTC),
        "streams": [{"url": "http://h/a.flv", "kind": "streamlink"}],
    },
    "RecordInput": {
        "streamer_id": 1,
        "streamer_name": "a",
        "platform": "generic",
        "session_id": 3,
        "session_start": datetime(2026, 1, 1, tzinfo=UTC),
        "title": "t",
        "source": {"url": "http://h/a.m3u8", "kind": "hls"},
        "workflow_id": "streamer-1",
    },
    "RecordResult": {
        "next_index": 2,
        "segments_closed": 2,
        "bytes_written": 9,
        "media_time_secs": 4.0,
        "reason": "ended",
    },
    "SegmentClosed": {
        "session_id": 3,
        "index": 0,
        "file_path": "/r/a_0.ts",
        "size_bytes": 9,
        "duration_secs": 2.0,
        "valid": True,
        "streams": [
            {"kind": "video", "codec": "h264", "width": 1280, "height": 720},
            {"kind": "audio", "codec": "aac", "sample_rate": 48000, "channels": 2},
        ],
    },
    "MediaStream": {"kind": "audio", "codec": "opus", "channels": 2},
    "ProbeSegmentInput": {"session_id": 3, "index": 0, "file_path": "/r/a_0.ts"},
    "ProbeSegmentResult": {"duration_secs": 2.0, "streams": ["h264"], "valid": True},
    "StreamerWorkflowInput": {
        "streamer_id": 1,
        "carried": {"paused": True, "state": "DISABLED", "sessions_recorded": 4},
    },
    "StreamerWorkflowResult": {"reason": "stopped"},
    "StateQueryResult": {"state": "LIVE", "paused": False, "session_id": 3},
    "TimeWindowFilter": {
        "days_of_week": ["Friday", "Saturday"],
        "start_time": "22:00",
        "end_time": "02:00:30",
        "timezone": "Europe/Berlin",
    },
    "CronFilter": {"expression": "* 20-23 * * 1-5", "timezone": "Asia/Shanghai"},
    "KeywordFilter": {"include": ["原神"], "exclude": ["rerun"]},
    "CategoryFilter": {"categories": ["Just Chatting"]},
    "RegexFilter": {"pattern": r"^\[EN\]", "case_insensitive": True},
    "RecordDanmuInput": {
        "streamer_id": 1,
        "streamer_name": "a",
        "url": "https://live.bilibili.com/3",
        "session_id": 3,
        "session_start": datetime(2026, 1, 1, tzinfo=UTC),
        "workflow_id": "streamer-1",
    },
    "RecordDanmuProgress": {
        "connected": True,
        "messages": 7,
        "current": {"index": 0, "path": "/r/a_0.xml", "messages": 5},
        "recent_ids": ["m1", "m2"],
    },
    "DanmuFileProgress": {"index": 1, "path": "/r/a_1.xml", "messages": 0},
    "RecordDanmuResult": {
        "reason": "session_closed",
        "files": [
            {"session_id": 3, "index": 0, "file_path": "/r/a_0.xml", "message_count": 5}
        ],
    },
    "DanmuClosed": {
        "session_id": 3,
        "index": 0,
        "file_path": "/r/a_0.xml",
        "message_count": 5,
        "session_files": 1,
    },
    "DanmuStreamClosed": {
        "session_id": 3,
        "platform": "bilibili",
        "received_at": datetime(2026, 1, 1, tzinfo=UTC),
    },
    "AfterRunInput": {
        "workflow_id": "pipeline-seg-3-0",
        "kind": "seg",
        "session_id": 3,
        "segment_index": 0,
    },
    "AfterRunResult": {"started": "pipeline-pair-3-0"},
    "SessionCheckInput": {"session_id": 3},
    "SessionCheck": {
        "status": "waiting",
        "reason": "segment 4 is not final",
        "repaired": 1,
    },
    "SessionCompleteInput": {"session_id": 3, "waited_secs": 120.0},
    "SessionCompleteResult": {"started": "pipeline-session-3", "looks": 4},
}


def test_every_model_has_a_sample_or_defaults():
    for model in MODELS:
        SAMPLES.setdefault(model.__name__, {})
        model.model_validate(SAMPLES[model.__name__])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
async def test_round_trip_through_the_pydantic_converter(model):
    value = model.model_validate(SAMPLES.get(model.__name__, {}))
    payloads = await pydantic_data_converter.encode([value])
    (decoded,) = await pydantic_data_converter.decode(payloads, [model])
    assert decoded == value


def test_workflow_ids_round_trip():
    assert (
        contracts.streamer_id_from_workflow_id(contracts.streamer_workflow_id(42)) == 42
    )
    assert contracts.streamer_id_from_workflow_id("other-1") is None
    assert contracts.streamer_id_from_workflow_id("streamer-x") is None


async def test_live_status_of_an_old_history_still_decodes():
    """Histories recorded before outcomes existed carry only is_live/title/source."""
    old = b'{"is_live": true, "title": "t", "source": {"url": "u", "kind": "hls"}}'
    payload = (await pydantic_data_converter.encode([{}]))[0]
    payload.data = old
    (status,) = await pydantic_data_converter.decode([payload], [contracts.LiveStatus])
    assert status.result is contracts.LiveOutcome.LIVE
    assert status.streams == []
    offline = contracts.LiveStatus(is_live=False)
    assert offline.result is contracts.LiveOutcome.OFFLINE
    assert not offline.result.fatal
    assert contracts.LiveOutcome.BANNED.fatal


def test_trigger_workflow_ids():
    assert (
        contracts.trigger_workflow_id(contracts.RunKind.SEGMENT, 3, 0)
        == "pipeline-seg-3-0"
    )
    assert (
        contracts.trigger_workflow_id(contracts.RunKind.PAIR, 3, 12)
        == "pipeline-pair-3-12"
    )
    assert (
        contracts.trigger_workflow_id(contracts.RunKind.SESSION, 3, None)
        == "pipeline-session-3"
    )
    assert contracts.session_complete_workflow_id(3) == "session-complete-3"

"""The notification event model: every type has a priority, models round-trip."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pydantic
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter

from activities import contracts, events
from activities.events import EVENT_TYPES, EventType, Level, NotifyEvent, level_name

MODELS = [
    obj
    for _, obj in inspect.getmembers(events, inspect.isclass)
    if issubclass(obj, pydantic.BaseModel) and obj.__module__ == events.__name__
]
EVENT = {
    "type": "stream_online",
    "key": "streamer-1/session-2/stream_online",
    "summary": "alice is live",
    "streamer_id": 1,
    "session_id": 2,
    "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),
}
SAMPLES: dict[str, dict[str, object]] = {
    "NotifyEvent": EVENT,
    "RecordEventInput": {"event": EVENT},
    "RecordEventResult": {"event_id": 1, "created": True, "deliveries": 2},
    "DeliverEventInput": {"event_id": 1, "delivery_ids": [1, 2]},
    "DeliverInput": {"delivery_id": 1},
    "DeliverResult": {"status": "delivered"},
    "DeadLetterInput": {"delivery_id": 1, "error": "Discord answered 500"},
}


def test_every_event_type_has_a_label_and_a_priority():
    assert set(EVENT_TYPES) == set(EventType)
    assert len(EventType) == 18
    assert EVENT_TYPES[EventType.OUTPUT_PATH_INACCESSIBLE].priority == Level.CRITICAL
    # the write gate's constants name the same types
    assert (
        contracts.EVENT_OUTPUT_PATH_INACCESSIBLE == EventType.OUTPUT_PATH_INACCESSIBLE
    )
    assert contracts.EVENT_OUTPUT_PATH_RECOVERED == EventType.OUTPUT_PATH_RECOVERED


@pytest.mark.parametrize(
    ("priority", "name"),
    [
        (0, "low"),
        (2, "low"),
        (5, "normal"),
        (7, "normal"),
        (8, "high"),
        (10, "critical"),
    ],
)
def test_level_names(priority, name):
    assert level_name(priority) == name


def test_priority_defaults_to_the_type_and_is_bounded():
    event = NotifyEvent.model_validate(EVENT)
    assert event.effective_priority() == 5
    assert event.model_copy(update={"priority": 9}).effective_priority() == 9
    with pytest.raises(pydantic.ValidationError):
        NotifyEvent.model_validate(EVENT | {"priority": 11})
    with pytest.raises(pydantic.ValidationError):
        NotifyEvent.model_validate(EVENT | {"key": ""})


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
async def test_round_trip_through_the_pydantic_converter(model):
    value = model.model_validate(SAMPLES.get(model.__name__, {}))
    payloads = await pydantic_data_converter.encode([value])
    (decoded,) = await pydantic_data_converter.decode(payloads, [model])
    assert decoded == value

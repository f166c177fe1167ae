"""Message templates: `{placeholder}` text, checked when saved, rendered per delivery.

Only plain `{name}` placeholders from `PLACEHOLDERS` are allowed; `{{` and `}}` are
literal braces. Attribute access, indexing, conversions and format specs are
refused when a template is saved (`check_template` → the API's 422), and rendering
never calls `str.format`, so a template cannot reach into objects or ask for a
billion-character padding.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from string import Formatter
from typing import Any

from activities.events import EVENT_TYPES, EventType, level_name
from activities.notify.base import Message

PLACEHOLDERS: dict[str, str] = {
    "event": "event type, e.g. stream_online",
    "label": "event type for humans, e.g. Stream online",
    "priority": "priority 0-10",
    "priority_name": "low | normal | high | critical",
    "streamer": "streamer name (empty for system events)",
    "streamer_id": "streamer id (empty for system events)",
    "session_id": "session id (empty when none)",
    "title": "the stream's title",
    "summary": "one human line describing the event",
    "detail": "more detail (an error's text, …)",
    "subject": "what the event is about (a path, …)",
    "time": "when it happened, ISO 8601 UTC",
    "event_id": "the event's id in the event log",
}
TEST_EVENT = "test"


def check_template(template: str) -> str:
    """Validate a template.

    Returns:
        The template.

    Raises:
        ValueError: malformed braces or a placeholder that is not plain and known.
    """
    try:
        parts = list(Formatter().parse(template))
    except ValueError as err:
        raise ValueError(f"malformed template: {err} (write {{{{ for a brace)") from err
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            raise ValueError(f"unknown placeholder {{{name}}}; known: {known}")
        if spec or conversion:
            raise ValueError(
                f"placeholder {{{name}}} takes no format spec or conversion"
            )
    return template


def render(
    template: str, values: dict[str, str], escape: Callable[[str], str] | None = None
) -> str:
    """Fill a template; `escape` is applied to the values, not the template."""
    try:
        parts = list(Formatter().parse(template))
    except ValueError:
        # saved templates are checked; a row edited by hand still sends something
        return template
    out: list[str] = []
    for literal, name, _, _ in parts:
        out.append(literal)
        if name is not None:
            value = values.get(name, "")
            out.append(escape(value) if escape else value)
    return "".join(out)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def event_values(event: dict[str, Any]) -> dict[str, str]:
    """The placeholder values of an event row (as `model_dump()`-ed)."""
    kind = _text(event.get("kind"))
    try:
        label = EVENT_TYPES[EventType(kind)].label
    except ValueError:
        label = "Test notification" if kind == TEST_EVENT else kind
    created = event.get("created_at")
    priority = int(event.get("priority") or 0)
    return {
        "event": kind,
        "label": label,
        "priority": str(priority),
        "priority_name": level_name(priority),
        "streamer": _text(event.get("streamer_name")),
        "streamer_id": _text(event.get("streamer_id")),
        "session_id": _text(event.get("session_id")),
        "title": _text(event.get("title")),
        "summary": _text(event.get("summary")),
        "detail": _text(event.get("detail")),
        "subject": _text(event.get("subject")),
        "time": created.isoformat() if isinstance(created, datetime) else "",
        "event_id": _text(event.get("id")),
    }


def build_message(
    event: dict[str, Any], channel: dict[str, Any], delivery_key: str
) -> Message:
    """Render one event for one channel (both as `model_dump()`-ed rows).

    The payload is the generic webhook's documented body (see the README).
    """
    values = event_values(event)
    title_template = _text(channel.get("title_template"))
    body_template = _text(channel.get("body_template"))
    title = render(title_template, values)
    body = render(body_template, values)
    created = event.get("created_at")
    occurred = created if isinstance(created, datetime) else datetime.now(UTC)
    streamer_id = event.get("streamer_id")
    payload = {
        "delivery": delivery_key,
        "title": title,
        "body": body,
        "event": {
            "id": event.get("id"),
            "key": event.get("key"),
            "type": values["event"],
            "label": values["label"],
            "priority": int(values["priority"]),
            "priority_name": values["priority_name"],
            "streamer": (
                None
                if streamer_id is None
                else {"id": streamer_id, "name": values["streamer"]}
            ),
            "session_id": event.get("session_id"),
            "title": values["title"],
            "summary": values["summary"],
            "subject": values["subject"],
            "detail": values["detail"],
            "occurred_at": occurred.isoformat(),
        },
    }
    return Message(
        title=title,
        body=body,
        priority=int(values["priority"]),
        event_type=values["event"],
        delivery_key=delivery_key,
        occurred_at=occurred,
        payload=payload,
        title_template=title_template,
        body_template=body_template,
        values=values,
    )


def sample_message(channel: dict[str, Any], now: datetime) -> Message:
    """The message `POST /api/notifications/channels/{id}/test` sends."""
    event = {
        "id": None,
        "key": f"test:{channel.get('id')}:{now.isoformat()}",
        "kind": TEST_EVENT,
        "priority": 5,
        "summary": f"Test notification from srec to channel {channel.get('name')}",
        "created_at": now,
    }
    return build_message(event, channel, f"test-{channel.get('id')}")

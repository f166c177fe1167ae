"""Message templates: checked at save time, rendered without str.format."""

from __future__ import annotations

import html

import pytest

from activities.notify import PLACEHOLDERS, check_template
from activities.notify.template import event_values, render
from tests.activities.notify.conftest import EVENT


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("{streamer} is live: {title}", id="plain"),
        pytest.param("{{literal}} {event}", id="escaped-braces"),
        pytest.param("", id="empty"),
        pytest.param("".join(f"{{{p}}}" for p in PLACEHOLDERS), id="every-placeholder"),
    ],
)
def test_valid_templates(template):
    assert check_template(template) == template


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        pytest.param("{nope}", "unknown placeholder {nope}", id="unknown"),
        pytest.param("{}", "unknown placeholder {}", id="positional"),
        pytest.param("{0}", "unknown placeholder {0}", id="index"),
        pytest.param("{streamer.__class__}", "unknown placeholder", id="attribute"),
        pytest.param("{streamer[0]}", "unknown placeholder", id="item"),
        pytest.param("{streamer:>999999999}", "no format spec", id="padding-bomb"),
        pytest.param("{streamer!r}", "no format spec or conversion", id="conversion"),
        pytest.param("{streamer", "malformed", id="open-brace"),
        pytest.param("a } b", "malformed", id="lone-close"),
    ],
)
def test_invalid_templates(template, reason):
    with pytest.raises(ValueError, match=reason):
        check_template(template)


def test_render_escapes_values_only():
    values = event_values(EVENT)
    rendered = render("<b>{title}</b> {{x}}", values, html.escape)
    assert rendered == "<b>Saturday &lt;art&gt; &amp; *chat*</b> {x}"


def test_a_corrupt_stored_template_still_renders_something():
    assert render("{streamer", {"streamer": "a"}) == "{streamer"


def test_event_values():
    values = event_values(EVENT | {"session_id": None, "priority": 10})
    assert values["label"] == "Stream online"
    assert values["priority_name"] == "critical"
    assert values["session_id"] == ""
    assert values["time"] == "2026-01-01T20:00:00+00:00"
    assert set(values) == set(PLACEHOLDERS)

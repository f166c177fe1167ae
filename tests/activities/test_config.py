"""The merge of configuration levels into a recording policy."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from activities.config import (
    RecordingOverrides,
    merge_policy,
    parse_stored_overrides,
)
from activities.contracts import (
    Container,
    EngineKind,
    RecordingPolicy,
    StreamSelection,
)

DEFAULTS = RecordingPolicy(
    poll_interval_secs=15,
    max_segment_size_bytes=1000,
    selection=StreamSelection(qualities=["1080p"], cdns=["a"]),
)


def test_no_levels_is_the_defaults() -> None:
    assert merge_policy(DEFAULTS) == DEFAULTS
    assert merge_policy(DEFAULTS, None, RecordingOverrides()) == DEFAULTS


def test_a_level_overrides_only_what_it_sets() -> None:
    merged = merge_policy(
        DEFAULTS,
        RecordingOverrides(
            engine=EngineKind.FFMPEG,
            container=Container.MKV,
            max_segment_duration_secs=600,
            grace_secs=0,
        ),
    )
    assert merged.engine == EngineKind.FFMPEG
    assert merged.container == Container.MKV
    assert merged.max_segment_duration_secs == 600
    assert merged.grace_secs == 0  # falsy values are overrides too
    assert merged.poll_interval_secs == 15
    assert merged.max_segment_size_bytes == 1000
    assert merged.selection == DEFAULTS.selection
    assert DEFAULTS.engine == EngineKind.NATIVE  # the defaults are not changed


def test_later_levels_win() -> None:
    merged = merge_policy(
        DEFAULTS,
        RecordingOverrides(poll_interval_secs=5, grace_secs=1),
        RecordingOverrides(poll_interval_secs=7),
    )
    assert (merged.poll_interval_secs, merged.grace_secs) == (7, 1)


def test_selection_is_replaced_whole() -> None:
    level = RecordingOverrides.model_validate({"selection": {"qualities": ["720p"]}})
    merged = merge_policy(DEFAULTS, level)
    assert merged.selection == StreamSelection(qualities=["720p"])
    assert type(merged.selection) is StreamSelection


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param({"filename_template": "../x_%i"}, "'..'", id="dotdot"),
        pytest.param({"filename_template": "/abs_%i"}, "absolute", id="absolute"),
        pytest.param({"filename_template": "{nope}_%i"}, "{nope}", id="placeholder"),
        pytest.param({"filename_template": "x"}, "needs %i", id="no-index"),
        pytest.param({"engine": "vlc"}, "'native', 'ffmpeg'", id="engine"),
        pytest.param({"min_segment_size_bytes": -1}, "greater than or equal", id="neg"),
        pytest.param(
            {"poll_interval_secs": 0}, "greater than or equal to 1", id="poll"
        ),
        pytest.param({"stream_timeout_secs": 0}, "greater than 0", id="timeout"),
        pytest.param({"colour": "red"}, "Extra inputs", id="extra"),
        pytest.param({"selection": {"qualitys": []}}, "Extra inputs", id="sel-extra"),
        pytest.param(
            {"min_segment_size_bytes": 10, "max_segment_size_bytes": 5},
            "every segment would be deleted",
            id="min-above-max",
        ),
    ],
)
def test_invalid_overrides_name_the_reason(data: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason.replace("{", r"\{")):
        RecordingOverrides.model_validate(data)


def test_stored_form_keeps_only_what_is_set() -> None:
    level = RecordingOverrides(engine=EngineKind.STREAMLINK, grace_secs=0)
    assert level.stored() == {"engine": "streamlink", "grace_secs": 0}
    assert parse_stored_overrides(level.stored()) == level


def test_stored_invalid_fields_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    stored = {"engine": "vlc", "grace_secs": 3, "filename_template": "/x_%i"}
    assert parse_stored_overrides(stored) == RecordingOverrides(grace_secs=3)
    assert "engine" in caplog.text
    assert "filename_template" in caplog.text
    assert parse_stored_overrides(None) == RecordingOverrides()
    bad_pair = {"min_segment_size_bytes": 10, "max_segment_size_bytes": 5}
    assert parse_stored_overrides(bad_pair) == RecordingOverrides()

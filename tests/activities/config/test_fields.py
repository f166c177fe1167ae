"""A level's model derives from the one field list: same fields, bounds, checks."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import ValidationError

from activities.config import (
    OVERRIDES,
    parse_stored,
    patch_overrides,
    validate_overrides,
)
from activities.contracts import RecordingPolicy


def test_every_policy_field_is_a_level_field_with_its_description() -> None:
    policy, level = RecordingPolicy.model_fields, OVERRIDES.model_fields
    assert list(level) == list(policy)
    for name, info in policy.items():
        assert level[name].description == info.description, name
        assert level[name].default is None, name


def test_the_bounds_are_the_policys() -> None:
    schema = OVERRIDES.model_json_schema()["properties"]
    poll = schema["poll_interval_secs"]["anyOf"][0]
    assert (poll["minimum"], poll["maximum"]) == (1.0, 86400.0)
    assert schema["filename_template"]["anyOf"][0]["maxLength"] == 255


def test_only_the_fields_set_are_kept() -> None:
    assert validate_overrides({}) == {}
    assert validate_overrides(
        {"engine": "ffmpeg", "record_danmu": False, "selection": {"cdns": ["a"]}}
    ) == {"engine": "ffmpeg", "record_danmu": False, "selection": {"cdns": ["a"]}}
    assert validate_overrides({"selection": {}, "record_retry": None}) == {}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"speed": 2}, "speed", id="unknown-field"),
        pytest.param({"selection": {"best": 1}}, "selection", id="unknown-nested"),
        pytest.param({"output_folder": "../x"}, "output_folder", id="folder-escapes"),
        pytest.param({"filename_template": "a/b_%i"}, "filename_template", id="folder"),
        pytest.param({"filename_template": "x"}, "filename_template", id="no-index"),
        pytest.param({"proxy": "http://u:p@h:1"}, "proxy", id="proxy-password"),
        pytest.param({"proxy": "http://h/path"}, "proxy", id="proxy-path"),
        pytest.param({"poll_interval_secs": 0.5}, "poll_interval_secs", id="poll"),
        pytest.param(
            {"min_segment_size_bytes": 9, "max_segment_size_bytes": 8},
            "min_segment_size_bytes",
            id="min-above-max",
        ),
        pytest.param(
            {"segment_pipeline": {"steps": []}}, "segment_pipeline", id="empty-pipeline"
        ),
    ],
)
def test_invalid_values_name_their_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_overrides(data)
    assert {str(e["loc"][0]) for e in caught.value.errors()} == {field}


def test_stored_levels_are_read_tolerantly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    stored = {"engine": "vlc", "poll_interval_secs": 5, "grace_secs": 3}
    assert parse_stored(stored, "settings of streamer 1") == {"poll_interval_secs": 5}
    assert "settings of streamer 1" in caplog.text
    assert parse_stored(None) == {}


def test_a_patch_replaces_sent_fields_and_null_inherits() -> None:
    stored = {
        "engine": "ffmpeg",
        "poll_interval_secs": 5,
        "selection": {"qualities": ["720p"], "cdns": ["a"]},
        "segment_pipeline": {"steps": [{"id": "a", "preset": "p"}]},
    }
    patched = patch_overrides(
        stored,
        {
            "engine": None,
            "poll_interval_secs": 7,
            "selection": {"cdns": None, "min_bitrate_bps": 5},
            "segment_pipeline": {"steps": [{"id": "b", "processor": "x"}]},
        },
    )
    assert patched["poll_interval_secs"] == 7
    assert "engine" not in patched
    assert patched["selection"] == {"qualities": ["720p"], "min_bitrate_bps": 5}
    (step,) = patched["segment_pipeline"]["steps"]
    assert step["id"] == "b"  # a pipeline is replaced, never merged
    assert patch_overrides(stored, {"selection": None}).get("selection") is None


def test_a_patch_is_validated_whole() -> None:
    with pytest.raises(ValidationError):
        patch_overrides({"max_segment_size_bytes": 10}, {"min_segment_size_bytes": 11})

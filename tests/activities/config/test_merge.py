"""The one merge of configuration levels, as a table of cases: one per rule."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from activities.config import Effective, Level, LevelValues, merge
from activities.contracts import RecordingPolicy

G, P, T, S = Level.GLOBAL, Level.PLATFORM, Level.TEMPLATE, Level.STREAMER
SECRETS = frozenset({"cookies", "proxy_password"})
COOKIE = "SESSDATA=s3cr3t-cookie"

PIPE_A = {"steps": [{"id": "a", "preset": "remux-mp4"}, {"id": "b", "preset": "x"}]}
PIPE_B = {"steps": [{"id": "only", "processor": "thumbnail"}]}


def lv(
    level: Level, settings: dict[str, Any] | None = None, **options: Any
) -> LevelValues:
    return LevelValues(level, settings or {}, options)


def value(effective: Effective, dotted: str) -> Any:
    found: Any = effective.policy.model_dump(mode="json")
    for part in dotted.split("."):
        found = found[part]
    return found


CASES = [
    pytest.param(
        [],
        {"poll_interval_secs": 30.0, "output_folder": "{streamer}"},
        {"poll_interval_secs": Level.DEFAULT, "selection.qualities": Level.DEFAULT},
        id="nothing-set-is-the-built-in-defaults",
    ),
    pytest.param(
        [lv(G, {"poll_interval_secs": 60})],
        {"poll_interval_secs": 60.0},
        {"poll_interval_secs": G, "engine": Level.DEFAULT},
        id="global-over-defaults",
    ),
    pytest.param(
        [
            lv(G, {"engine": "ffmpeg", "poll_interval_secs": 60}),
            lv(P, {"engine": "streamlink"}),
            lv(T, {"engine": "native", "poll_interval_secs": 10}),
            lv(S, {"poll_interval_secs": 5}),
        ],
        {"engine": "native", "poll_interval_secs": 5.0},
        {"engine": T, "poll_interval_secs": S},
        id="the-most-specific-level-that-sets-a-scalar-wins",
    ),
    pytest.param(
        [lv(G, {"max_segment_size_bytes": 1000}), lv(S, {"max_segment_size_bytes": 0})],
        {"max_segment_size_bytes": 0},
        {"max_segment_size_bytes": S},
        id="a-falsy-value-is-set-too",
    ),
    pytest.param(
        [lv(G, {"record_danmu": True}), lv(T, {"record_danmu": None}), lv(S, {})],
        {"record_danmu": True},
        {"record_danmu": G},
        id="null-or-absent-inherits",
    ),
    pytest.param(
        [
            lv(G, {"selection": {"qualities": ["1080p"], "cdns": ["ali"]}}),
            lv(T, {"selection": {"cdns": ["tx"]}}),
            lv(S, {"selection": {"min_bitrate_bps": 1000}}),
        ],
        {
            "selection.qualities": ["1080p"],
            "selection.cdns": ["tx"],
            "selection.min_bitrate_bps": 1000,
            "selection.max_bitrate_bps": 0,
        },
        {
            "selection.qualities": G,
            "selection.cdns": T,
            "selection.min_bitrate_bps": S,
            "selection.max_bitrate_bps": Level.DEFAULT,
        },
        id="selection-merges-field-by-field",
    ),
    pytest.param(
        [
            lv(G, {"selection": {"cdn_blacklist": ["bad"]}}),
            lv(P, {"selection": {"cdn_blacklist": ["worse", "bad"]}}),
            lv(T, {"selection": {"cdn_blacklist": []}}),
            lv(S, {"selection": {"cdn_blacklist": ["worst"]}}),
        ],
        {"selection.cdn_blacklist": ["bad", "worse", "worst"]},
        {"selection.cdn_blacklist": S},
        id="cdn-blacklists-are-joined",
    ),
    pytest.param(
        [
            lv(G, {"record_retry": {"max_attempts": 3, "backoff": 3.0}}),
            lv(S, {"record_retry": {"max_attempts": 20}}),
        ],
        {
            "record_retry.max_attempts": 20,
            "record_retry.backoff": 3.0,
            "record_retry.initial_interval_secs": 1.0,
        },
        {"record_retry.max_attempts": S, "record_retry.backoff": G},
        id="record-retry-merges-field-by-field",
    ),
    pytest.param(
        [lv(G, {"segment_pipeline": PIPE_A}), lv(T, {"segment_pipeline": PIPE_B})],
        {
            "segment_pipeline": PIPE_B
            | {
                "steps": [
                    PIPE_B["steps"][0]
                    | {"preset": None, "config": {}, "depends_on": []}
                ]
            }
        },
        {"segment_pipeline": T},
        id="pipelines-replace-whole",
    ),
]


@pytest.mark.parametrize(("levels", "expected", "sources"), CASES)
def test_merge(
    levels: list[LevelValues], expected: dict[str, Any], sources: dict[str, Level]
) -> None:
    effective = merge(levels, SECRETS)
    for dotted, want in expected.items():
        assert value(effective, dotted) == want, dotted
    for dotted, level in sources.items():
        assert effective.sources[dotted] == level, dotted


def test_every_field_has_a_source() -> None:
    effective = merge([])
    fields = set(RecordingPolicy.model_fields)
    named = {key.split(".")[0] for key in effective.sources}
    assert named == fields


def test_platform_options_merge_shallowly() -> None:
    effective = merge(
        [
            lv(P, quality=10000, hevc=True, cdn="a"),
            lv(T, quality=400, cdn=None),
            lv(S, extra={"deep": 1}),
        ],
        SECRETS,
    )
    assert effective.extras == {
        "quality": 400,
        "hevc": True,
        "cdn": "a",
        "extra": {"deep": 1},
    }
    assert effective.extra_sources == {
        "quality": T,
        "hevc": P,
        "cdn": P,
        "extra": S,
    }


CREDENTIAL_CASES = [
    pytest.param(
        [lv(P, cookies="platform"), lv(T, cookies="template"), lv(S, cookies="mine")],
        "mine",
        S,
        id="streamer-over-template-over-platform",
    ),
    pytest.param(
        [lv(P, cookies="platform"), lv(T, cookies="template"), lv(S)],
        "template",
        T,
        id="template-over-platform",
    ),
    pytest.param(
        [lv(P, cookies="platform"), lv(T, cookies=""), lv(S)],
        "",
        T,
        id="present-wins-even-empty",
    ),
    pytest.param(
        [lv(P, cookies="platform"), lv(T, cookies=None), lv(S)],
        "platform",
        P,
        id="null-inherits",
    ),
]


@pytest.mark.parametrize(("levels", "cookie", "source"), CREDENTIAL_CASES)
def test_credentials_resolve_separately(
    levels: list[LevelValues], cookie: str, source: Level
) -> None:
    effective = merge(levels, SECRETS)
    assert effective.credentials["cookies"].get_secret_value() == cookie
    assert effective.credential_sources == {"cookies": source}
    assert "cookies" not in effective.extras
    assert effective.options()["cookies"] == cookie


def test_credentials_never_show_in_the_policy_its_repr_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    effective = merge(
        [
            lv(G, {"proxy": "http://u@proxy:1"}),
            lv(P, cookies=COOKIE),
            lv(S, hevc=False),
        ],
        SECRETS,
    )
    logging.getLogger("test").info("merged: %r / %s", effective, effective.policy)
    for text in (
        repr(effective),
        str(effective.credentials),
        effective.policy.model_dump_json(),
        str(effective.extras),
        caplog.text,
    ):
        assert COOKIE not in text
    assert "cookies" not in effective.policy.model_dump()
    assert effective.options() == {"hevc": False, "cookies": COOKIE}


def test_the_inputs_are_not_changed() -> None:
    settings = {"selection": {"cdn_blacklist": ["a"]}}
    levels = [lv(G, settings), lv(S, {"selection": {"cdn_blacklist": ["b"]}})]
    merge(levels)
    merge(levels)
    assert settings == {"selection": {"cdn_blacklist": ["a"]}}
    assert merge(levels).policy.selection.cdn_blacklist == ["a", "b"]

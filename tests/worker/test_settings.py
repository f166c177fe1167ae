"""The worker's settings: the guards' knobs come from SREC_* variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.settings import WorkerSettings


def test_guard_defaults(tmp_path, monkeypatch) -> None:
    for name in (
        "SREC_MAX_CONCURRENT_RECORDINGS",
        "SREC_HIGH_PRIORITY_EXTRA_SLOTS",
        "SREC_SLOT_WAIT_SECS",
        "SREC_BREAKER_FAILURE_THRESHOLD",
        "SREC_BREAKER_COOLDOWN_SECS",
        "SREC_OUTPUT_GATE_COOLDOWN_SECS",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = WorkerSettings(data_dir=tmp_path)
    assert settings.max_concurrent_recordings == 100
    assert settings.high_priority_extra_slots == 2
    assert settings.slot_wait_secs == 300
    assert settings.breaker_failure_threshold == 5
    assert settings.breaker_cooldown_secs == 60
    assert settings.output_gate_cooldown_secs == 30


def test_guards_read_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SREC_MAX_CONCURRENT_RECORDINGS", "3")
    monkeypatch.setenv("SREC_HIGH_PRIORITY_EXTRA_SLOTS", "0")
    monkeypatch.setenv("SREC_BREAKER_FAILURE_THRESHOLD", "2")
    settings = WorkerSettings(data_dir=tmp_path)
    assert (
        settings.max_concurrent_recordings,
        settings.high_priority_extra_slots,
        settings.breaker_failure_threshold,
    ) == (3, 0, 2)


def test_recording_fields_are_not_worker_settings(tmp_path, monkeypatch) -> None:
    # they seed the configuration's global level (activities.config.seed)
    monkeypatch.setenv("SREC_STREAM_TIMEOUT_SECS", "0")
    assert not hasattr(WorkerSettings(data_dir=tmp_path), "stream_timeout_secs")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("SREC_HIGH_PRIORITY_EXTRA_SLOTS", "-1", id="negative-extra"),
        pytest.param("SREC_BREAKER_FAILURE_THRESHOLD", "0", id="zero-threshold"),
        pytest.param("SREC_OUTPUT_GATE_COOLDOWN_SECS", "0", id="zero-cooldown"),
        pytest.param("SREC_HOST_MAP", "live.bilibili.com", id="host-map"),
    ],
)
def test_nonsense_is_refused_at_start(tmp_path, monkeypatch, name, value) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        WorkerSettings(data_dir=tmp_path)


def test_host_map_reads_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SREC_HOST_MAP", "gql.twitch.tv=127.0.0.1:8123")
    settings = WorkerSettings(data_dir=tmp_path)
    assert settings.host_routes == {"gql.twitch.tv": "127.0.0.1:8123"}
    monkeypatch.delenv("SREC_HOST_MAP")
    assert WorkerSettings(data_dir=tmp_path).host_routes == {}

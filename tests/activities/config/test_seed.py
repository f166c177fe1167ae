"""The global level is seeded from `SREC_*` on the database's first start only."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session

from activities.config.seed import ConfigSeedError, GlobalSeed, read_seed, seed_global
from activities.db import crud_config, make_engine, migrate

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import sqlalchemy as sa


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SREC_"):
            monkeypatch.delenv(name)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(engine)
    yield engine
    engine.dispose()


def stored(db: sa.Engine) -> dict[str, object]:
    with Session(db) as session:
        return dict(crud_config.get_global(session).settings)


def test_every_field_has_its_variable() -> None:
    from activities.contracts import RecordingPolicy

    assert set(RecordingPolicy.model_fields) <= set(GlobalSeed.model_fields)


def test_the_first_start_seeds_and_later_ones_do_not(
    db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SREC_POLL_INTERVAL_SECS", "45")
    monkeypatch.setenv("SREC_SELECTION__QUALITIES", '["1080p"]')
    monkeypatch.setenv("SREC_RECORD_RETRY", '{"max_attempts": 3}')
    assert seed_global(db, read_seed(), tmp_path)
    first = {
        "poll_interval_secs": 45.0,
        "selection": {"qualities": ["1080p"]},
        "record_retry": {"max_attempts": 3},
    }
    assert stored(db) == first
    # a second process, or a later start, with another environment: ignored
    monkeypatch.setenv("SREC_POLL_INTERVAL_SECS", "90")
    caplog.set_level(logging.WARNING)
    assert not seed_global(db, read_seed(), tmp_path)
    assert stored(db) == first
    assert "SREC_POLL_INTERVAL_SECS" in caplog.text


def test_an_unset_environment_seeds_the_built_in_defaults(
    db: sa.Engine, tmp_path: Path
) -> None:
    assert seed_global(db, read_seed(), tmp_path)
    assert stored(db) == {}
    with Session(db) as session:
        assert crud_config.get_global(session).seeded_at is not None


def test_older_variables_are_read(
    db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SREC_GRACE_SECS", "90")
    monkeypatch.setenv("SREC_FILENAME_TEMPLATE", "{platform}/{streamer}/%Y_%i")
    assert seed_global(db, read_seed(), tmp_path)
    assert stored(db) == {
        "offline_check_count": 1,
        "offline_check_delay_secs": 90.0,
        "output_folder": "{platform}/{streamer}",
        "filename_template": "%Y_%i",
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("SREC_STREAM_TIMEOUT_SECS", "0", id="zero-stream-timeout"),
        pytest.param("SREC_POLL_INTERVAL_SECS", "0.1", id="fast-poll"),
        pytest.param("SREC_ENGINE", "vlc", id="engine"),
        pytest.param("SREC_OUTPUT_FOLDER", "../out", id="folder"),
        pytest.param("SREC_PROXY", "http://u:pw@proxy:1", id="proxy-password"),
    ],
)
def test_nonsense_is_refused_naming_the_variable(
    db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigSeedError, match=name):
        seed_global(db, read_seed(), tmp_path)
    with Session(db) as session:
        assert crud_config.get_global(session).seeded_at is None  # nothing written


def test_an_invalid_pipeline_is_refused(
    db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SREC_SESSION_PIPELINE", '{"steps": [{"id": "a", "processor": "nope"}]}'
    )
    with pytest.raises(ConfigSeedError, match="SREC_SESSION_PIPELINE"):
        seed_global(db, read_seed(), tmp_path)

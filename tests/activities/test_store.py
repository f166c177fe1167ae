"""Store activities: what the streamer workflow reads from the app database."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session
from temporalio.testing import ActivityEnvironment

from activities.contracts import (
    EngineKind,
    LoadStreamerInput,
    Priority,
    ProjectStateInput,
    RecordingPolicy,
    StreamerState,
    StreamSelection,
)
from activities.db import Streamer, crud, make_engine, migrate
from activities.store import StoreActivities

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

    import sqlalchemy as sa

DEFAULTS = RecordingPolicy(poll_interval_secs=20, max_segment_duration_secs=3600)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(engine)
    yield engine
    engine.dispose()


def _add(db: sa.Engine, settings: dict[str, Any]) -> int:
    with Session(db) as session:
        row = crud.create_streamer(
            session,
            Streamer(
                name="Alice",
                url="https://fake.tv/alice",
                platform="faketv",
                priority="high",
                settings=settings,
            ),
        )
        assert row.id is not None
        return row.id


def test_load_streamer_merges_its_settings_over_the_defaults(
    db: sa.Engine,
) -> None:
    sid = _add(
        db,
        {
            "engine": "ffmpeg",
            "poll_interval_secs": 5,
            "selection": {"qualities": ["720p"]},
        },
    )
    store = StoreActivities(db, DEFAULTS)
    result = ActivityEnvironment().run(
        store.load_streamer, LoadStreamerInput(streamer_id=sid)
    )
    config = result.config
    assert config is not None
    assert (config.name, config.platform, config.priority) == (
        "Alice",
        "faketv",
        Priority.HIGH,
    )
    assert config.policy.engine == EngineKind.FFMPEG
    assert config.policy.poll_interval_secs == 5
    assert config.policy.selection == StreamSelection(qualities=["720p"])
    assert config.policy.max_segment_duration_secs == 3600  # inherited


def test_load_streamer_without_settings_gets_the_defaults(
    db: sa.Engine,
) -> None:
    sid = _add(db, {})
    store = StoreActivities(db, DEFAULTS)
    result = ActivityEnvironment().run(
        store.load_streamer, LoadStreamerInput(streamer_id=sid)
    )
    assert result.config is not None
    assert result.config.policy == DEFAULTS


def test_load_streamer_ignores_an_invalid_stored_field(db: sa.Engine) -> None:
    sid = _add(db, {"filename_template": "../escape_%i", "grace_secs": 1})
    store = StoreActivities(db, DEFAULTS)
    result = ActivityEnvironment().run(
        store.load_streamer, LoadStreamerInput(streamer_id=sid)
    )
    assert result.config is not None
    assert result.config.policy.filename_template == DEFAULTS.filename_template
    assert result.config.policy.grace_secs == 1


def test_load_deleted_streamer_is_none(db: sa.Engine) -> None:
    store = StoreActivities(db, DEFAULTS)
    result = ActivityEnvironment().run(
        store.load_streamer, LoadStreamerInput(streamer_id=404)
    )
    assert result.config is None


def test_project_state_keeps_the_last_check_error_until_cleared(
    db: sa.Engine,
) -> None:
    sid = _add(db, {})
    store = StoreActivities(db, DEFAULTS)
    env = ActivityEnvironment()

    def project(error: str | None) -> Streamer:
        env.run(
            store.project_state,
            ProjectStateInput(
                streamer_id=sid,
                state=StreamerState.NOT_LIVE,
                enabled=True,
                last_error=error,
            ),
        )
        with Session(db) as session:
            row = crud.get_streamer(session, sid)
            assert row is not None
            return row

    first = project("https://x/a.m3u8 answered HTTP 404")
    assert first.last_error == "https://x/a.m3u8 answered HTTP 404"
    assert first.last_error_at is not None
    again = project("https://x/a.m3u8 answered HTTP 404")
    assert again.last_error_at == first.last_error_at  # when it was first seen
    long = project("x" * 5000)
    assert long.last_error == "x" * 1000  # fits its column
    cleared = project(None)
    assert (cleared.last_error, cleared.last_error_at) == (None, None)

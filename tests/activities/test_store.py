"""Store activities: what the streamer workflow reads from the app database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session
from temporalio.testing import ActivityEnvironment

from activities.contracts import (
    CloseSessionInput,
    EngineKind,
    KeywordFilter,
    LoadStreamerInput,
    OpenSessionInput,
    Priority,
    ProjectStateInput,
    RecordingPolicy,
    StreamerState,
    StreamSelection,
    TimeWindowFilter,
)
from activities.db import (
    Streamer,
    crud,
    crud_config,
    crud_filters,
    crud_sessions,
    make_engine,
    migrate,
)
from activities.store import StoreActivities

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    import sqlalchemy as sa

START = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
GLOBAL = {"poll_interval_secs": 20, "max_segment_duration_secs": 3600}
DEFAULTS = RecordingPolicy(poll_interval_secs=20, max_segment_duration_secs=3600)


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    with Session(engine) as session:
        crud_config.set_global(session, GLOBAL)
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
                settings={"priority": "high", **settings},
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
    store = StoreActivities(db)
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
    store = StoreActivities(db)
    result = ActivityEnvironment().run(
        store.load_streamer, LoadStreamerInput(streamer_id=sid)
    )
    assert result.config is not None
    assert result.config.policy == DEFAULTS.model_copy(update={"priority": "high"})
    assert result.config_version


def test_load_streamer_ignores_an_invalid_stored_field(db: sa.Engine) -> None:
    sid = _add(db, {"filename_template": "../escape_%i", "offline_check_delay_secs": 1})
    store = StoreActivities(db)
    result = ActivityEnvironment().run(
        store.load_streamer, LoadStreamerInput(streamer_id=sid)
    )
    assert result.config is not None
    assert result.config.policy.filename_template == DEFAULTS.filename_template
    assert result.config.policy.offline_check_delay_secs == 1


def test_the_config_version_changes_with_the_config(db: sa.Engine) -> None:
    sid = _add(db, {})
    store = StoreActivities(db)
    env = ActivityEnvironment()
    inp = LoadStreamerInput(streamer_id=sid)
    before = env.run(store.load_streamer, inp).config_version
    assert env.run(store.load_streamer, inp).config_version == before
    with Session(db) as session:
        crud_config.set_global(session, GLOBAL | {"poll_interval_secs": 21})
    assert env.run(store.load_streamer, inp).config_version != before


def test_load_deleted_streamer_is_none(db: sa.Engine) -> None:
    store = StoreActivities(db)
    result = ActivityEnvironment().run(
        store.load_streamer, LoadStreamerInput(streamer_id=404)
    )
    assert result.config is None


def test_open_session_retried_after_its_commit_returns_the_same_session(
    db: sa.Engine,
) -> None:
    store = StoreActivities(db)
    inp = OpenSessionInput(
        streamer_id=1, title="t", start_time=START, open_key="streamer-1/run/1"
    )
    # the first attempt committed, then its completion was lost: Temporal retries
    first = ActivityEnvironment().run(store.open_session, inp)
    retried = ActivityEnvironment().run(store.open_session, inp)
    assert retried.session_id == first.session_id
    with Session(db) as session:
        assert crud_sessions.list_sessions(session)[1] == 1


def test_close_session_removes_an_empty_session_and_may_be_retried(
    db: sa.Engine,
) -> None:
    store = StoreActivities(db)
    opened = ActivityEnvironment().run(
        store.open_session, OpenSessionInput(streamer_id=1, title="", start_time=START)
    )
    inp = CloseSessionInput(session_id=opened.session_id, end_time=START)
    for _ in range(2):  # the retry finds nothing left to close
        result = ActivityEnvironment().run(store.close_session, inp)
        assert result.removed
    with Session(db) as session:
        assert crud_sessions.list_sessions(session)[1] == 0


def test_close_session_keeps_a_session_with_segments(db: sa.Engine) -> None:
    store = StoreActivities(db)
    opened = ActivityEnvironment().run(
        store.open_session, OpenSessionInput(streamer_id=1, title="", start_time=START)
    )
    with Session(db) as session:
        crud_sessions.begin_segment(
            session, session_id=opened.session_id, index=0, file_path="/r/0.ts"
        )
        crud_sessions.complete_segment(
            session,
            session_id=opened.session_id,
            index=0,
            size_bytes=10,
            duration_secs=1.0,
        )
    result = ActivityEnvironment().run(
        store.close_session,
        CloseSessionInput(session_id=opened.session_id, end_time=START),
    )
    assert (result.removed, result.total_size_bytes, result.segment_count) == (
        False,
        10,
        1,
    )


def test_project_state_keeps_the_last_check_error_until_cleared(
    db: sa.Engine,
) -> None:
    sid = _add(db, {})
    store = StoreActivities(db)
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


def test_load_streamer_carries_its_filters(db: sa.Engine) -> None:
    sid = _add(db, {})
    window = TimeWindowFilter(start_time="20:00", end_time="23:00", timezone="UTC")
    with Session(db) as session:
        crud_filters.create_filter(session, sid, window)
        crud_filters.create_filter(session, sid, KeywordFilter(exclude=["rerun"]))
    store = StoreActivities(db)
    result = ActivityEnvironment().run(
        store.load_streamer, LoadStreamerInput(streamer_id=sid)
    )
    assert result.config is not None
    assert result.config.filters == [window, KeywordFilter(exclude=["rerun"])]

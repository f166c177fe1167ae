from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session

from activities.contracts import MAX_ID
from activities.db import Streamer, crud, crud_sessions
from activities.db.crud_profile import Profile, save_profiles

if TYPE_CHECKING:
    from pathlib import Path

    import sqlalchemy as sa
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from tests.api.conftest import FakeWorkflowControl

# every test here also runs on Postgres (tests/api/conftest.py)
pytestmark = pytest.mark.both_databases

URL = "https://fake.tv/alice"


def _create(client: TestClient, **body: Any) -> dict[str, Any]:
    # names are unique: one per URL unless the test names it
    name = "Alice" if "url" not in body else body["url"].rsplit("/", 1)[-1]
    response = client.post("/api/streamers", json={"name": name, "url": URL} | body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_create_detects_platform_and_starts_workflow(
    client: TestClient, control: FakeWorkflowControl
) -> None:
    created = _create(client, name="  Alice  ", priority="high")
    assert created["name"] == "Alice"
    assert created["platform"] == "faketv"
    assert created["state"] == "NOT_LIVE"
    assert created["priority"] == "high"
    assert created["enabled"] is True
    assert {"id", "created_at", "updated_at"} <= created.keys()
    assert control.calls == [("start", created["id"])]
    assert client.get(f"/api/streamers/{created['id']}").json() == created


def test_create_succeeds_while_temporal_is_down(
    client: TestClient, control: FakeWorkflowControl
) -> None:
    control.unavailable = True
    created = _create(client)
    assert client.get(f"/api/streamers/{created['id']}").status_code == 200


def test_duplicate_url_is_409_naming_the_streamer_that_has_it(
    client: TestClient,
) -> None:
    sid = _create(client)["id"]
    response = client.post("/api/streamers", json={"name": "Again", "url": URL})
    assert response.status_code == 409
    assert response.json() == {
        "detail": f'streamer {sid} ("Alice") already has this URL',
        "streamer": {"id": sid, "name": "Alice"},
    }


def test_duplicate_name_is_409_naming_the_streamer_that_has_it(
    client: TestClient, control: FakeWorkflowControl
) -> None:
    sid = _create(client)["id"]
    control.calls.clear()
    response = client.post(
        "/api/streamers", json={"name": "Alice", "url": "https://fake.tv/other"}
    )
    assert response.status_code == 409
    assert response.json()["streamer"] == {"id": sid, "name": "Alice"}
    assert "already has this name" in response.json()["detail"]
    assert control.calls == []
    assert client.get("/api/streamers").json()["total"] == 1


def test_rename_to_a_taken_name_is_409(client: TestClient) -> None:
    alice = _create(client)["id"]
    bob = _create(client, url="https://fake.tv/bob")["id"]
    response = client.patch(f"/api/streamers/{bob}", json={"name": "Alice"})
    assert response.status_code == 409
    assert response.json()["streamer"] == {"id": alice, "name": "Alice"}
    assert client.get(f"/api/streamers/{bob}").json()["name"] == "bob"
    # keeping one's own name is no conflict
    same = client.patch(f"/api/streamers/{alice}", json={"name": "Alice"})
    assert same.status_code == 200


def test_a_name_taken_between_check_and_insert_is_409_not_500(
    client: TestClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DB constraint, not only the check before the insert, keeps names unique."""
    sid = _create(client)["id"]
    # the check before the insert misses it, as if the other insert had not
    # committed yet; the insert then hits the unique constraint
    real = crud.get_streamer_by_name
    calls: list[str] = []

    def first_lookup_misses(db: Session, name: str) -> Streamer | None:
        calls.append(name)
        return None if len(calls) == 1 else real(db, name)

    monkeypatch.setattr(crud, "get_streamer_by_name", first_lookup_misses)
    response = client.post(
        "/api/streamers", json={"name": "Alice", "url": "https://fake.tv/other"}
    )
    assert response.status_code == 409, response.text
    assert response.json()["streamer"] == {"id": sid, "name": "Alice"}
    assert calls == ["Alice", "Alice"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("name", "Al\x00ice", id="nul-in-name"),
        pytest.param("name", "a\nb", id="newline-in-name"),
        pytest.param("url", "https://fake.tv/a\x00b", id="nul-in-url"),
    ],
)
def test_control_characters_are_refused(
    client: TestClient, field: str, value: str
) -> None:
    body = {"name": "x", "url": URL} | {field: value}
    response = client.post("/api/streamers", json=body)
    assert response.status_code == 422
    assert "must not contain control characters" in response.text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            {"name": "x", "url": "https://example.com/x"},
            "no platform recognises this URL",
            id="unsupported-url",
        ),
        pytest.param(
            {"name": "x", "url": URL, "priority": "urgent"},
            "Input should be 'high', 'normal' or 'low'",
            id="bad-priority",
        ),
        pytest.param(
            {"name": "   ", "url": URL},
            "at least 1 character",
            id="empty-name",
        ),
        pytest.param(
            {"name": "x" * 101, "url": URL}, "at most 100 characters", id="long-name"
        ),
        pytest.param({"url": URL}, "Field required", id="missing-name"),
    ],
)
def test_create_rejects_with_reason(
    client: TestClient, body: dict[str, Any], reason: str
) -> None:
    response = client.post("/api/streamers", json=body)
    assert response.status_code == 422
    assert reason in response.text


def test_list_pages(client: TestClient) -> None:
    ids = [_create(client, url=f"https://fake.tv/c{i}")["id"] for i in range(3)]
    page = client.get("/api/streamers", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 3
    assert [s["id"] for s in page["items"]] == ids[1:]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        pytest.param("GET", "", id="get"),
        pytest.param("PATCH", "", id="patch"),
        pytest.param("DELETE", "", id="delete"),
        pytest.param("POST", "/pause", id="pause"),
        pytest.param("POST", "/resume", id="resume"),
        pytest.param("POST", "/check", id="check"),
        pytest.param("POST", "/clear-error", id="clear-error"),
    ],
)
def test_missing_streamer_is_404(client: TestClient, method: str, suffix: str) -> None:
    response = client.request(method, f"/api/streamers/999{suffix}", json={})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("action", "signal"),
    [
        pytest.param("pause", "pause", id="pause"),
        pytest.param("resume", "resume", id="resume"),
        pytest.param("check", "check_now", id="check"),
        pytest.param("clear-error", "clear_error", id="clear-error"),
    ],
)
def test_control_signals(
    client: TestClient, control: FakeWorkflowControl, action: str, signal: str
) -> None:
    sid = _create(client)["id"]
    control.calls.clear()
    response = client.post(f"/api/streamers/{sid}/{action}")
    assert response.status_code == 202
    assert response.json() == {"status": "accepted"}
    assert control.calls == [(signal, sid)]


def test_check_on_a_paused_streamer_is_409_with_the_reason(
    client: TestClient, control: FakeWorkflowControl
) -> None:
    sid = _create(client, enabled=False)["id"]
    control.calls.clear()
    response = client.post(f"/api/streamers/{sid}/check")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"streamer {sid} is paused: resume it to check it"
    )
    assert control.calls == []
    # pause and resume still answer while paused
    assert client.post(f"/api/streamers/{sid}/resume").status_code == 202


def test_the_state_and_its_reason_are_shown(client: TestClient, app: FastAPI) -> None:
    sid = _create(client)["id"]
    with Session(app.state.engine) as db:
        crud.set_streamer_state(
            db,
            sid,
            state="FATAL_ERROR",
            enabled=True,
            last_error="banned: this channel is banned",
            reason="banned: this channel is banned",
        )
    shown = client.get(f"/api/streamers/{sid}").json()
    assert shown["state"] == "FATAL_ERROR"
    assert shown["state_reason"] == "banned: this channel is banned"
    assert (shown["title"], shown["avatar_url"], shown["profile_at"]) == (None,) * 3
    with Session(app.state.engine) as db:
        save_profiles(db, {sid: Profile("Speedrun", "Games", "https://i.test/a.png")})
    listed = client.get("/api/streamers").json()["items"][0]
    assert (listed["title"], listed["category"], listed["avatar_url"]) == (
        "Speedrun",
        "Games",
        "https://i.test/a.png",
    )
    assert listed["profile_at"] is not None


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/streamers/{id}", id="get"),
        pytest.param("/api/sessions/{id}", id="session"),
        pytest.param("/api/sessions/{id}/segments", id="segments"),
        pytest.param("/api/sessions?streamer_id={id}", id="sessions-filter"),
        pytest.param("/api/streamers?offset={id}", id="offset"),
    ],
)
@pytest.mark.parametrize(
    "bad",
    [MAX_ID + 1, 2**63, -1, 0],
    ids=["beyond-int32", "beyond-int64", "neg", "zero"],
)
def test_ids_out_of_range_are_422_with_the_reason(
    client: TestClient, path: str, bad: int
) -> None:
    if "offset" in path and bad == 0:
        return  # offset 0 is the first page
    response = client.get(path.format(id=bad))
    assert response.status_code == 422, response.text
    assert "greater than or equal to" in response.text or "less than or equal to" in (
        response.text
    )


@pytest.mark.parametrize("method", ["DELETE", "PATCH", "POST"])
def test_a_huge_id_on_a_write_is_422(client: TestClient, method: str) -> None:
    suffix = "/check" if method == "POST" else ""
    response = client.request(method, f"/api/streamers/{2**64}{suffix}", json={})
    assert response.status_code == 422
    assert f"less than or equal to {MAX_ID}" in response.text


def test_control_starts_a_workflow_that_does_not_run(
    client: TestClient, control: FakeWorkflowControl
) -> None:
    sid = _create(client)["id"]
    control.running.clear()
    control.calls.clear()
    assert client.post(f"/api/streamers/{sid}/check").status_code == 202
    assert control.calls == [("check_now", sid), ("start", sid), ("check_now", sid)]


def test_control_is_503_while_temporal_is_down(
    client: TestClient, control: FakeWorkflowControl
) -> None:
    sid = _create(client)["id"]
    control.unavailable = True
    response = client.post(f"/api/streamers/{sid}/pause")
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "signals"),
    [
        pytest.param({"name": "Bob"}, ["config_changed"], id="rename"),
        pytest.param({"enabled": False}, ["config_changed", "pause"], id="disable"),
        pytest.param({"enabled": True}, ["config_changed", "resume"], id="enable"),
    ],
)
def test_patch_saves_then_signals(
    client: TestClient,
    control: FakeWorkflowControl,
    body: dict[str, Any],
    signals: list[str],
) -> None:
    sid = _create(client)["id"]
    control.calls.clear()
    response = client.patch(f"/api/streamers/{sid}", json=body)
    assert response.status_code == 200
    assert body.items() <= response.json().items()
    assert control.calls == [(s, sid) for s in signals]


def test_patch_url_is_redetected(client: TestClient) -> None:
    sid = _create(client)["id"]
    bad = client.patch(f"/api/streamers/{sid}", json={"url": "rtmp://x/y"})
    assert bad.status_code == 422
    assert "no platform recognises" in bad.json()["detail"]
    good = client.patch(f"/api/streamers/{sid}", json={"url": "https://fake.tv/b"})
    assert good.json()["url"] == "https://fake.tv/b"
    assert good.json()["platform"] == "faketv"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({"priority": "x"}, "'high', 'normal' or 'low'", id="priority"),
        pytest.param({"name": ""}, "at least 1 character", id="empty-name"),
        pytest.param({"name": None}, "not null: name", id="null-name"),
    ],
)
def test_patch_rejects_with_reason(
    client: TestClient, body: dict[str, Any], reason: str
) -> None:
    sid = _create(client)["id"]
    response = client.patch(f"/api/streamers/{sid}", json=body)
    assert response.status_code == 422
    assert reason in response.text


def test_patch_to_a_taken_url_is_409(client: TestClient) -> None:
    _create(client)
    sid = _create(client, url="https://fake.tv/bob")["id"]
    assert client.patch(f"/api/streamers/{sid}", json={"url": URL}).status_code == 409


def test_a_url_taken_by_a_racing_request_is_409_not_500(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _create(client)
    bob = _create(client, url="https://fake.tv/bob")
    # both requests pass the lookup before either writes: the database decides
    monkeypatch.setattr(crud, "get_streamer_by_url", _not_found_once())
    response = client.post("/api/streamers", json={"name": "Again", "url": URL})
    assert response.status_code == 409, response.text
    monkeypatch.setattr(crud, "get_streamer_by_url", _not_found_once())
    response = client.patch(f"/api/streamers/{bob['id']}", json={"url": URL})
    assert response.status_code == 409, response.text
    streamers = client.get("/api/streamers").json()
    assert [s["url"] for s in streamers["items"]] == [URL, "https://fake.tv/bob"]


def _not_found_once() -> Any:
    """`crud.get_streamer_by_url` that misses once (the check a race slips past)."""
    real = crud.get_streamer_by_url
    calls = 0

    def lookup(db: Session, url: str) -> Any:
        nonlocal calls
        calls += 1
        return None if calls == 1 else real(db, url)

    return lookup


def _session_with_segment(engine: sa.Engine, sid: int, file: Path) -> int:
    file.write_bytes(b"media")
    with Session(engine) as db:
        session = crud_sessions.open_session(
            db, streamer_id=sid, title="t", start_time=datetime.now(UTC)
        )
        assert session.id is not None
        crud_sessions.begin_segment(
            db, session_id=session.id, index=0, file_path=str(file)
        )
        return session.id


def test_delete_stops_and_keeps_recordings(
    client: TestClient, control: FakeWorkflowControl, app: FastAPI, tmp_path: Path
) -> None:
    sid = _create(client)["id"]
    file = tmp_path / "seg0.ts"
    session_id = _session_with_segment(app.state.engine, sid, file)
    control.calls.clear()
    assert client.delete(f"/api/streamers/{sid}").status_code == 204
    assert control.calls == [("stop", sid)]
    assert client.get(f"/api/streamers/{sid}").status_code == 404
    assert file.exists()
    assert client.get(f"/api/sessions/{session_id}").status_code == 200


def test_delete_files_removes_rows_and_files(
    client: TestClient, app: FastAPI, tmp_path: Path
) -> None:
    sid = _create(client)["id"]
    file = tmp_path / "seg0.ts"
    session_id = _session_with_segment(app.state.engine, sid, file)
    response = client.delete(f"/api/streamers/{sid}", params={"delete_files": True})
    assert response.status_code == 204
    assert not file.exists()
    assert client.get(f"/api/sessions/{session_id}").status_code == 404
    with Session(app.state.engine) as db:
        assert crud_sessions.list_segments(db, session_id) == []


def test_delete_while_temporal_is_down(
    client: TestClient, control: FakeWorkflowControl
) -> None:
    sid = _create(client)["id"]
    control.unavailable = True
    assert client.delete(f"/api/streamers/{sid}").status_code == 204


# --- per-streamer recording settings ----------------------------------------------

SETTINGS = {
    "engine": "ffmpeg",
    "container": "mkv",
    "output_folder": "{platform}/{streamer}",
    "filename_template": "%Y%m%d_%i",
    "max_segment_duration_secs": 1800.0,
    "max_segment_size_bytes": 2_000_000_000,
    "min_segment_size_bytes": 1024,
    "selection": {"qualities": ["720p"], "cdns": ["ali"]},
    "poll_interval_secs": 10.0,
    "offline_check_count": 1,
    "offline_check_delay_secs": 0.0,
    "stream_timeout_secs": 90.0,
    "priority": "low",
    "extractor": "native",
    "record_danmu": True,
    "error_backoff_secs": 120.0,
}


def _set(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if v is not None}


def test_settings_round_trip(client: TestClient, app: FastAPI) -> None:
    created = _create(client, settings=SETTINGS)
    assert _set(created["settings"])["selection"]["qualities"] == ["720p"]
    fetched = client.get(f"/api/streamers/{created['id']}").json()
    assert fetched == created
    stored = _set(fetched["settings"])
    assert stored.pop("selection")["cdns"] == ["ali"]
    assert stored == {k: v for k, v in SETTINGS.items() if k != "selection"}
    listed = client.get("/api/streamers").json()["items"][0]
    assert listed["settings"] == created["settings"]
    with Session(app.state.engine) as db:
        row = crud.get_streamer(db, created["id"])
        assert row is not None
        assert row.settings["engine"] == "ffmpeg"
        assert None not in row.settings.values()


def test_settings_default_to_inherit_everything(client: TestClient) -> None:
    created = _create(client)
    assert _set(created["settings"]) == {}
    assert "engine" in created["settings"]  # every field shown, null = inherited


def test_patch_settings_merges_and_signals(
    client: TestClient, control: FakeWorkflowControl
) -> None:
    sid = _create(client, settings={"engine": "ffmpeg", "offline_check_count": 5})["id"]
    control.calls.clear()
    response = client.patch(
        f"/api/streamers/{sid}",
        json={"settings": {"offline_check_count": None, "max_segment_size_bytes": 0}},
    )
    assert response.status_code == 200, response.text
    assert _set(response.json()["settings"]) == {
        "engine": "ffmpeg",
        "max_segment_size_bytes": 0,
    }
    assert control.calls == [("config_changed", sid)]
    assert client.get(f"/api/streamers/{sid}").json() == response.json()


def test_patch_without_settings_keeps_them(client: TestClient) -> None:
    sid = _create(client, settings={"engine": "streamlink"})["id"]
    response = client.patch(f"/api/streamers/{sid}", json={"name": "Bob"})
    assert _set(response.json()["settings"]) == {"engine": "streamlink"}


BAD_SETTINGS = [
    pytest.param(
        {"output_folder": "{streamer}/../.."},
        "must stay inside the output root",
        id="folder-dotdot",
    ),
    pytest.param({"output_folder": "/abs"}, "is absolute", id="folder-absolute"),
    pytest.param(
        {"filename_template": "{streamer}/x_%i"},
        "put folders into output_folder",
        id="template-folder",
    ),
    pytest.param(
        {"filename_template": "{nope}_%i"},
        "unknown placeholder {nope}",
        id="template-placeholder",
    ),
    pytest.param(
        {"filename_template": "{streamer}"}, "needs %i", id="template-no-index"
    ),
    pytest.param({"engine": "vlc"}, "'native', 'ffmpeg' or 'streamlink'", id="engine"),
    pytest.param({"container": "avi"}, "'auto', 'ts'", id="container"),
    pytest.param(
        {"max_segment_size_bytes": -1}, "greater than or equal to 0", id="neg-size"
    ),
    pytest.param(
        {"min_segment_size_bytes": -5}, "greater than or equal to 0", id="neg-min"
    ),
    pytest.param(
        {"max_segment_duration_secs": -1}, "greater than or equal", id="neg-duration"
    ),
    pytest.param(
        {"poll_interval_secs": 0}, "greater than or equal to 1", id="zero-poll"
    ),
    pytest.param(
        {"poll_interval_secs": 5e-324}, "greater than or equal to 1", id="tiny-poll"
    ),
    pytest.param(
        {"offline_check_delay_secs": 1e308},
        "less than or equal to 86400",
        id="huge-offline-delay",
    ),
    pytest.param(
        {"offline_check_count": 0}, "greater than or equal to 1", id="no-offline-check"
    ),
    pytest.param({"grace_secs": 60}, "Extra inputs are not permitted", id="old-grace"),
    pytest.param(
        {"proxy": "http://user:hunter2@proxy:3128"},
        "proxy_password",
        id="proxy-password",
    ),
    pytest.param({"proxy": "ftp://proxy"}, "must start with one of", id="proxy-scheme"),
    pytest.param(
        {"record_retry": {"max_attempts": 0}},
        "greater than or equal to 1",
        id="retry-attempts",
    ),
    pytest.param(
        {"segment_pipeline": {"steps": [{"id": "a", "processor": "nope"}]}},
        "nope",
        id="pipeline-unknown-processor",
    ),
    pytest.param(
        {"extractor": "vlc"}, "'auto', 'native' or 'streamlink'", id="extractor"
    ),
    pytest.param(
        {"max_segment_duration_secs": 1e12},
        "less than or equal to 604800",
        id="huge-duration",
    ),
    pytest.param(
        {"max_segment_size_bytes": 2**63},
        "less than or equal to 9223372036854775807",
        id="huge-size",
    ),
    pytest.param(
        {"selection": {"min_bitrate_bps": 2**64}},
        "less than or equal to 9223372036854775807",
        id="huge-bitrate",
    ),
    pytest.param({"speed": 2}, "Extra inputs are not permitted", id="extra-field"),
    pytest.param(
        {"selection": {"quality": "best"}},
        "Extra inputs are not permitted",
        id="selection-extra",
    ),
    pytest.param(
        {"min_segment_size_bytes": 100, "max_segment_size_bytes": 10},
        "every segment would be deleted",
        id="min-above-max",
    ),
]


@pytest.mark.parametrize(("overrides", "reason"), BAD_SETTINGS)
def test_create_rejects_bad_settings(
    client: TestClient,
    control: FakeWorkflowControl,
    overrides: dict[str, Any],
    reason: str,
) -> None:
    response = client.post(
        "/api/streamers", json={"name": "x", "url": URL, "settings": overrides}
    )
    assert response.status_code == 422
    assert reason in response.text
    assert control.calls == []
    assert client.get("/api/streamers").json()["total"] == 0


@pytest.mark.parametrize(("overrides", "reason"), BAD_SETTINGS)
def test_patch_rejects_bad_settings(
    client: TestClient,
    control: FakeWorkflowControl,
    overrides: dict[str, Any],
    reason: str,
) -> None:
    sid = _create(client, settings={"engine": "ffmpeg"})["id"]
    control.calls.clear()
    response = client.patch(f"/api/streamers/{sid}", json={"settings": overrides})
    assert response.status_code == 422
    assert reason in response.text
    assert control.calls == []
    assert _set(client.get(f"/api/streamers/{sid}").json()["settings"]) == {
        "engine": "ffmpeg"
    }


def test_patch_rejects_settings_that_conflict_with_stored_ones(
    client: TestClient,
) -> None:
    sid = _create(client, settings={"max_segment_size_bytes": 10})["id"]
    response = client.patch(
        f"/api/streamers/{sid}", json={"settings": {"min_segment_size_bytes": 100}}
    )
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "settings", "min_segment_size_bytes"]
    assert "every segment would be deleted" in problem["msg"]


def test_patch_null_settings_is_422(client: TestClient) -> None:
    sid = _create(client)["id"]
    response = client.patch(f"/api/streamers/{sid}", json={"settings": None})
    assert response.status_code == 422
    assert "not null: settings" in response.text


def test_the_last_check_error_is_shown_until_a_check_succeeds(
    client: TestClient, app: FastAPI
) -> None:
    created = _create(client)
    assert (created["last_error"], created["last_error_at"]) == (None, None)
    with Session(app.state.engine) as db:
        crud.set_streamer_state(
            db,
            created["id"],
            state="NOT_LIVE",
            enabled=True,
            last_error="https://fake.tv/alice answered HTTP 404",
        )
    shown = client.get(f"/api/streamers/{created['id']}").json()
    assert shown["last_error"] == "https://fake.tv/alice answered HTTP 404"
    assert shown["last_error_at"] is not None
    with Session(app.state.engine) as db:
        crud.set_streamer_state(db, created["id"], state="NOT_LIVE", enabled=True)
    assert client.get(f"/api/streamers/{created['id']}").json()["last_error"] is None

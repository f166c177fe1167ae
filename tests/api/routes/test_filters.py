"""`/api/streamers/{id}/filters`: CRUD, save-time checks, and the workflow told."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from activities.contracts import SIGNAL_CONFIG_CHANGED
from activities.db import crud_filters
from api.routes import filters as filters_route

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from tests.api.conftest import FakeWorkflowControl

WINDOW = {
    "type": "time_window",
    "days_of_week": ["Saturday", "Friday", "Friday"],
    "start_time": "22:00",
    "end_time": "02:00",
    "timezone": "Europe/Berlin",
}


@pytest.fixture
def sid(client: TestClient, control: FakeWorkflowControl) -> int:
    response = client.post(
        "/api/streamers", json={"name": "Alice", "url": "https://fake.tv/alice"}
    )
    assert response.status_code == 201, response.text
    control.calls.clear()
    streamer_id: int = response.json()["id"]
    return streamer_id


def _add(client: TestClient, sid: int, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/streamers/{sid}/filters", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_create_list_get_and_the_workflow_is_told(
    client: TestClient, control: FakeWorkflowControl, sid: int
) -> None:
    window = _add(client, sid, WINDOW)
    assert window["days_of_week"] == ["Friday", "Saturday"]  # week order, once
    assert window["streamer_id"] == sid
    assert {"id", "created_at", "updated_at"} <= window.keys()
    keyword = _add(client, sid, {"type": "keyword", "exclude": ["rerun"]})
    assert keyword["include"] == []
    listed = client.get(f"/api/streamers/{sid}/filters").json()
    assert [f["id"] for f in listed] == [window["id"], keyword["id"]]
    assert client.get(f"/api/streamers/{sid}/filters/{window['id']}").json() == window
    assert control.calls == [(SIGNAL_CONFIG_CHANGED, sid)] * 2


def test_every_kind_is_accepted(client: TestClient, sid: int) -> None:
    for body in (
        {"type": "cron", "expression": " * 20-23 * * mon-fri ", "timezone": "UTC"},
        {"type": "category", "categories": ["Just Chatting"]},
        {"type": "regex", "pattern": r"^\[EN\]", "case_insensitive": True},
        {"type": "keyword", "include": ["原神"]},
    ):
        created = _add(client, sid, body)
        assert created["type"] == body["type"]
    assert len(client.get(f"/api/streamers/{sid}/filters").json()) == 4


def test_a_zone_left_out_is_the_servers_and_is_shown(
    client: TestClient, sid: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    body = {"type": "cron", "expression": "@daily"}
    assert _add(client, sid, body)["timezone"] == "Asia/Tokyo"
    monkeypatch.setenv("TZ", ":America/New_York")
    assert _add(client, sid, body | {"timezone": None})["timezone"] == (
        "America/New_York"
    )


def test_local_zone_falls_back_past_a_bad_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Not/AZone")
    name = filters_route.local_zone_name()
    assert name != "Not/AZone"
    assert name  # the system's, or UTC


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        pytest.param(
            {"type": "cron", "expression": "0 0 0 * * *", "timezone": "UTC"},
            "expression",
            "five fields",
            id="cron-fields",
        ),
        pytest.param(
            {"type": "cron", "expression": "99 * * * *", "timezone": "UTC"},
            "expression",
            "not a cron expression",
            id="cron-range",
        ),
        pytest.param(
            {"type": "cron", "expression": "* * * * *", "timezone": "Moon/Base"},
            "timezone",
            "unknown time zone 'Moon/Base'",
            id="cron-zone",
        ),
        pytest.param(
            WINDOW | {"timezone": "Europe/Atlantis"},
            "timezone",
            "unknown time zone",
            id="window-zone",
        ),
        pytest.param(
            WINDOW | {"end_time": "22:00:00"}, "end_time", "equals", id="start-end"
        ),
        pytest.param(
            {"type": "regex", "pattern": "(?P<x"},
            "pattern",
            "invalid regex",
            id="regex",
        ),
    ],
)
def test_what_cannot_be_evaluated_is_a_422_naming_the_field(
    client: TestClient,
    control: FakeWorkflowControl,
    sid: int,
    body: dict[str, Any],
    field: str,
    says: str,
) -> None:
    response = client.post(f"/api/streamers/{sid}/filters", json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", field]
    assert says in error["msg"]
    assert control.calls == []
    assert client.get(f"/api/streamers/{sid}/filters").json() == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        pytest.param(
            WINDOW | {"days_of_week": ["Funday"]},
            ["body", "time_window", "days_of_week", 0],
            id="weekday",
        ),
        pytest.param(
            WINDOW | {"days_of_week": []},
            ["body", "time_window", "days_of_week"],
            id="no-days",
        ),
        pytest.param(
            WINDOW | {"start_time": "7:00"},
            ["body", "time_window", "start_time"],
            id="clock",
        ),
        pytest.param(
            WINDOW | {"start": "20:00"}, ["body", "time_window", "start"], id="extra"
        ),
        pytest.param({"type": "sometimes"}, ["body"], id="type"),
    ],
)
def test_malformed_fields_are_422s(
    client: TestClient, sid: int, body: dict[str, Any], loc: list[Any]
) -> None:
    response = client.post(f"/api/streamers/{sid}/filters", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


def test_put_replaces_and_may_change_the_type(
    client: TestClient, control: FakeWorkflowControl, sid: int
) -> None:
    fid = _add(client, sid, WINDOW)["id"]
    body = {"type": "regex", "pattern": "rerun", "exclude": True}
    response = client.put(f"/api/streamers/{sid}/filters/{fid}", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "regex"
    assert response.json()["id"] == fid
    bad = client.put(
        f"/api/streamers/{sid}/filters/{fid}", json=body | {"pattern": "("}
    )
    assert bad.status_code == 422
    assert (
        client.get(f"/api/streamers/{sid}/filters/{fid}").json()["pattern"] == "rerun"
    )
    assert control.calls.count((SIGNAL_CONFIG_CHANGED, sid)) == 2


def test_patch_changes_some_fields_and_checks_the_result(
    client: TestClient, sid: int
) -> None:
    fid = _add(client, sid, WINDOW)["id"]
    url = f"/api/streamers/{sid}/filters/{fid}"
    response = client.patch(url, json={"end_time": "03:30"})
    assert response.status_code == 200, response.text
    assert (response.json()["start_time"], response.json()["end_time"]) == (
        "22:00",
        "03:30",
    )
    assert response.json()["days_of_week"] == ["Friday", "Saturday"]
    same = client.patch(url, json={"end_time": "22:00"})
    assert same.status_code == 422
    assert same.json()["detail"][0]["loc"] == ["body", "end_time"]
    typed = client.patch(url, json={"type": "regex"})
    assert typed.status_code == 422
    assert typed.json()["detail"][0]["loc"] == ["body", "type"]
    unknown = client.patch(url, json={"pattern": "x"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "pattern"]
    assert client.patch(url, json={"timezone": "Mars/Crater"}).status_code == 422
    assert client.get(url).json()["end_time"] == "03:30"


def test_delete_and_404s(
    client: TestClient, control: FakeWorkflowControl, sid: int
) -> None:
    fid = _add(client, sid, WINDOW)["id"]
    other = client.post(
        "/api/streamers", json={"name": "Bob", "url": "https://fake.tv/bob"}
    ).json()["id"]
    assert client.get(f"/api/streamers/{other}/filters/{fid}").status_code == 404
    assert client.delete(f"/api/streamers/{other}/filters/{fid}").status_code == 404
    assert client.get(f"/api/streamers/{sid + 99}/filters").status_code == 404
    assert (
        client.post(f"/api/streamers/{sid + 99}/filters", json=WINDOW).status_code
        == 404
    )
    assert client.delete(f"/api/streamers/{sid}/filters/{fid}").status_code == 204
    assert client.get(f"/api/streamers/{sid}/filters/{fid}").status_code == 404
    assert client.get(f"/api/streamers/{sid}/filters").json() == []
    assert control.calls[-1] == (SIGNAL_CONFIG_CHANGED, sid)
    too_big = client.get(f"/api/streamers/{sid}/filters/{2**63}")
    assert too_big.status_code == 422


def test_a_saved_change_survives_temporal_being_down(
    client: TestClient, control: FakeWorkflowControl, sid: int
) -> None:
    control.unavailable = True
    _add(client, sid, WINDOW)
    assert len(client.get(f"/api/streamers/{sid}/filters").json()) == 1


def test_a_stopped_workflow_is_started_to_hear_it(
    client: TestClient, control: FakeWorkflowControl, sid: int
) -> None:
    control.running.discard(sid)
    _add(client, sid, WINDOW)
    assert control.calls == [
        (SIGNAL_CONFIG_CHANGED, sid),
        ("start", sid),
        (SIGNAL_CONFIG_CHANGED, sid),
    ]


def test_the_number_of_filters_is_bounded(
    client: TestClient, sid: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crud_filters, "MAX_FILTERS_PER_STREAMER", 2)
    _add(client, sid, WINDOW)
    _add(client, sid, WINDOW)
    response = client.post(f"/api/streamers/{sid}/filters", json=WINDOW)
    assert response.status_code == 409
    assert "has 2 filters already" in response.json()["detail"]


def test_deleting_the_streamer_deletes_its_filters(
    client: TestClient, sid: int
) -> None:
    _add(client, sid, WINDOW)
    assert client.delete(f"/api/streamers/{sid}").status_code == 204
    assert client.get(f"/api/streamers/{sid}/filters").status_code == 404

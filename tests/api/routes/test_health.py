from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session

from activities.db import crud_guards, make_engine
from api.deps import get_database_probe
from api.schemas import ComponentHealth

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.settings import ApiSettings
    from tests.api.conftest import FakeWorkflowControl

OK = ComponentHealth(status="ok")


QUEUES = ("srec-workflows", "srec-io", "srec-cpu")


def _all_up(pollers: int = 1) -> dict[str, ComponentHealth]:
    return {"temporal": OK} | {
        f"queue:{q}": ComponentHealth(status="ok", pollers=pollers) for q in QUEUES
    }


def test_live_is_public(anon: TestClient) -> None:
    response = anon.get("/api/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/api/health", "/api/health/ready"])
def test_ready_when_everything_is_up(
    client: TestClient, control: FakeWorkflowControl, path: str
) -> None:
    control.components = _all_up()
    response = client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["queue:srec-io"]["pollers"] == 1


@pytest.mark.parametrize(
    ("down", "detail"),
    [
        pytest.param("temporal", "Temporal at x is unreachable", id="temporal"),
        pytest.param("queue:srec-cpu", "no worker polls this queue", id="no-worker"),
    ],
)
def test_not_ready_when_a_component_is_down(
    client: TestClient, control: FakeWorkflowControl, down: str, detail: str
) -> None:
    control.components = _all_up() | {
        down: ComponentHealth(status="down", detail=detail)
    }
    response = client.get("/api/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["components"][down] == {
        "status": "down",
        "detail": detail,
        "pollers": None,
    }


def test_not_ready_when_the_database_is_down(
    client: TestClient, control: FakeWorkflowControl, app: FastAPI
) -> None:
    async def broken() -> ComponentHealth:
        return ComponentHealth(status="down", detail="OperationalError")

    control.components = _all_up()
    app.dependency_overrides[get_database_probe] = lambda: broken
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["components"]["database"]["status"] == "down"


def _trip(settings: ApiSettings, root: str) -> None:
    """A worker's write gate found `root` unusable (through the shared DB)."""
    engine = make_engine(settings.database_url)
    with Session(engine) as db:
        crud_guards.trip_output_root(
            db,
            path=root,
            error="ENOSPC: No space left on device",
            workflow_id="streamer-1",
            now=datetime(2026, 1, 1, tzinfo=UTC),
        )
    engine.dispose()


@pytest.mark.parametrize("path", ["/api/health", "/api/health/ready"])
def test_degraded_roots_are_listed_and_ready_stays_200(
    client: TestClient, control: FakeWorkflowControl, settings: ApiSettings, path: str
) -> None:
    control.components = _all_up()
    _trip(settings, "/data/recordings")
    response = client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["degraded_roots"] == [
        {
            "path": "/data/recordings",
            "since": "2026-01-01T00:00:00Z",
            "error": "ENOSPC: No space left on device",
            "rejected": 1,
        }
    ]
    assert all(c["status"] == "ok" for c in body["components"].values())


def test_a_healthy_stack_lists_no_degraded_roots(
    client: TestClient, control: FakeWorkflowControl
) -> None:
    control.components = _all_up()
    body = client.get("/api/health").json()
    assert (body["status"], body["degraded_roots"]) == ("ok", [])


def test_a_down_component_still_answers_503_with_degraded_roots(
    client: TestClient, control: FakeWorkflowControl, settings: ApiSettings
) -> None:
    control.components = _all_up() | {"temporal": ComponentHealth(status="down")}
    _trip(settings, "/data/recordings")
    response = client.get("/api/health/ready")
    assert response.status_code == 503
    assert [r["path"] for r in response.json()["degraded_roots"]] == [
        "/data/recordings"
    ]


def test_an_unreadable_gate_table_reports_no_roots(
    client: TestClient, control: FakeWorkflowControl, settings: ApiSettings
) -> None:
    engine = make_engine(settings.database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE output_root")
    engine.dispose()
    control.components = _all_up()
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["degraded_roots"] == []

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from api.deps import get_database_probe
from api.schemas import ComponentHealth

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

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

"""A streamer whose workflow id another srec instance runs: refused, never signalled."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from tests.api.conftest import FakeWorkflowControl

OTHER = "0b7e6f3a-0000-4000-8000-000000000001"


def _create(client: TestClient) -> int:
    response = client.post(
        "/api/streamers", json={"name": "Alice", "url": "https://fake.tv/alice"}
    )
    assert response.status_code == 201, response.text
    sid: int = response.json()["id"]
    return sid


@pytest.mark.parametrize("action", ["pause", "resume", "check"])
def test_control_of_a_foreign_workflow_is_409(
    client: TestClient, control: FakeWorkflowControl, action: str
) -> None:
    sid = _create(client)
    control.foreign[sid] = OTHER
    control.calls.clear()
    response = client.post(f"/api/streamers/{sid}/{action}")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert f"streamer-{sid}" in detail
    assert OTHER in detail
    assert "another srec instance" in detail
    assert control.calls == []


def test_delete_of_a_foreign_workflow_is_409_and_keeps_the_row(
    client: TestClient, control: FakeWorkflowControl
) -> None:
    sid = _create(client)
    control.foreign[sid] = OTHER
    control.calls.clear()
    response = client.delete(f"/api/streamers/{sid}")
    assert response.status_code == 409
    assert "another srec instance" in response.json()["detail"]
    assert control.calls == []  # no stop reached the other instance's workflow
    assert client.get(f"/api/streamers/{sid}").status_code == 200


def test_patch_of_a_foreign_streamer_saves_but_signals_nothing(
    client: TestClient, control: FakeWorkflowControl
) -> None:
    sid = _create(client)
    control.foreign[sid] = OTHER
    control.calls.clear()
    response = client.patch(f"/api/streamers/{sid}", json={"enabled": False})
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert control.calls == []

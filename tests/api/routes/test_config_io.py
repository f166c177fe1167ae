"""Export → import: a fresh database ends up with the same effective configurations;
an import is checked whole before anything is written; credentials travel only
when asked for."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from activities.config.resolve import streamer_config
from activities.db import crud
from api.deps import Platforms, get_platforms, get_workflow_control
from api.main import create_app
from api.settings import ApiSettings
from tests.api.conftest import JWT_SECRET, REGISTRY, FakeWorkflowControl, no_network

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fastapi import FastAPI

SECRETS = ("c00kie-one", "c00kie-two", "t0ken-one", "pr0xy-pass")


@pytest.fixture
def fresh(
    tmp_path: Path, template: tuple[Path, dict[str, str]]
) -> Iterator[tuple[TestClient, FastAPI, FakeWorkflowControl]]:
    """A second install: its own database, nothing configured."""
    data_dir = tmp_path / "fresh"
    shutil.copytree(template[0], data_dir)
    app = create_app(ApiSettings(data_dir=data_dir, jwt_secret=JWT_SECRET))
    control = FakeWorkflowControl()
    app.dependency_overrides[get_workflow_control] = lambda: control
    http = httpx.AsyncClient(transport=httpx.MockTransport(no_network))
    app.dependency_overrides[get_platforms] = lambda: Platforms(REGISTRY, http)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {template[1]['access_token']}"
        yield client, app, control


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def configure(client: TestClient) -> None:
    """Every level set, credentials at three of them."""
    ok(
        client.patch(
            "/api/config/global",
            json={"poll_interval_secs": 45, "selection": {"cdn_blacklist": ["x"]}},
        )
    )
    ok(
        client.put(
            "/api/config/platforms/othertv",
            json={
                "settings": {"engine": "ffmpeg"},
                "platform_options": {"quality": 3, "cookies": SECRETS[0]},
            },
        )
    )
    tpl = ok(
        client.post(
            "/api/templates",
            json={
                "name": "night",
                "description": "the night shift",
                "settings": {
                    "priority": "high",
                    "output_folder": "{platform}/{streamer}",
                },
                "platform_options": {"othertv": {"token": SECRETS[2]}},
            },
        ),
        201,
    )
    for body in (
        {
            "name": "one",
            "url": "https://other.tv/one",
            "template_id": tpl["id"],
            "settings": {"record_danmu": True},
            "platform_options": {"cookies": SECRETS[1]},
        },
        {
            "name": "two",
            "url": "https://fake.tv/two",
            "settings": {"proxy": "http://rec@proxy.test:3128"},
            "platform_options": {"proxy_password": SECRETS[3]},
        },
        {"name": "three", "url": "https://fake.tv/three", "enabled": False},
    ):
        ok(client.post("/api/streamers", json=body), 201)


def effective(client: TestClient, app: FastAPI) -> dict[str, Any]:
    """Each streamer's effective config and merged options (credentials in clear)."""
    out: dict[str, Any] = {}
    for s in ok(client.get("/api/streamers"))["items"]:
        shown = ok(client.get(f"/api/streamers/{s['id']}/config"))
        with Session(app.state.engine) as db:
            resolved = streamer_config(db, s["id"])
            assert resolved is not None
            options = resolved.merged.options()
        out[s["name"]] = (shown["config"], shown["sources"], options, s["enabled"])
    return out


def test_export_then_import_gives_identical_effective_configs(
    client: TestClient, app: FastAPI, fresh
) -> None:
    configure(client)
    document = ok(client.get("/api/config/export", params={"include_secrets": True}))
    assert document["secrets"] is True
    other, other_app, control = fresh
    result = ok(other.post("/api/config/import", json=document))
    assert result == {
        "platforms": 1,
        "templates_created": 1,
        "templates_updated": 0,
        "streamers_created": 3,
        "streamers_updated": 0,
    }
    assert effective(other, other_app) == effective(client, app)
    assert sorted(sid for name, sid in control.calls if name == "start") == [1, 2, 3]
    # again: everything is matched (templates by name, streamers by URL)
    again = ok(other.post("/api/config/import", json=document))
    assert (again["templates_updated"], again["streamers_updated"]) == (1, 3)
    assert effective(other, other_app) == effective(client, app)


def test_an_export_leaves_credentials_out_unless_asked(
    client: TestClient, app: FastAPI, fresh
) -> None:
    configure(client)
    response = client.get("/api/config/export")
    document = ok(response)
    assert document["secrets"] is False
    for secret in SECRETS:
        assert secret not in response.text
    assert document["platforms"]["othertv"]["platform_options"] == {"quality": 3}
    # into an install that has the credentials: they stay
    full = ok(client.get("/api/config/export", params={"include_secrets": True}))
    other, other_app, _ = fresh
    ok(other.post("/api/config/import", json=full))
    ok(other.post("/api/config/import", json=document))
    assert effective(other, other_app) == effective(client, app)


def test_an_import_is_checked_whole_and_nothing_is_written(
    client: TestClient, app: FastAPI
) -> None:
    configure(client)
    before = ok(client.get("/api/config/export", params={"include_secrets": True}))
    document = {
        "global": {"poll_interval_secs": 5},
        "platforms": {"nowhere": {}},
        "templates": [{"name": "new", "platform_options": {"othertv": {"qualty": 1}}}],
        "streamers": [
            {"name": "a", "url": "https://unknown.example/a"},
            {"name": "b", "url": "https://fake.tv/b", "template": "missing"},
            {
                "name": "c",
                "url": "https://fake.tv/c",
                "settings": {
                    "segment_pipeline": {"steps": [{"id": "s", "processor": "no"}]}
                },
            },
        ],
    }
    response = client.post("/api/config/import", json=document)
    assert response.status_code == 422, response.text
    locs = [problem["loc"] for problem in response.json()["detail"]]
    for expected in (
        ["body", "platforms", "nowhere"],
        ["body", "templates", 0, "platform_options", "othertv", "qualty"],
        ["body", "streamers", 0, "url"],
        ["body", "streamers", 1, "template"],
        ["body", "streamers", 2, "settings", "segment_pipeline", "s"],
    ):
        assert expected in locs, locs
    assert (
        ok(client.get("/api/config/export", params={"include_secrets": True})) == before
    )


def test_an_import_refuses_a_taken_name_and_duplicates(
    client: TestClient, app: FastAPI
) -> None:
    ok(
        client.post("/api/streamers", json={"name": "one", "url": "https://fake.tv/x"}),
        201,
    )
    clash = {"streamers": [{"name": "one", "url": "https://fake.tv/y"}]}
    assert client.post("/api/config/import", json=clash).status_code == 409
    twice = {
        "streamers": [
            {"name": "a", "url": "https://fake.tv/a"},
            {"name": "a", "url": "https://fake.tv/a"},
        ]
    }
    locs = [p["loc"] for p in ok_422(client.post("/api/config/import", json=twice))]
    assert ["body", "streamers", 1, "name"] in locs
    assert ["body", "streamers", 1, "url"] in locs
    with Session(app.state.engine) as db:
        assert crud.list_streamers(db)[1] == 1


def ok_422(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    return detail

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from fastapi.routing import iter_route_contexts

from tests.api.conftest import ADMIN_PASSWORD, login

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

PUBLIC = {
    ("GET", "/api/health/live"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"),
    ("GET", "/docs"),
    ("HEAD", "/docs"),
    ("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"),
    # the dashboard's page (it logs in through the API) and a segment file by the
    # ticket an authenticated request got (a <video> sends no bearer token)
    ("GET", "/"),
    ("GET", "/api/media/1"),
}


def _endpoints(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    # flattens included routers, as FastAPI's own OpenAPI generator does
    for route in iter_route_contexts(app.routes):
        assert route.path is not None, route
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        found += [(method, path) for method in sorted(route.methods or ())]
    return found


def test_every_non_public_route_needs_a_token(anon: TestClient, app: FastAPI) -> None:
    endpoints = _endpoints(app)
    assert ("DELETE", "/api/streamers/1") in endpoints
    for method, path in endpoints:
        response = anon.request(method, path, json={})
        if (method, path) in PUBLIC:
            assert response.status_code != 401, (method, path)
        else:
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
    assert {e for e in endpoints if e in PUBLIC} == PUBLIC


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer nonsense", id="garbage"),
        pytest.param("Basic YWRtaW46eA==", id="other-scheme"),
        pytest.param("Bearer ", id="empty"),
    ],
)
def test_invalid_bearer_is_401(anon: TestClient, header: str) -> None:
    response = anon.get("/api/streamers", headers={"Authorization": header})
    assert response.status_code == 401


def test_refresh_token_is_not_an_access_token(
    anon: TestClient, tokens: dict[str, str]
) -> None:
    bearer = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    assert anon.get("/api/streamers", headers=bearer).status_code == 401


def test_access_token_is_not_a_refresh_token(
    anon: TestClient, tokens: dict[str, str]
) -> None:
    response = anon.post(
        "/api/auth/refresh", json={"refresh_token": tokens["access_token"]}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("admin", "wrong-password", id="wrong-password"),
        pytest.param("nobody", ADMIN_PASSWORD, id="unknown-user"),
    ],
)
def test_login_rejects_bad_credentials(
    anon: TestClient, username: str, password: str
) -> None:
    response = anon.post(
        "/api/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 401
    assert password not in response.text


def test_login_returns_a_bearer_pair(tokens: dict[str, str]) -> None:
    assert tokens["token_type"] == "bearer"
    assert tokens["access_token"] != tokens["refresh_token"]


def test_refresh_rotates_and_reuse_revokes_all(
    anon: TestClient, tokens: dict[str, str]
) -> None:
    first = tokens["refresh_token"]
    response = anon.post("/api/auth/refresh", json={"refresh_token": first})
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first
    bearer = {"Authorization": f"Bearer {second['access_token']}"}
    assert anon.get("/api/streamers", headers=bearer).status_code == 200

    # the used token is revoked; replaying it also revokes its successor
    replay = anon.post("/api/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401
    successor = anon.post(
        "/api/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert successor.status_code == 401


def test_logout_revokes_the_refresh_token(client: TestClient) -> None:
    other = login(client)
    response = client.post(
        "/api/auth/logout", json={"refresh_token": other["refresh_token"]}
    )
    assert response.status_code == 204
    refresh = client.post(
        "/api/auth/refresh", json={"refresh_token": other["refresh_token"]}
    )
    assert refresh.status_code == 401


def test_logout_rejects_an_access_token_as_body(
    client: TestClient, tokens: dict[str, str]
) -> None:
    response = client.post(
        "/api/auth/logout", json={"refresh_token": tokens["access_token"]}
    )
    assert response.status_code == 401


def test_change_password(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post(
        "/api/auth/change-password",
        json={"current_password": ADMIN_PASSWORD, "new_password": "a-new-password"},
    )
    assert response.status_code == 204
    refresh = client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    old = client.post(
        "/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert old.status_code == 401
    assert login(client, "a-new-password")["access_token"]


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        pytest.param(
            {"current_password": ADMIN_PASSWORD, "new_password": "short"},
            422,
            "at least 8 characters",
            id="short-new-password",
        ),
        pytest.param(
            {"current_password": "not-it", "new_password": "long-enough"},
            400,
            "current password is wrong",
            id="wrong-current-password",
        ),
    ],
)
def test_change_password_rejects(
    client: TestClient, body: dict[str, str], code: int, reason: str
) -> None:
    response = client.post("/api/auth/change-password", json=body)
    assert response.status_code == code
    assert reason in response.text
    assert login(client)["access_token"]

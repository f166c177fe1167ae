"""API fixtures: an app on a temp data dir, a fake Temporal, and logged-in clients.

A module marked `pytestmark = pytest.mark.both_databases` runs every test twice,
on SQLite and on a copy of a Postgres database that holds the admin user (see
tests/databases.py); unmarked modules run on SQLite only.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import httpx
import pytest
from pydantic import SecretStr

from activities.contracts import LiveStatus
from activities.platforms import Channel, Extractor, PlatformOptions, PlatformRegistry
from api.deps import (
    Platforms,
    TemporalUnavailableError,
    get_platforms,
    get_workflow_control,
)
from api.main import create_app
from api.schemas import ComponentHealth
from api.schemas_system import QueueReport
from api.settings import ApiSettings
from api.system import get_queue_probe
from tests.databases import DATABASES, HEAD_TEMPLATE, PostgresForTests
from workflows.client import ForeignWorkflowError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from fastapi import FastAPI

from fastapi.testclient import TestClient

ADMIN_PASSWORD = "correct-horse-battery"
JWT_SECRET = SecretStr("test-secret-" + "x" * 32)


class FakeTv(Extractor):
    """A platform that exists only in these tests: https://fake.tv/<channel>."""

    platform = "faketv"
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(r"https://fake\.tv/(?P<channel>\w+)$"),
    }

    async def check(self, channel: Channel) -> LiveStatus:
        return LiveStatus(is_live=False)


class OtherTvOptions(PlatformOptions):
    quality: int = 0
    token: SecretStr | None = None


class OtherTv(Extractor):
    """A second test platform, with options of its own: https://other.tv/<channel>."""

    platform = "othertv"
    matchers: ClassVar[dict[str, re.Pattern[str]]] = {
        "live": re.compile(r"https://other\.tv/(?P<channel>\w+)$"),
    }
    options_model = OtherTvOptions

    async def check(self, channel: Channel) -> LiveStatus:
        return LiveStatus(is_live=False)


REGISTRY = PlatformRegistry([FakeTv, OtherTv])


def no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected request to {request.url}")


@dataclass
class FakeWorkflowControl:
    """Records what the API asks of Temporal; `running` holds started workflows.

    `foreign` holds the workflow ids another srec instance runs (by streamer id,
    the owner's instance id): they are refused as the real control refuses them.
    """

    running: set[int] = field(default_factory=set)
    foreign: dict[int, str] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)
    unavailable: bool = False
    components: dict[str, ComponentHealth] = field(
        default_factory=lambda: {"temporal": ComponentHealth(status="ok")}
    )

    async def start(self, streamer_id: int) -> None:
        if self.unavailable:
            raise TemporalUnavailableError("Temporal at fake:7233 is unreachable")
        await self.check_owner(streamer_id)
        self.calls.append(("start", streamer_id))
        self.running.add(streamer_id)

    async def signal(self, streamer_id: int, name: str) -> bool:
        if self.unavailable:
            raise TemporalUnavailableError("Temporal at fake:7233 is unreachable")
        await self.check_owner(streamer_id)
        self.calls.append((name, streamer_id))
        return streamer_id in self.running

    async def check_owner(self, streamer_id: int) -> None:
        if self.unavailable:
            raise TemporalUnavailableError("Temporal at fake:7233 is unreachable")
        if streamer_id in self.foreign:
            raise ForeignWorkflowError(streamer_id, self.foreign[streamer_id])

    async def health(self) -> dict[str, ComponentHealth]:
        return self.components


@dataclass
class FakeQueueProbe:
    """Answers `GET /api/system`'s question about the task queues from `reports`."""

    reports: list[QueueReport] = field(default_factory=list)
    unavailable: bool = False
    asked: list[list[str]] = field(default_factory=list)

    async def describe(self, queues: Sequence[str]) -> list[QueueReport]:
        self.asked.append(list(queues))
        if self.unavailable:
            raise TemporalUnavailableError("Temporal at fake:7233 is unreachable")
        return self.reports


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SREC_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A migrated data dir with the admin user, and a token pair issued in it.

    scrypt is slow on purpose, so each test copies this instead of hashing and
    logging in again; the copies share the JWT secret, so the tokens stay valid.
    """
    data_dir = tmp_path_factory.mktemp("template")
    settings = ApiSettings(
        data_dir=data_dir,
        jwt_secret=JWT_SECRET,
        admin_password=SecretStr(ADMIN_PASSWORD),
    )
    with TestClient(create_app(settings)) as client:
        tokens = login(client)
    return data_dir, tokens


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked `both_databases` runs each API test on SQLite and Postgres."""
    marked = metafunc.definition.get_closest_marker("both_databases")
    if marked and "api_database" in metafunc.fixturenames:
        metafunc.parametrize("api_database", DATABASES, indirect=True)


@pytest.fixture
def api_database(request: pytest.FixtureRequest) -> str:
    """The app DB of an API test: "sqlite", unless its module is `both_databases`."""
    kind: str = getattr(request, "param", "sqlite")
    return kind


@pytest.fixture(scope="session")
def postgres_template(
    postgres_server: PostgresForTests, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, str]]:
    """`template` on Postgres: a database with the admin user, and its tokens."""
    name, url = postgres_server.create(HEAD_TEMPLATE)
    settings = ApiSettings(
        data_dir=tmp_path_factory.mktemp("pg-template"),
        jwt_secret=JWT_SECRET,
        admin_password=SecretStr(ADMIN_PASSWORD),
        database_url=url,
    )
    with TestClient(create_app(settings)) as client:
        tokens = login(client)
    return name, tokens


@pytest.fixture
def settings(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    template: tuple[Path, dict[str, str]],
    api_database: str,
) -> Iterator[ApiSettings]:
    data_dir = tmp_path / "data"
    shutil.copytree(template[0], data_dir)
    if api_database == "sqlite":
        yield ApiSettings(data_dir=data_dir, jwt_secret=JWT_SECRET)
        return
    postgres: PostgresForTests = request.getfixturevalue("postgres_server")
    source, _ = request.getfixturevalue("postgres_template")
    name, url = postgres.create(source)
    yield ApiSettings(data_dir=data_dir, jwt_secret=JWT_SECRET, database_url=url)
    postgres.drop(name)


@pytest.fixture
def control() -> FakeWorkflowControl:
    return FakeWorkflowControl()


@pytest.fixture
def queue_probe() -> FakeQueueProbe:
    return FakeQueueProbe()


@pytest.fixture
def app(
    settings: ApiSettings, control: FakeWorkflowControl, queue_probe: FakeQueueProbe
) -> FastAPI:
    app = create_app(settings)
    app.dependency_overrides[get_workflow_control] = lambda: control
    app.dependency_overrides[get_queue_probe] = lambda: queue_probe
    http = httpx.AsyncClient(transport=httpx.MockTransport(no_network))
    app.dependency_overrides[get_platforms] = lambda: Platforms(REGISTRY, http)
    return app


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    """A client without credentials."""
    with TestClient(app) as client:
        yield client


def login(client: TestClient, password: str = ADMIN_PASSWORD) -> dict[str, str]:
    response = client.post(
        "/api/auth/login", json={"username": "admin", "password": password}
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


@pytest.fixture
def tokens(
    request: pytest.FixtureRequest,
    template: tuple[Path, dict[str, str]],
    api_database: str,
) -> dict[str, str]:
    """The admin's token pair, valid in this test's copy of the DB."""
    if api_database == "postgres":
        pair: dict[str, str] = request.getfixturevalue("postgres_template")[1]
        return pair
    return template[1]


@pytest.fixture
def client(anon: TestClient, tokens: dict[str, str]) -> TestClient:
    """The same client, logged in as admin."""
    anon.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    return anon

"""Hostile input never gets a 500: schemathesis against the API's own OpenAPI spec.

Every route is fuzzed in-process (ASGI, no socket) with a valid admin token and the
fake Temporal of `conftest.py`: first the schema's boundary values (ids beyond the
64-bit range, empty and oversized strings, …), then generated examples. Every
answer must be no 5xx and in the schema (a documented status code, content type,
headers and body), auth must be enforced, and a request that breaks the schema
must be refused. The run is deterministic (fixed seed, derandomized, no deadline)
and bounded: one app and database for the whole module, four generated examples
per route after the boundary values.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi

from api.deps import Platforms, get_platforms, get_workflow_control
from api.main import create_app
from api.settings import ApiSettings
from api.system import get_queue_probe
from tests.api.conftest import (
    JWT_SECRET,
    REGISTRY,
    FakeQueueProbe,
    FakeWorkflowControl,
    no_network,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fastapi import FastAPI

SEED = 20260101
MAX_EXAMPLES = 4
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
        # A schema-valid body may still be refused: no spec can say which URLs a
        # platform recognises, which templates are sound, or what the current
        # password is. Those 4xx carry their reason and are tested in routes/;
        # what is checked here is that every answer is in the schema.
        "checks": {"positive_data_acceptance": {"enabled": False}},
    }
)

# The schema is bound to the app before the tests are made from it, so the checks
# that send requests of their own (without the token, with another method) reach
# it in-process too. Its settings are filled in by `fuzzed_app` before the first
# request starts the app's lifespan; the spec does not depend on them.
SETTINGS = ApiSettings.model_construct()
APP = create_app(SETTINGS)
schema = schemathesis.openapi.from_dict(APP.openapi(), config=CONFIG)
schema.app = APP


@pytest.fixture(scope="module")
def fuzzed_app(
    tmp_path_factory: pytest.TempPathFactory, template: tuple[Path, dict[str, str]]
) -> Iterator[FastAPI]:
    """One app for every route: streamers one route creates feed the next."""
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    shutil.copytree(template[0], data_dir)
    real = ApiSettings(data_dir=data_dir, jwt_secret=JWT_SECRET)
    for name in ApiSettings.model_fields:
        setattr(SETTINGS, name, getattr(real, name))
    control = FakeWorkflowControl()
    APP.dependency_overrides[get_workflow_control] = lambda: control
    probe = FakeQueueProbe()
    APP.dependency_overrides[get_queue_probe] = lambda: probe
    http = httpx.AsyncClient(transport=httpx.MockTransport(no_network))
    APP.dependency_overrides[get_platforms] = lambda: Platforms(REGISTRY, http)
    yield APP
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def session(
    fuzzed_app: FastAPI, template: tuple[Path, dict[str, str]]
) -> Iterator[asgi.ASGIClient]:
    """A client of the app, logged in as admin."""
    # schemathesis types an ASGI app narrower than Starlette's MutableMapping scope
    with asgi.get_client(fuzzed_app) as client:  # type: ignore[arg-type]
        client.headers["Authorization"] = f"Bearer {template[1]['access_token']}"
        yield client


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    # no replay of examples saved by an earlier run: each run sends the same requests
    database=None,
    deadline=None,
    # one module-scoped app serves every example on purpose
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_every_answer_in_the_schema(
    case: schemathesis.Case[Any], session: asgi.ASGIClient
) -> None:
    case.call_and_validate(session=session)

"""`GET /metrics`: who may scrape, and the DB's series after real actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr, ValidationError
from sqlmodel import Session

from activities.db.tables import OutputRoot, RecordingSlot
from activities.db.tables_notify import NotifyDeadLetter, NotifyDelivery
from activities.db.tables_pipeline import PipelineJob
from api.deps import Platforms, get_platforms
from api.main import create_app
from api.settings import ApiSettings
from tests.api.conftest import REGISTRY, no_network

pytestmark = pytest.mark.both_databases

METRICS_TOKEN = "prometheus-" + "t" * 32


def series(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    return series(text).get((name, tuple(sorted(labels.items()))))


def test_metrics_need_a_token(anon: TestClient) -> None:
    answer = anon.get("/metrics")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    bad = anon.get("/metrics", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401


def test_metrics_with_a_users_access_token(client: TestClient) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    assert value(answer.text, "srec_db_up") == 1


def _app_with(settings: ApiSettings, **changes: object) -> TestClient:
    updated = settings.model_copy(update=changes)
    app = create_app(updated)
    http = httpx.AsyncClient(transport=httpx.MockTransport(no_network))
    app.dependency_overrides[get_platforms] = lambda: Platforms(REGISTRY, http)
    return TestClient(app)


def test_metrics_with_the_dedicated_token(settings: ApiSettings) -> None:
    with _app_with(settings, metrics_token=SecretStr(METRICS_TOKEN)) as anon:
        ok = anon.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert ok.status_code == 200
        wrong = anon.get(
            "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"}
        )
        assert wrong.status_code == 401


def test_public_metrics_take_no_token(settings: ApiSettings) -> None:
    with _app_with(settings, metrics_public=True) as anon:
        assert anon.get("/metrics").status_code == 200


def test_metrics_token_must_be_long() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        ApiSettings(metrics_token=SecretStr("short"))


def test_streamers_by_state_and_platform(client: TestClient) -> None:
    for name in ("a", "b", "c"):
        made = client.post(
            "/api/streamers", json={"name": name, "url": f"https://fake.tv/{name}"}
        )
        assert made.status_code == 201, made.text
    client.post("/api/streamers", json={"name": "o", "url": "https://other.tv/o"})
    paused = client.post("/api/streamers/1/pause")
    assert paused.status_code in (200, 202), paused.text
    text = client.get("/metrics").text
    found = {
        labels: v
        for (name, labels), v in series(text).items()
        if name == "srec_streamers"
    }
    assert sum(found.values()) == 4
    assert value(text, "srec_streamers", state="NOT_LIVE", platform="othertv") == 1
    faketv = {
        dict(labels)["state"]: v
        for labels, v in found.items()
        if dict(labels)["platform"] == "faketv"
    }
    assert sum(faketv.values()) == 3


def test_jobs_deliveries_slots_and_gate(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    with Session(engine) as db:
        jobs = [
            ("remux", "COMPLETED"),
            ("remux", "COMPLETED"),
            ("remux", "FAILED"),
            ("upload", "RUNNING"),
        ]
        for number, (processor, status) in enumerate(jobs):
            db.add(
                PipelineJob(
                    run_id=1,
                    step_id=f"step-{number}",
                    processor=processor,
                    queue="cpu",
                    status=status,
                )
            )
        db.add(NotifyDelivery(event_id=1, channel_id=1, status="sent"))
        db.add(NotifyDelivery(event_id=2, channel_id=1, status="dead"))
        db.add(
            NotifyDeadLetter(delivery_id=2, event_id=2, channel_id=1, event_type="x")
        )
        db.add(
            RecordingSlot(
                holder="streamer-1",
                token="t",
                state="held",
                priority="normal",
                queued_at=now,
                expires_at=now + timedelta(minutes=1),
            )
        )
        db.add(OutputRoot(path="/rec", state="degraded", rejected=3))
        db.add(OutputRoot(path="/ok", state="healthy"))
        db.commit()
    text = client.get("/metrics").text
    assert value(text, "srec_pipeline_jobs", processor="remux", status="COMPLETED") == 2
    assert value(text, "srec_pipeline_jobs", processor="remux", status="FAILED") == 1
    assert value(text, "srec_pipeline_jobs", processor="upload", status="RUNNING") == 1
    assert value(text, "srec_notify_deliveries", status="sent") == 1
    assert value(text, "srec_notify_deliveries", status="dead") == 1
    assert value(text, "srec_notify_dead_letters") == 1
    assert value(text, "srec_recording_slots", state="held") == 1
    assert value(text, "srec_recording_slots", state="queued") == 0
    assert value(text, "srec_output_root_degraded", path="/rec") == 1
    assert value(text, "srec_output_root_degraded", path="/ok") == 0
    assert value(text, "srec_output_root_rejected", path="/rec") == 3

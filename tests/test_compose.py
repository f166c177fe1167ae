"""Static checks of docker-compose.yml and the Dockerfile (no Docker needed)."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from activities import metrics_db
from activities.contracts import SEARCH_ATTRIBUTES
from activities.metrics import REGISTRY
from worker.queues import QUEUES, parse_queues

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DEPLOY = ROOT / "deploy"
# worker service -> the queues it serves (`srec worker --queues`)
WORKERS = {"worker-workflows": "workflows", "worker-io": "io", "worker-cpu": "cpu"}
SREC_SERVICES = ("api", *WORKERS)
REQUIRED_SECRETS = (
    "SREC_POSTGRES_PASSWORD",
    "SREC_JWT_SECRET",
    "SREC_ADMIN_PASSWORD",
    "SREC_METRICS_TOKEN",
    "SREC_GRAFANA_PASSWORD",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = compose["services"]
    assert isinstance(result, dict)
    return result


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def command_text(service: dict[str, Any]) -> str:
    parts = []
    for key in ("entrypoint", "command"):
        value = service.get(key, "")
        parts.append(" ".join(value) if isinstance(value, list) else str(value))
    return " ".join(parts)


@pytest.mark.parametrize(
    "name",
    ["postgres", "temporal", "temporal-ui", "api", *WORKERS, "prometheus", "grafana"],
)
def test_service_exists(services: dict[str, dict[str, Any]], name: str) -> None:
    assert name in services


@pytest.mark.parametrize("secret", REQUIRED_SECRETS)
def test_secrets_are_required_not_defaulted(secret: str) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
    assert uses, f"{secret} is not used"
    for suffix in uses:
        assert suffix.startswith(":?"), f"${{{secret}{suffix}}} must fail when unset"


def test_secrets_reach_the_api(services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["api"])
    assert env["SREC_JWT_SECRET"].startswith("${SREC_JWT_SECRET:?")
    assert env["SREC_ADMIN_PASSWORD"].startswith("${SREC_ADMIN_PASSWORD:?")


def test_no_literal_passwords(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            if any(w in key for w in ("PASSWORD", "PWD", "SECRET")):
                assert value.startswith("${"), f"{name}.{key} is a literal"


def test_depends_on_waits_for_health(services: dict[str, dict[str, Any]]) -> None:
    checked = 0
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for target, spec in depends.items():
            condition = spec.get("condition")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{target}: no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", (
                    f"{target} is a one-shot job and must not restart"
                )
            else:
                pytest.fail(f"{name} -> {target}: condition {condition!r}")
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize("name", SREC_SERVICES)
def test_srec_services_wait_for_the_stack(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    depends = services[name]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["temporal"]["condition"] == "service_healthy"
    setup = depends["temporal-setup"]["condition"]
    assert setup == "service_completed_successfully"


@pytest.mark.parametrize("name", SREC_SERVICES)
def test_srec_services_point_at_the_stack(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    env = environment(services[name])
    assert env["SREC_TEMPORAL_ADDRESS"] == "temporal:7233"
    url = env["SREC_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in url
    db = environment(services["postgres"])["POSTGRES_DB"]
    assert url.endswith(f"/{db}")
    assert services[name].get("build") == "."
    role = "worker" if name in WORKERS else name
    assert command_text(services[name]).split()[:2] == ["srec", role]


def test_temporal_runs_on_postgres(services: dict[str, dict[str, Any]]) -> None:
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/auto-setup")
    env = environment(temporal)
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgres"
    assert env["POSTGRES_USER"] == environment(services["postgres"])["POSTGRES_USER"]
    assert "cluster health" in str(temporal["healthcheck"]["test"])


def test_postgres_is_persistent_and_checked(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in str(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_ui_on_8233(services: dict[str, dict[str, Any]]) -> None:
    ui = services["temporal-ui"]
    assert ui["image"].startswith("temporalio/ui")
    assert environment(ui)["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert any(str(p).endswith("8233}:8080") or p == "8233:8080" for p in ui["ports"])


def test_api_health_and_port(services: dict[str, dict[str, Any]]) -> None:
    api = services["api"]
    assert "/api/health/live" in str(api["healthcheck"]["test"])
    assert any(str(p).endswith(":8080") for p in api["ports"])
    assert environment(api)["SREC_API_HOST"] == "0.0.0.0"


def test_recordings_volume_is_shared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    mounts = {
        name: {
            v.split(":")[0]
            for v in services[name]["volumes"]
            if v.split(":")[1] == "/data/recordings"
        }
        for name in SREC_SERVICES
    }
    # io records into it, cpu post-processes from it, the API checks paths in it
    for name in ("worker-io", "worker-cpu"):
        assert mounts[name], f"{name} has no recordings volume"
        assert mounts[name] == mounts["api"]
    assert mounts["api"] <= set(compose["volumes"])


@pytest.mark.parametrize("name", WORKERS)
def test_workers_scale(services: dict[str, dict[str, Any]], name: str) -> None:
    worker = services[name]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker.get("stop_grace_period")
    assert worker.get("init") is True


@pytest.mark.parametrize(("name", "queues"), WORKERS.items())
def test_each_worker_serves_its_queue(
    services: dict[str, dict[str, Any]], name: str, queues: str
) -> None:
    argv = command_text(services[name]).split()
    assert argv[:2] == ["srec", "worker"]
    given = argv[argv.index("--queues") + 1]
    # what `srec worker --queues` accepts, and together they cover every queue
    assert ",".join(parse_queues(given)) == queues


def test_the_workers_cover_every_queue(services: dict[str, dict[str, Any]]) -> None:
    served = set()
    for name in WORKERS:
        argv = command_text(services[name]).split()
        served |= set(parse_queues(argv[argv.index("--queues") + 1]))
    assert served == set(QUEUES)


# --- metrics: Prometheus scrapes every srec service, Grafana charts the series -------


@pytest.fixture(scope="module")
def prometheus() -> dict[str, Any]:
    data = yaml.safe_load(
        (DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    )
    assert isinstance(data, dict)
    return data


def scrape_jobs(prometheus: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in prometheus["scrape_configs"]}


def mounted(service: dict[str, Any], target: str) -> Path:
    """The file or folder of ./deploy that `service` mounts at `target`."""
    for volume in service["volumes"]:
        source, dest = str(volume).split(":")[:2]
        if dest == target:
            assert source.startswith("./"), f"{target} is not a bind mount"
            return ROOT / source
    raise AssertionError(f"nothing is mounted at {target}")


@pytest.mark.parametrize("name", WORKERS)
def test_prometheus_finds_every_replica_of_each_worker(
    services: dict[str, dict[str, Any]], prometheus: dict[str, Any], name: str
) -> None:
    env = environment(services[name])
    port = int(env["SREC_METRICS_PORT"])
    assert env["SREC_METRICS_HOST"] == "0.0.0.0"
    job = scrape_jobs(prometheus)[name]
    # DNS discovery of the service name: every `--scale` replica is a target
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == [name]
    assert sd["type"] == "A"
    assert sd["port"] == port


def test_prometheus_scrapes_the_api_with_its_token(
    services: dict[str, dict[str, Any]], prometheus: dict[str, Any]
) -> None:
    job = scrape_jobs(prometheus)["api"]
    assert job["metrics_path"] == "/metrics"
    (static,) = job["static_configs"]
    port = environment(services["api"])["SREC_API_PORT"]
    assert static["targets"] == [f"api:{port}"]
    # the token the API checks is the one Prometheus writes to its credentials file
    token_file = job["authorization"]["credentials_file"]
    api_token = environment(services["api"])["SREC_METRICS_TOKEN"]
    prom = services["prometheus"]
    assert environment(prom)["SREC_METRICS_TOKEN"] == api_token
    assert api_token.startswith("${SREC_METRICS_TOKEN:?")
    script = command_text(prom)
    assert f"> {token_file}" in script
    assert "--config.file=/etc/prometheus/prometheus.yml" in script
    config = mounted(prom, "/etc/prometheus/prometheus.yml")
    assert config == DEPLOY / "prometheus" / "prometheus.yml"
    assert "SREC_METRICS_PUBLIC" not in environment(services["api"])


def test_prometheus_scrapes_only_services_that_exist(
    services: dict[str, dict[str, Any]], prometheus: dict[str, Any]
) -> None:
    for name, job in scrape_jobs(prometheus).items():
        hosts = [
            t.split(":")[0] for c in job.get("static_configs", []) for t in c["targets"]
        ]
        hosts += [n for c in job.get("dns_sd_configs", []) for n in c["names"]]
        assert hosts, name
        for host in hosts:
            assert host in services, f"job {name} scrapes {host}, not a service"
    temporal = environment(services["temporal"])
    assert temporal["PROMETHEUS_ENDPOINT"].endswith(":9090")
    assert scrape_jobs(prometheus)["temporal"]["static_configs"][0]["targets"] == [
        "temporal:9090"
    ]


def test_grafana_is_provisioned_with_the_dashboard(
    services: dict[str, dict[str, Any]], prometheus: dict[str, Any]
) -> None:
    grafana = services["grafana"]
    provisioning = mounted(grafana, "/etc/grafana/provisioning")
    dashboards = mounted(grafana, "/var/lib/grafana/dashboards")
    (source,) = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in services
    (provider,) = yaml.safe_load(
        (provisioning / "dashboards" / "srec.yml").read_text(encoding="utf-8")
    )["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    dashboard = json.loads((dashboards / "srec.json").read_text(encoding="utf-8"))
    uids = {
        t["datasource"]["uid"]
        for p in dashboard["panels"]
        for t in p.get("targets", [])
    }
    assert uids == {source["uid"]}
    assert environment(grafana)["GF_SECURITY_ADMIN_PASSWORD"].startswith("${")


def dashboard_series() -> set[str]:
    text = (DEPLOY / "grafana" / "dashboards" / "srec.json").read_text(encoding="utf-8")
    exprs = [
        t["expr"] for p in json.loads(text)["panels"] for t in p.get("targets", [])
    ]
    return {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for expr in exprs
        for name in re.findall(r"\b(srec_[a-z_]+)", expr)
    }


def defined_series() -> set[str]:
    """srec's series: the workers' (activities.metrics) and the DB's (metrics_db)."""
    names = {m.name for m in REGISTRY.collect()}
    names |= set(re.findall(r'"(srec_[a-z_]+)"', inspect.getsource(metrics_db)))
    return names


def test_the_dashboard_charts_every_srec_series() -> None:
    charted, defined = dashboard_series(), defined_series()
    assert charted == defined, (
        f"not charted: {sorted(defined - charted)}, "
        f"unknown: {sorted(charted - defined)}"
    )


def test_search_attributes_are_registered(services: dict[str, dict[str, Any]]) -> None:
    setup = services["temporal-setup"]
    assert setup["image"].startswith("temporalio/admin-tools")
    script = command_text(setup)
    assert "temporal operator search-attribute create" in script
    assert "--type Keyword" in script
    # reconcile lists an instance's own workflows by it: it must exist everywhere
    assert "SrecInstance" in SEARCH_ATTRIBUTES
    for name in SEARCH_ATTRIBUTES:
        assert re.search(rf"\b{name}\b", script), f"{name} is not registered"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_dockerfile_runs_srec_as_non_root() -> None:
    instructions = dockerfile_instructions()
    froms = [rest for kw, rest in instructions if kw == "FROM"]
    assert all(f.startswith("python:3.11-slim") for f in froms)
    runs = " ".join(rest for kw, rest in instructions if kw == "RUN")
    assert "pip install" in runs
    assert ".[postgres]" in runs
    assert "ffmpeg" in runs
    user = [rest for kw, rest in instructions if kw == "USER"]
    assert user
    assert user[-1] not in ("root", "0")
    start = [rest for kw, rest in instructions if kw in ("CMD", "ENTRYPOINT")]
    assert start
    assert "srec" in start[-1]
    assert any(kw == "VOLUME" and "/data" in rest for kw, rest in instructions)
    env = " ".join(rest for kw, rest in instructions if kw == "ENV")
    assert "SREC_DATA_DIR=/data" in env


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".venv", ".git", "tests"):
        assert entry in ignored

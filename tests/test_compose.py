"""docker-compose.yml cannot run here, so it is checked as data: the services Airflow 3 needs,
the Airflow version the project is locked to, and every mounted path and referenced file."""

from __future__ import annotations

import fnmatch
import re
import shlex
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # resolves <<: merge keys
    return data


def airflow_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if "build" in s}


def command(service: dict[str, Any]) -> str:
    cmd = service.get("command", "")
    return " ".join(cmd) if isinstance(cmd, list) else str(cmd)


def env_default(value: str) -> str:
    """``${VAR:-default}`` -> ``default``; other values unchanged."""
    m = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return m.group(1) if m else value


def dockerfile(service: dict[str, Any]) -> str:
    text: str = service["build"]["dockerfile_inline"]
    return text


def test_airflow_components_postgres_and_prometheus(compose: dict[str, Any]) -> None:
    services = airflow_services(compose)
    commands = {command(s) for s in services.values()}
    assert {"api-server", "scheduler", "dag-processor", "triggerer"} <= commands
    assert any("db migrate" in c for c in commands)
    assert compose["services"]["postgres"]["image"].startswith("postgres:")
    assert compose["services"]["prometheus"]["image"].startswith("prom/prometheus:")


def test_image_is_the_locked_airflow_version_with_the_project_installed(
        compose: dict[str, Any]) -> None:
    locked = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.lock").read_text(), re.M)
    assert locked and locked.group(1).startswith("3.3.")
    for name, service in airflow_services(compose).items():
        text = dockerfile(service)
        assert re.search(rf"^FROM apache/airflow:{re.escape(locked.group(1))}-python3\.11$",
                         text, re.M), name
        assert "pip install --no-cache-dir -r /opt/slo-jobs/requirements.lock" in text
        assert re.search(r"pip install .*/opt/slo-jobs$", text, re.M), name


def test_every_copied_file_exists_and_is_not_docker_ignored(compose: dict[str, Any]) -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert {".venv", ".cache", "lake"} <= set(ignored)
    for name, service in airflow_services(compose).items():
        context = (COMPOSE.parent / service["build"]["context"]).resolve()
        copies = [shlex.split(line)[1:-1] for line in dockerfile(service).splitlines()
                  if line.startswith("COPY ")]
        assert copies, name
        for sources in copies:
            for src in (s for s in sources if not s.startswith("--")):
                assert (context / src).exists(), f"{name}: COPY {src}: not in the build context"
                assert not any(fnmatch.fnmatch(src, pattern) for pattern in ignored), src


def test_every_mount_exists_or_is_a_declared_volume(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source, target = mount.split(":")[:2]
            assert target.startswith("/"), (name, mount)
            if source.startswith((".", "/")):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source}: does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == declared


def test_lake_and_reports_are_named_volumes_where_the_tasks_write(
        compose: dict[str, Any]) -> None:
    for name, service in airflow_services(compose).items():
        env = service["environment"]
        mounts = dict(reversed(m.split(":")[:2]) for m in service["volumes"])
        assert mounts[env["SLO_JOBS_LAKE_DIR"]] == "lake", name
        assert mounts[env["SLO_JOBS_OUT_DIR"]] == "reports", name
        assert mounts[env["SLO_JOBS_SLOS_DIR"]] == "./slos", name
        assert mounts[env["AIRFLOW__CORE__DAGS_FOLDER"]] == "./dags", name
        # the image creates both folders for the airflow user, so fresh volumes are writable
        assert f"mkdir -p {env['SLO_JOBS_LAKE_DIR']} {env['SLO_JOBS_OUT_DIR']}" in \
            dockerfile(service)


def test_prometheus_connection_comes_from_the_environment(compose: dict[str, Any]) -> None:
    prometheus_port = compose["services"]["prometheus"]["ports"][0].rsplit(":", 1)[1]
    for name, service in airflow_services(compose).items():
        raw = service["environment"]["AIRFLOW_CONN_PROMETHEUS_DEFAULT"]
        assert raw.startswith("${PROMETHEUS_URL"), name  # overridable, never a secret in a file
        url = urlsplit(env_default(raw))
        assert (url.hostname, str(url.port)) == ("prometheus", prometheus_port), name


def test_services_reach_each_other_by_their_compose_names(compose: dict[str, Any]) -> None:
    services = compose["services"]
    postgres_env = services["postgres"]["environment"]
    for name, service in airflow_services(compose).items():
        env = service["environment"]
        db = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert db.hostname in services and db.hostname == "postgres", name
        assert (db.username, db.password, db.path.lstrip("/")) == (
            postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_PASSWORD"],
            postgres_env["POSTGRES_DB"]), name
        api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert command(services[api.hostname]) == "api-server", name
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)


def test_init_creates_the_pool_the_dags_use(compose: dict[str, Any]) -> None:
    from slo_common import PROMETHEUS_POOL

    init = command(compose["services"]["airflow-init"])
    assert f"airflow pools set {PROMETHEUS_POOL} " in init
    for name, service in airflow_services(compose).items():
        if name != "airflow-init":
            assert service["depends_on"]["airflow-init"]["condition"] == \
                "service_completed_successfully", name

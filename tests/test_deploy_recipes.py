"""The deployment recipes, checked statically (this machine cannot pull base images, so
they are not built or run here): Dockerfile, compose.yaml, deploy/k8s/*.yaml."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.config import PROJECT_ROOT, Settings

K8S = PROJECT_ROOT / "deploy" / "k8s"
SETTINGS = {name.upper() for name in Settings.model_fields}


def _stages(dockerfile: str) -> list[list[str]]:
    """Instructions per stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", dockerfile)
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_non_root_with_readiness_healthcheck() -> None:
    stages = _stages((PROJECT_ROOT / "Dockerfile").read_text())
    assert len(stages) >= 2
    runtime = stages[-1]
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users
    assert users[-1].split(":")[0] not in ("0", "root")
    assert any(line.startswith("HEALTHCHECK") and "/readyz" in line for line in runtime)
    assert any(line.startswith("COPY --from=build") for line in runtime)
    # Runtime dependencies only: nothing is installed or compiled in the final stage.
    assert not any(re.search(r"pip install|apt-get|gcc", line) for line in runtime)
    assert any(line.startswith("CMD") and "serve" in line for line in runtime)
    assert ".venv" in (PROJECT_ROOT / ".dockerignore").read_text()


def test_compose_runs_three_replicas_behind_a_balancer_with_shared_secret() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text())
    services: dict[str, Any] = compose["services"]
    assert {"postgres", "pgbouncer", "redis", "migrate", "lb"} <= set(services)
    replicas = {name: s for name, s in services.items() if name.startswith("paylive")}
    assert len(replicas) >= 3
    secrets = {s["environment"]["STATUS_TOKEN_SECRET"] for s in replicas.values()}
    assert len(secrets) == 1  # one secret: a token from any replica works on every one
    for service in replicas.values():
        env = service["environment"]
        assert set(env) <= SETTINGS, set(env) - SETTINGS
        assert env["REALTIME_BROKER"].startswith("redis://")
        assert "@pgbouncer:" in env["DATABASE_URL"]
        assert "@postgres:" in env["LISTEN_DATABASE_URL"]
        assert env["DB_STATEMENT_CACHE_SIZE"] == "0"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"][-1] == "migrate"
    assert "@postgres:" in services["migrate"]["environment"]["DATABASE_URL"]
    nginx = (PROJECT_ROOT / "deploy" / "compose" / "nginx.conf").read_text()
    assert all(f"server {name}:8080" in nginx for name in replicas)
    assert "proxy_set_header Upgrade" in nginx


def _manifests() -> dict[str, dict[str, Any]]:
    docs = [yaml.safe_load(p.read_text()) for p in sorted(K8S.glob("*.yaml"))]
    return {doc["kind"]: doc for doc in docs}


def test_kubernetes_manifests_probe_drain_scale_and_migrate() -> None:
    kinds = _manifests()
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "Job", "ConfigMap"} <= set(kinds)  # fmt: skip
    deployment = kinds["Deployment"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    config = kinds["ConfigMap"]["data"]
    assert set(config) <= SETTINGS
    drain = float(config["SHUTDOWN_TIMEOUT_SECONDS"])
    assert pod["spec"]["terminationGracePeriodSeconds"] > pre_stop + drain
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    assert kinds["Service"]["spec"]["selector"] == labels
    target = kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    job = kinds["Job"]["spec"]["template"]["spec"]["containers"][0]
    assert job["args"][-1] == "migrate"


@pytest.mark.parametrize("path", [*sorted(K8S.glob("*.yaml")), PROJECT_ROOT / "compose.yaml"])
def test_every_manifest_parses(path: Path) -> None:
    assert isinstance(yaml.safe_load(path.read_text()), dict)

"""Deployment files parse, agree with each other, and chart only metrics the bot exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from polyloly.bot.metrics import METRIC_NAMES

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
_HISTOGRAM_SUFFIX = re.compile(r"_(bucket|sum|count)$")
_METRIC = re.compile(r"\bpolyloly_[a-z0-9_]+")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dashboard() -> dict[str, Any]:
    data = json.loads((DOCKER / "grafana" / "dashboards" / "polyloly.json").read_text())
    assert isinstance(data, dict)
    return data


def test_every_yaml_and_json_file_parses() -> None:
    files = [*DOCKER.rglob("*.yml"), *DOCKER.rglob("*.yaml")]
    assert len(files) >= 4
    for path in files:
        assert isinstance(_yaml(path), dict), path
    for path in DOCKER.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))


def test_compose_services() -> None:
    compose = _yaml(DOCKER / "compose.yaml")
    services = compose["services"]
    assert set(services) == {"bot", "prometheus", "grafana", "postgres", "redis", "bot-b"}
    assert services["postgres"]["profiles"] == ["postgres"]
    # several instances on one wallet: Redis and a second bot, only under their profile
    assert services["redis"]["profiles"] == ["several"]
    assert "ports" not in services["redis"]  # the compose network only
    bot_b = services["bot-b"]
    assert bot_b["profiles"] == ["several"]
    assert bot_b["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert bot_b["environment"]["POLYLOLY_INSTANCE_ID"] != services["bot"].get(
        "environment", {}
    ).get("POLYLOLY_INSTANCE_ID")
    for name in ("bot", "prometheus", "grafana"):
        assert "profiles" not in services[name]
    bot = services["bot"]
    assert (REPO / bot["build"]["context"].replace("..", ".")).resolve() == REPO
    assert (DOCKER / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve().is_file()
    assert bot["command"][0] == "run"
    assert "metrics.host=0.0.0.0" in bot["command"]
    for name in ("prometheus", "grafana"):  # published on the host's loopback only
        assert all(str(p).startswith("127.0.0.1:") for p in services[name]["ports"])
    mounted = {v.split(":")[0] for v in services["prometheus"]["volumes"]}
    assert "./prometheus.yml" in mounted
    grafana = {v.split(":")[0] for v in services["grafana"]["volumes"]}
    assert {"./grafana/provisioning", "./grafana/dashboards"} <= grafana


def test_prometheus_scrapes_the_bot() -> None:
    config = _yaml(DOCKER / "prometheus.yml")
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["bot:9108"]


def test_grafana_provisioning_points_at_prometheus_and_the_dashboard() -> None:
    sources = _yaml(DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    providers = _yaml(DOCKER / "grafana" / "provisioning" / "dashboards" / "polyloly.yml")
    (provider,) = providers["providers"]
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
    for panel in _dashboard()["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]


def test_dashboard_queries_only_name_exported_metrics() -> None:
    dashboard = _dashboard()
    named: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            for name in _METRIC.findall(target["expr"]):
                named.add(_HISTOGRAM_SUFFIX.sub("", name) if "_seconds_" in name else name)
    unknown = named - METRIC_NAMES
    assert not unknown, f"dashboard charts metrics the bot does not export: {sorted(unknown)}"
    # the dashboard shows what the task asks for: every instrument but build info
    assert METRIC_NAMES - named == {"polyloly_info"}


def test_dashboard_panels_do_not_overlap() -> None:
    cells: set[tuple[int, int]] = set()
    for panel in _dashboard()["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        mine = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not mine & cells, panel["title"]
        cells |= mine


def test_dockerfile_runs_the_bot_as_a_non_root_user() -> None:
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert stages
    assert all(s == "python:3.11-slim" for s in [stages[0], stages[-1]])
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["polyloly"\]', text, re.MULTILINE)
    assert re.search(r'^CMD \["run"\]', text, re.MULTILINE)
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.MULTILINE):
        for source in copied.split():
            assert (REPO / source).exists(), source


def test_docker_compose_config_if_available() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    plugin = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [docker, "compose", "version"], capture_output=True, text=True, check=False, timeout=30
    )
    if plugin.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [
            docker,
            "compose",
            "-f",
            str(DOCKER / "compose.yaml"),
            "--profile",
            "postgres",
            "config",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_bot_writes_to_named_volumes_it_owns() -> None:
    compose = _yaml(DOCKER / "compose.yaml")
    mounts = dict(v.split(":")[:2] for v in compose["services"]["bot"]["volumes"])
    assert mounts == {"bot_data": "/app/data", "bot_reports": "/app/reports"}
    assert {"bot_data", "bot_reports"} <= set(compose["volumes"])  # named, not bind mounts
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"chown -R polyloly:polyloly /app/data", text)


def test_the_image_installs_the_locked_versions() -> None:
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes --wheel-dir /wheels -r requirements/runtime.txt" in text
    assert "--require-hashes -r /tmp/runtime.txt" in text
    assert "--no-build-isolation" in text  # the build backend comes from requirements/build.txt
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", ".env", "data"} <= set(ignored)

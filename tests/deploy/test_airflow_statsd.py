"""Airflow's metrics reach Prometheus: the Airflow chart's StatsD exporter runs with civiclake's mapping, Prometheus
scrapes it, and the network policies let it. Plus what the chart gives the civiclake DAGs (registry, mode, pools)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.servers.debian import ensure_debian_packages

from .conftest import CHART, RELEASE, REPO, find, one, render_objects, rendered_scenario

MAPPING_FILE = REPO / "src" / "civiclake" / "observability" / "airflow-statsd-mapping.yaml"
STATSD_SCRAPE_PORT = 9102  # the Airflow chart's ports.statsdScrape


def values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())  # type: ignore[no-any-return]


def test_statsd_exporter_is_enabled_with_civiclakes_mapping() -> None:
    statsd = values()["airflow"]["statsd"]
    assert statsd["enabled"] is True
    mapping = yaml.safe_load(MAPPING_FILE.read_text())
    # The Airflow chart renders `mappings:` from overrideMappings only: the file's defaults go on each mapping.
    expected = [
        rule if rule.get("action") == "drop" else {**rule, **mapping["defaults"]} for rule in mapping["mappings"]
    ]
    assert statsd["overrideMappings"] == expected
    assert not statsd.get("extraMappings"), "overrideMappings replaces the chart's default mapping entirely"


def _scrape_configs(release: str = RELEASE) -> list[dict[str, Any]]:
    text = values()["prometheus"]["extraScrapeConfigs"].replace("{{ .Release.Name }}", release)
    return yaml.safe_load(text)  # type: ignore[no-any-return]


def test_prometheus_scrapes_the_exporter_and_promtool_accepts_the_config(tmp_path: Path) -> None:
    jobs = {job["job_name"]: job for job in _scrape_configs()}
    statsd = jobs["civiclake-airflow-statsd"]
    assert statsd["static_configs"] == [{"targets": [f"{RELEASE}-statsd:{STATSD_SCRAPE_PORT}"]}]
    ensure_debian_packages(["prometheus"], ["promtool"])
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "30s"}, "scrape_configs": list(jobs.values())}))
    checked = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _airflow_policy(objects: Any) -> dict[str, Any]:
    return one(objects, "NetworkPolicy", f"{RELEASE}-airflow")


def test_network_policy_lets_prometheus_reach_the_exporter_only_when_it_runs() -> None:
    ingress = _airflow_policy(rendered_scenario("default"))["spec"]["ingress"]
    scrape = [rule for rule in ingress if {"protocol": "TCP", "port": STATSD_SCRAPE_PORT} in rule.get("ports", [])]
    (rule,) = scrape
    assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["from"]] == ["prometheus"]
    without = render_objects({"airflow": {"statsd": {"enabled": False}}})
    assert not any(
        {"protocol": "TCP", "port": STATSD_SCRAPE_PORT} in rule.get("ports", [])
        for rule in _airflow_policy(without)["spec"]["ingress"]
    )


def test_the_dags_get_their_mode_and_the_inline_registry() -> None:
    data = one(rendered_scenario("default"), "ConfigMap", f"{RELEASE}-airflow-civiclake")["data"]
    assert data["AIRFLOW_VAR_CIVICLAKE_EXECUTION_MODE"] == "kubernetes"
    assert "CIVICLAKE_REGISTRY_YAML" not in data, "no inline registry: the one baked into the image"
    inline = "incidents:\n  schedule: '@hourly'\n"
    objects = render_objects({"registry": {"inline": inline}})
    data = one(objects, "ConfigMap", f"{RELEASE}-airflow-civiclake")["data"]
    assert data["CIVICLAKE_REGISTRY_YAML"] == inline
    registry = [cm for cm in find(objects, "ConfigMap") if cm["metadata"]["name"].endswith("-registry")]
    assert [cm["data"]["registry.yaml"].strip() for cm in registry] == [inline.strip()], "pods read the same text"


def test_the_migration_job_creates_the_pools_the_dags_use() -> None:
    job = values()["airflow"]["migrateDatabaseJob"]
    command = " ".join(job["args"])
    assert command.startswith("bash -c airflow db migrate && exec airflow pools import /opt/airflow/dags/pools.json")
    dockerfile = (REPO / "images" / "airflow" / "Dockerfile").read_text()
    assert "COPY dags /opt/airflow/dags" in dockerfile and (REPO / "dags" / "pools.json").is_file()

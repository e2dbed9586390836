"""`helm lint --strict` passes for every values file and supported Kubernetes version.

Strict lint refuses a chart whose declared dependencies are missing from charts/, and the real ones live in
remote repositories these machines cannot reach. So the chart is copied to a temporary directory and each missing
dependency is replaced by a stub that declares only its name and pinned version (tests/deploy/fixtures/stub-charts/
explains why). The chart itself is linted unchanged.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from .conftest import CHART, KUBERNETES_VERSIONS, NAMESPACE, VALUES_FILES


@pytest.fixture(scope="module")
def chart_with_stub_dependencies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("lint") / "civiclake"
    shutil.copytree(CHART, copy)
    for dependency in yaml.safe_load((CHART / "Chart.yaml").read_text())["dependencies"]:
        stub = copy / "charts" / dependency["name"]
        stub.mkdir(parents=True)
        metadata = {
            "apiVersion": "v2",
            "name": dependency["name"],
            "version": dependency["version"],
            "description": "Test stub standing in for an unreachable remote chart (renders nothing).",
            "type": "application",
        }
        (stub / "Chart.yaml").write_text(yaml.safe_dump(metadata))
        (stub / "values.yaml").write_text("{}\n")
    return copy


def test_dependencies_are_pinned_to_official_repositories() -> None:
    official = {
        "airflow": "https://airflow.apache.org",
        "trino": "https://trinodb.github.io/charts",
        "minio": "https://charts.min.io/",
        "postgresql": "oci://registry-1.docker.io/bitnamicharts",
        "prometheus": "https://prometheus-community.github.io/helm-charts",
        "grafana": "https://grafana.github.io/helm-charts",
    }
    for dependency in yaml.safe_load((CHART / "Chart.yaml").read_text())["dependencies"]:
        assert dependency["repository"] == official[dependency["name"]]
        assert all(part.isdigit() for part in dependency["version"].split(".")), "pin an exact version"
        assert dependency["condition"] == f"{dependency['name']}.enabled"


def test_unbuilt_chart_reports_only_its_missing_dependencies() -> None:
    statuses = {d["name"]: d["status"] for d in helm_python.dependency_list(CHART)}
    assert set(statuses.values()) <= {"missing", "ok"}


@pytest.mark.parametrize("version", [KUBERNETES_VERSIONS[0], KUBERNETES_VERSIONS[-1]])
@pytest.mark.parametrize("values_file", sorted(VALUES_FILES))
def test_strict_lint_passes(chart_with_stub_dependencies: Path, values_file: str, version: str) -> None:
    path = VALUES_FILES[values_file]
    values: dict[str, Any] | None = yaml.safe_load(path.read_text()) if path else None
    report = helm_python.lint(
        chart_with_stub_dependencies, values, strict=True, namespace=NAMESPACE, kube_version=f"v{version}"
    )
    assert report["errors"] == [], report
    assert [m for m in report["messages"] if m["severity"] >= 2] == [], report

"""k8s/: the Argo CD GitOps path and the k3s-specific manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import CHART, KUBERNETES_VERSIONS, REPO, kubernetes_errors

K8S = REPO / "k8s"


def _objects(directory: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(directory.glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_argocd_application_deploys_the_chart_with_the_k3s_values() -> None:
    objects = _objects(K8S / "argocd")
    (app,) = [a for a in _by_kind(objects, "Application") if a["metadata"]["name"] == "civiclake"]
    source = app["spec"]["source"]
    assert source["path"] == "charts/civiclake"
    assert (REPO / source["path"] / "Chart.yaml").is_file()
    for values_file in source["helm"]["valueFiles"]:
        assert (CHART / values_file).is_file(), values_file
    assert source["helm"]["valueFiles"] == ["values-k3s-single-node.yaml"]
    assert app["spec"]["project"] == "civiclake"
    assert app["spec"]["destination"]["namespace"] == "civiclake"
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    hook = source["helm"]["valuesObject"]["airflow"]["migrateDatabaseJob"]["jobAnnotations"]
    assert hook["argocd.argoproj.io/hook"] == "Sync"


def test_argocd_application_values_pass_the_chart_schema(values_schema: dict[str, Any]) -> None:
    import jsonschema

    from .conftest import deep_merge, render_objects

    (app,) = [a for a in _by_kind(_objects(K8S / "argocd"), "Application") if a["metadata"]["name"] == "civiclake"]
    helm = app["spec"]["source"]["helm"]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for values_file in helm["valueFiles"]:
        values = deep_merge(values, yaml.safe_load((CHART / values_file).read_text()))
    values = deep_merge(values, helm["valuesObject"])
    jsonschema.Draft7Validator(values_schema).validate(values)
    assert render_objects(values, name=helm["releaseName"])


def test_app_project_allows_every_chart_source_and_destination() -> None:
    objects = _objects(K8S / "argocd")
    (project,) = _by_kind(objects, "AppProject")
    repos = set(project["spec"]["sourceRepos"])
    for dependency in yaml.safe_load((CHART / "Chart.yaml").read_text())["dependencies"]:
        assert dependency["repository"].removeprefix("oci://") in repos, dependency["name"]
    destinations = {d["namespace"] for d in project["spec"]["destinations"]}
    for app in _by_kind(objects, "Application"):
        assert app["spec"]["project"] == project["metadata"]["name"]
        assert app["spec"]["destination"]["namespace"] in destinations
        assert app["spec"]["source"]["repoURL"] in repos
        assert (REPO / app["spec"]["source"]["path"]).is_dir()
    (oci,) = [s for s in _by_kind(objects, "Secret") if s["stringData"].get("enableOCI") == "true"]
    assert f"oci://{oci['stringData']['url']}" == next(
        d["repository"]
        for d in yaml.safe_load((CHART / "Chart.yaml").read_text())["dependencies"]
        if d["repository"].startswith("oci://")
    )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_objects_validate_strictly(version: str) -> None:
    core = [
        o for o in _objects(K8S / "argocd") + _objects(K8S / "k3s") if o["apiVersion"] in ("v1", "storage.k8s.io/v1")
    ]
    assert {o["kind"] for o in core} == {"Secret", "StorageClass"}
    for obj in core:
        assert not kubernetes_errors(obj, version), obj["metadata"]["name"]


def test_k3s_manifests_configure_traefik_and_the_retained_local_path_class() -> None:
    objects = _objects(K8S / "k3s")
    (traefik,) = _by_kind(objects, "HelmChartConfig")
    assert traefik["apiVersion"] == "helm.cattle.io/v1"
    assert (traefik["metadata"]["name"], traefik["metadata"]["namespace"]) == ("traefik", "kube-system")
    assert yaml.safe_load(traefik["spec"]["valuesContent"])["service"]["spec"]["externalTrafficPolicy"] == "Local"
    (storage,) = _by_kind(objects, "StorageClass")
    assert storage["provisioner"] == "rancher.io/local-path" and storage["reclaimPolicy"] == "Retain"
    k3s_values = (CHART / "values-k3s-single-node.yaml").read_text()
    assert k3s_values.count(storage["metadata"]["name"]) >= 4

"""Shared helpers of the deployment tests: render the civiclake chart offline and validate Kubernetes objects.

The chart is rendered with helm-python-sdk (the Helm v4 Go SDK, no helm binary, no cluster). Its dependencies
(Airflow, Trino, MinIO, ...) live in remote chart repositories the CI machines cannot reach: rendering does not need
them (declared-but-absent dependencies are skipped by the renderer), so these tests cover the chart's own objects
and check the values it hands to each dependency. `helm lint --strict` does insist on them: see test_lint.py.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "civiclake"
RELEASE = "civiclake"
NAMESPACE = "civiclake"
KUBERNETES_VERSIONS = ("1.30.0", "1.31.0", "1.32.0", "1.33.0")

# Values files a person installs with, plus the demo and "everything external" combinations.
VALUES_FILES = {
    "default": None,
    "k3s-single-node": CHART / "values-k3s-single-node.yaml",
    "production": CHART / "values-production.yaml",
}
EXTERNAL_EVERYTHING = {
    "airflow": {"enabled": False},
    "trino": {"enabled": False},
    "minio": {"enabled": False},
    "postgresql": {"enabled": False},
    "prometheus": {"enabled": False},
    "grafana": {"enabled": False},
    "external": {
        "s3Endpoint": "https://s3.example.org",
        "postgresqlHost": "pg.example.org",
        "trinoUrl": "https://trino.example.org:8443",
        "pushgatewayUrl": "http://pushgateway.monitoring:9091",
        "prometheusUrl": "",
    },
}
SCENARIOS: dict[str, dict[str, Any]] = {
    name: (yaml.safe_load(path.read_text()) if path else {}) for name, path in VALUES_FILES.items()
}
SCENARIOS["demo-generated-secrets"] = {"secrets": {"generate": True}}
SCENARIOS["all-external"] = EXTERNAL_EVERYTHING

helm_python.disable_logging()


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@functools.cache
def _chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART)


def render_raw(
    values: dict[str, Any] | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE
) -> dict[str, str]:
    """Template path -> rendered text (raises HelmValuesError / HelmRenderError like `helm install` would)."""
    return _chart().render(values or {}, name=name, namespace=namespace)


def render_objects(
    values: dict[str, Any] | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE
) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders, each tagged with its template in `__template__`."""
    objects = []
    for template, text in render_raw(values, name=name, namespace=namespace).items():
        if template.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                document["__template__"] = template
                objects.append(document)
    return objects


@functools.cache
def rendered_scenario(scenario: str) -> tuple[dict[str, Any], ...]:
    return tuple(render_objects(SCENARIOS[scenario]))


def strip(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "__template__"}


def find(objects: Any, kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: Any, kind: str, name: str) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_templates(objects: Any) -> list[dict[str, Any]]:
    """The pipeline pod templates shipped inside a ConfigMap, as Pod objects."""
    pods: list[dict[str, Any]] = []
    for cm in find(objects, "ConfigMap"):
        if cm["metadata"]["name"].endswith("-pipeline-pod-templates"):
            pods.extend(yaml.safe_load(text) for text in cm["data"].values())
    return pods


def workloads(objects: Any) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(description, pod metadata, pod spec) of every pod the chart itself can start."""
    found = []
    for obj in objects:
        if obj["kind"] == "Pod":
            found.append((f"Pod/{obj['metadata']['name']}", obj["metadata"], obj["spec"]))
        elif obj["kind"] in ("Job", "Deployment", "StatefulSet", "DaemonSet"):
            template = obj["spec"]["template"]
            found.append((f"{obj['kind']}/{obj['metadata']['name']}", template["metadata"], template["spec"]))
    for pod in pod_templates(objects):
        found.append((f"pod-template/{pod['metadata']['name']}", pod["metadata"], pod["spec"]))
    return found


# --- Kubernetes schema validation -------------------------------------------------------------------------------
# kubernetes-validate's own schemas (its `-k VERSION --strict` mode), with the loaded validators cached: the CLI
# re-reads the multi-megabyte definitions file for every object, which would make these tests slow.


def _schema_dir(version: str) -> str:
    return f"v{version}-local-strict"


@functools.cache
def _registry(version: str) -> Registry:
    base = package_files("kubernetes_validate") / "kubernetes-json-schema" / _schema_dir(version)
    definitions = json.loads((base / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.Draft202012Validator:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    base = package_files("kubernetes_validate") / "kubernetes-json-schema" / _schema_dir(version)
    path = base / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        raise LookupError(f"no Kubernetes {version} schema for {kind} {api_version}")
    schema = json.loads(path.read_text())
    registry = Resource.from_contents(schema) @ _registry(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def kubernetes_errors(obj: dict[str, Any], version: str) -> list[str]:
    """Strict-schema errors of one object for one Kubernetes version (empty when valid)."""
    validator = _validator(version, obj["kind"], obj["apiVersion"])
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(strip(obj))
    ]


@pytest.fixture(scope="session")
def chart_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="session")
def values_schema() -> dict[str, Any]:
    return json.loads((CHART / "values.schema.json").read_text())

"""values.yaml and values.schema.json form the chart's public contract, and the schema rejects what it should."""

from __future__ import annotations

from typing import Any

import helm_python
import jsonschema
import pytest
import yaml

from .conftest import CHART, render_raw

DEPENDENCIES = ("airflow", "trino", "minio", "postgresql", "prometheus", "grafana")


def _leaves(schema: dict[str, Any], values: Any, path: str = "") -> list[tuple[str, dict[str, Any], Any]]:
    is_container = schema.get("type") == "object" and "properties" in schema and "default" not in schema
    if is_container:
        found = []
        for key, sub in schema["properties"].items():
            found += _leaves(sub, values[key], f"{path}.{key}".lstrip("."))
        return found
    return [(path, schema, values)]


def test_values_files_pass_the_schema(values_schema: dict[str, Any]) -> None:
    for name in ("values.yaml", "values-k3s-single-node.yaml", "values-production.yaml"):
        values = yaml.safe_load((CHART / name).read_text())
        if name != "values.yaml":
            base = yaml.safe_load((CHART / "values.yaml").read_text())
            from .conftest import deep_merge

            values = deep_merge(base, values)
        jsonschema.Draft7Validator(values_schema).validate(values)


def test_every_civiclake_leaf_is_typed_defaulted_and_described(
    values_schema: dict[str, Any], chart_values: dict[str, Any]
) -> None:
    own = {k: v for k, v in values_schema["properties"].items() if k not in (*DEPENDENCIES, "global")}
    leaves = []
    for key, sub in own.items():
        leaves += _leaves(sub, chart_values[key], key)
    assert len(leaves) > 60
    for path, schema, value in leaves:
        assert schema.get("type"), f"{path} has no type"
        assert schema.get("description", "").strip(), f"{path} has no description"
        assert "default" in schema, f"{path} has no default"
        assert schema["default"] == value, f"{path}: schema default {schema['default']!r} != values.yaml {value!r}"


def test_every_civiclake_object_refuses_unknown_keys(values_schema: dict[str, Any]) -> None:
    assert values_schema["additionalProperties"] is False

    def walk(schema: dict[str, Any], path: str) -> None:
        if schema.get("type") == "object" and "properties" in schema and path.split(".")[0] not in DEPENDENCIES:
            assert schema.get("additionalProperties") is False, f"{path} accepts unknown keys"
            for key, sub in schema["properties"].items():
                walk(sub, f"{path}.{key}".lstrip("."))

    walk(values_schema, "")


def test_every_dependency_is_optional_through_enabled(values_schema: dict[str, Any]) -> None:
    dependencies = {d["name"] for d in yaml.safe_load((CHART / "Chart.yaml").read_text())["dependencies"]}
    assert dependencies == set(DEPENDENCIES)
    for name in DEPENDENCIES:
        enabled = values_schema["properties"][name]["properties"]["enabled"]
        assert enabled["type"] == "boolean" and enabled["description"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lake": {"buckett": "data"}}, "additional properties 'buckett' not allowed"),
        ({"pipleine": {}}, "additional properties 'pipleine' not allowed"),
        ({"catalog": {"port": "5432"}}, "got string, want integer"),
        ({"pipeline": {"maxActiveTasks": 0}}, "maxActiveTasks"),
        ({"lake": {"bucket": "Not_A_Bucket"}}, "/lake/bucket"),
        ({"images": {"ingest": {"pullPolicy": "Sometimes"}}}, "pullPolicy"),
        ({"bootstrap": {"resources": {"requests": {"cpuu": "1"}}}}, "additional properties 'cpuu' not allowed"),
        ({"trino": {"enabled": "yes"}}, "got string, want boolean"),
        ({"external": {"s3Endpoint": "minio:9000"}}, "s3Endpoint"),
    ],
)
def test_schema_rejects_mistyped_values(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as failure:
        render_raw(values)
    assert message in str(failure.value)


def test_every_values_key_that_names_a_password_is_only_a_reference(chart_values: dict[str, Any]) -> None:
    """Secrets are never values: a key about a password or a secret may only name a Secret or a key in one."""

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                lowered = key.lower()
                if ("password" in lowered or "secretkey" in lowered) and not isinstance(value, dict):
                    assert lowered.endswith(("key", "secretname", "existingsecret")), f"{path}.{key} holds a secret"
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    for name in ("values.yaml", "values-k3s-single-node.yaml", "values-production.yaml"):
        walk(yaml.safe_load((CHART / name).read_text()), name)

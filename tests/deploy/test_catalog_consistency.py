"""Trino's Iceberg catalog and the pipeline pods' pyiceberg settings point to one and the same catalog.

pyiceberg's SQL catalog (pipeline pods) and Trino's JDBC catalog share the catalog only if they agree on the
PostgreSQL database, the role, the catalog name (the catalog_name column) and the warehouse; and Trino reads the
files only if it sees the same S3 endpoint. These tests read both sides from the rendered objects.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from .conftest import RELEASE, SCENARIOS, deep_merge, one, pod_templates, render_objects, rendered_scenario

TRINO_SCENARIOS = [name for name, values in SCENARIOS.items() if values.get("trino", {}).get("enabled", True)]


def _scenario_values(scenario: str) -> dict[str, Any]:
    import yaml

    from .conftest import CHART

    return deep_merge(yaml.safe_load((CHART / "values.yaml").read_text()), SCENARIOS[scenario])


def _trino_catalog_properties(values: dict[str, Any], environment: dict[str, str]) -> dict[str, str]:
    """trino.catalogs.iceberg as Trino reads it: ${ENV:NAME} replaced from the pod environment."""
    properties = {}
    for line in values["trino"]["catalogs"]["iceberg"].splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            properties[key.strip()] = re.sub(r"\$\{ENV:([A-Z0-9_]+)\}", lambda m: environment[m.group(1)], value)
    return properties


def _trino_environment(objects: Any, values: dict[str, Any]) -> dict[str, str]:
    """What Trino's pods see: envFrom ConfigMaps rendered by civiclake, env from Secrets (placeholders)."""
    environment: dict[str, str] = {}
    for source in values["trino"]["envFrom"]:
        environment.update(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for variable in values["trino"]["env"]:
        ref = variable["valueFrom"]["secretKeyRef"]
        environment[variable["name"]] = f"SECRET.{ref['name']}.{ref['key']}"
    return environment


def _pipeline_environment(objects: Any) -> dict[str, str]:
    """What a pipeline pod sees: envFrom ConfigMap, then its env list (secrets as placeholders)."""
    (ingest,) = [p for p in pod_templates(objects) if p["metadata"]["labels"]["civiclake.io/task"] == "ingest"]
    (container,) = ingest["spec"]["containers"]
    environment = dict(one(objects, "ConfigMap", container["envFrom"][0]["configMapRef"]["name"])["data"])
    for variable in container["env"]:
        if "value" in variable:
            value = re.sub(r"\$\(([A-Z0-9_]+)\)", lambda m: environment[m.group(1)], variable["value"])
            environment[variable["name"]] = value
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            environment[variable["name"]] = f"SECRET.{ref['name']}.{ref['key']}"
    return environment


def _check_same_catalog(objects: Any, values: dict[str, Any]) -> None:
    trino = _trino_catalog_properties(values, _trino_environment(objects, values))
    pipeline = _pipeline_environment(objects)

    assert trino["connector.name"] == "iceberg"
    assert trino["iceberg.catalog.type"] == "jdbc"
    assert trino["iceberg.jdbc-catalog.driver-class"] == "org.postgresql.Driver"
    assert trino["fs.native-s3.enabled"] == "true"
    assert trino["s3.path-style-access"] == "true"

    # Same catalog name: the catalog_name column both engines filter on.
    assert trino["iceberg.jdbc-catalog.catalog-name"] == pipeline["CIVICLAKE__CATALOG__NAME"]

    # Same PostgreSQL host, port, database and role, and the same password Secret.
    jdbc = urlparse(trino["iceberg.jdbc-catalog.connection-url"].removeprefix("jdbc:"))
    sqlalchemy = urlparse(pipeline["CIVICLAKE__CATALOG__URI"])
    assert sqlalchemy.scheme == "postgresql+psycopg2" and jdbc.scheme == "postgresql"
    assert (jdbc.hostname, jdbc.port, jdbc.path) == (sqlalchemy.hostname, sqlalchemy.port, sqlalchemy.path)
    assert trino["iceberg.jdbc-catalog.connection-user"] == sqlalchemy.username
    assert trino["iceberg.jdbc-catalog.connection-password"] == sqlalchemy.password

    # Same warehouse and the same S3 service, region and credentials.
    assert trino["iceberg.jdbc-catalog.default-warehouse-dir"] == (
        f"s3://{pipeline['CIVICLAKE__S3__BUCKET']}/{values['lake']['warehousePrefix']}"
    )
    assert trino["s3.endpoint"] == pipeline["CIVICLAKE__S3__ENDPOINT_URL"]
    assert trino["s3.region"] == pipeline["CIVICLAKE__S3__REGION"]
    assert trino["s3.aws-access-key"] == pipeline["CIVICLAKE__S3__ACCESS_KEY_ID"]
    assert trino["s3.aws-secret-key"] == pipeline["CIVICLAKE__S3__SECRET_ACCESS_KEY"]


@pytest.mark.parametrize("scenario", TRINO_SCENARIOS)
def test_trino_reads_the_catalog_pyiceberg_writes(scenario: str) -> None:
    _check_same_catalog(rendered_scenario(scenario), _scenario_values(scenario))


def test_same_catalog_with_custom_names_and_an_external_database() -> None:
    overrides = {
        "catalog": {"name": "open_data", "database": "lakecat", "user": "lakecat", "port": 6432},
        "lake": {"bucket": "open-data-lake", "warehousePrefix": "iceberg"},
        "postgresql": {"enabled": False},
        "external": {"postgresqlHost": "pg.databases.svc"},
    }
    values = _scenario_values("default")
    values = deep_merge(values, overrides)
    objects = render_objects(overrides, name="opendata", namespace="lake")
    _check_same_catalog(objects, values)
    pipeline = _pipeline_environment(objects)
    assert pipeline["CIVICLAKE__CATALOG__URI"] == (
        "postgresql+psycopg2://lakecat:SECRET.civiclake-pg-credentials.password@pg.databases.svc:6432/lakecat"
    )


def test_pipeline_settings_follow_the_civiclake_settings_contract() -> None:
    environment = _pipeline_environment(rendered_scenario("default"))
    assert environment["CIVICLAKE_PROFILE"] == "cluster"
    assert environment["CIVICLAKE_HOME"] == "/var/lib/civiclake"
    assert environment["CIVICLAKE__S3__ENDPOINT_URL"] == f"http://{RELEASE}-minio:9000"
    assert environment["CIVICLAKE__S3__BUCKET"] == "civiclake"
    assert environment["CIVICLAKE__S3__REGION"] == "us-east-1"
    assert environment["CIVICLAKE__CATALOG__NAME"] == "civiclake"
    assert environment["CIVICLAKE__DATAGOUV__API_URL"] == "https://www.data.gouv.fr/api"
    assert environment["CIVICLAKE__METRICS__PUSHGATEWAY_URL"] == f"http://{RELEASE}-prometheus-pushgateway:9091"
    assert "CIVICLAKE__REGISTRY__PATH" not in environment


def test_an_inline_registry_is_shipped_and_pointed_to() -> None:
    objects = render_objects({"registry": {"inline": "datasets:\n  - source: datagouv\n    id: abc\n"}})
    assert "id: abc" in one(objects, "ConfigMap", f"{RELEASE}-registry")["data"]["registry.yaml"]
    environment = _pipeline_environment(objects)
    assert environment["CIVICLAKE__REGISTRY__PATH"] == "/etc/civiclake/registry/registry.yaml"
    (ingest, *_) = pod_templates(objects)
    mounts = {m["mountPath"] for m in ingest["spec"]["containers"][0]["volumeMounts"]}
    assert "/etc/civiclake/registry" in mounts


def test_catalog_password_is_defined_before_the_uri_that_expands_it() -> None:
    for pod in pod_templates(rendered_scenario("default")):
        names = [e["name"] for e in pod["spec"]["containers"][0]["env"]]
        assert names.index("ICEBERG_CATALOG_PASSWORD") < names.index("CIVICLAKE__CATALOG__URI")


@pytest.mark.parametrize("scenario", ["default", "production", "all-external"])
def test_civiclake_code_accepts_the_pipeline_environment(scenario: str, tmp_path: Path) -> None:
    """The environment the chart gives pipeline pods, read by civiclake's own settings loader (src/civiclake)."""
    from civiclake.config import load_settings

    environment = {
        name: value.replace("SECRET.", "secret-")
        for name, value in _pipeline_environment(rendered_scenario(scenario)).items()
    }
    # The one secret whose form the settings check: the Secret holds 64 hex digits, as `openssl rand -hex 32` makes.
    assert environment["CIVICLAKE__PRIVACY__PSEUDONYMISATION_KEY"].startswith("secret-")
    environment["CIVICLAKE__PRIVACY__PSEUDONYMISATION_KEY"] = "0f" * 32
    environment["CIVICLAKE_SECRETS_DIR"] = str(tmp_path / "no-secrets")
    environment["CIVICLAKE_CONFIG"] = str(tmp_path / "civiclake.yaml")
    (tmp_path / "civiclake.yaml").write_text("{}\n")
    settings = load_settings(environ=environment)
    assert settings.profile == "cluster"
    assert settings.catalog.name == "civiclake"
    assert settings.catalog_uri.startswith("postgresql+psycopg2://iceberg:secret-")
    assert settings.s3.bucket == "civiclake"
    assert settings.s3.endpoint_url == environment["CIVICLAKE__S3__ENDPOINT_URL"]
    assert settings.metrics.pushgateway_url == environment["CIVICLAKE__METRICS__PUSHGATEWAY_URL"]

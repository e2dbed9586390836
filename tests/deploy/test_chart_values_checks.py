"""Invalid combinations of values fail at render time with a message saying what to change."""

from __future__ import annotations

from typing import Any

import helm_python
import pytest

from .conftest import render_raw

INVALID = [
    ({"minio": {"enabled": False}}, "external.s3Endpoint is required"),
    ({"postgresql": {"enabled": False}}, "external.postgresqlHost is required"),
    ({"trino": {"enabled": False}}, "external.trinoUrl is required"),
    ({"prometheus": {"enabled": False}}, "external.pushgatewayUrl is required"),
    (
        {"prometheus": {"enabled": False}, "external": {"pushgatewayUrl": "http://pg:9091"}},
        "needs external.prometheusUrl",
    ),
    ({"minio": {"existingSecret": "other"}}, "minio.existingSecret (other) must equal s3.existingSecret"),
    ({"s3": {"accessKeyIdKey": "access"}}, "s3.accessKeyIdKey must be rootUser"),
    ({"minio": {"mode": "distributed", "replicas": 2}}, "needs minio.replicas >= 4"),
    ({"catalog": {"existingSecret": "pg"}}, "postgresql.auth.existingSecret (civiclake-pg-credentials) must equal"),
    ({"catalog": {"user": "lake"}}, "must equal catalog.user/catalog.database"),
    ({"catalog": {"passwordKey": "pw"}}, "userPasswordKey (password) must equal catalog.passwordKey (pw)"),
    ({"postgresql": {"primary": {"initdb": {"scriptsConfigMap": "x"}}}}, "must be civiclake-postgresql-initdb"),
    ({"trino": {"envFrom": []}}, "trino.envFrom must reference the ConfigMap civiclake-trino-catalog-env"),
    ({"trino": {"env": []}}, "trino.env must set CIVICLAKE_TRINO_JDBC_PASSWORD"),
    (
        {"trino": {"catalogs": {"iceberg": "connector.name=iceberg\niceberg.catalog.type=hive_metastore\n"}}},
        "iceberg.catalog.type=jdbc",
    ),
    ({"airflow": {"executor": "KubernetesExecutor"}}, "set airflow.allowPodLaunching=true"),
    ({"airflow": {"data": {"metadataSecretName": ""}}}, "airflow.data.metadataSecretName is required"),
    ({"airflow": {"executor": "CeleryExecutor"}}, "CeleryExecutor needs a broker and civiclake runs none"),
    (
        {"airflow": {"executor": "LocalExecutor,airflow.providers.celery.executors.celery_executor.CeleryExecutor"}},
        "CeleryExecutor needs a broker and civiclake runs none",
    ),
    ({"airflow": {"executor": "EdgeExecutor"}}, 'airflow.executor "EdgeExecutor": civiclake knows which account'),
    (
        {"airflow": {"scheduler": {"serviceAccount": {"create": False, "name": ""}}}},
        "airflow.scheduler.serviceAccount: with create=false and no name",
    ),
    (
        {
            "airflow": {
                "executor": "KubernetesExecutor",
                "allowPodLaunching": True,
                "workers": {"kubernetes": {"serviceAccount": {"create": False, "name": ""}}},
            }
        },
        "airflow.workers.kubernetes.serviceAccount: with create=false and no name",
    ),
    ({"airflow": {"postgresql": {"enabled": True}}}, "disable airflow.postgresql"),
    (
        {"airflow": {"extraEnvFrom": ""}},
        "airflow.extraEnvFrom must reference the ConfigMap civiclake-airflow-civiclake",
    ),
    ({"prometheus": {"server": {"extraConfigmapMounts": []}}}, "must mount the ConfigMap civiclake-prometheus-rules"),
    ({"grafana": {"sidecar": {"dashboards": {"enabled": False}}}}, "needs grafana.sidecar.dashboards.enabled=true"),
    ({"monitoring": {"dashboards": {"label": "dashboards"}}}, "label/labelValue must equal"),
    ({"pipeline": {"serviceAccount": {"create": False}}}, "needs pipeline.serviceAccount.name"),
]


@pytest.mark.parametrize(("values", "message"), INVALID, ids=[m for _, m in INVALID])
def test_invalid_combination_fails_with_a_message(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmRenderError) as failure:
        render_raw(values)
    assert message in str(failure.value)


def test_pipeline_account_can_be_an_existing_one() -> None:
    rendered = render_raw({"pipeline": {"serviceAccount": {"create": False, "name": "lake-runner"}}})
    assert "serviceAccountName: lake-runner" in rendered["civiclake/templates/bootstrap/bootstrap-job.yaml"]

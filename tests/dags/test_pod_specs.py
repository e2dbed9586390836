"""The pods the DAGs would start on the cluster, built by KubernetesPodOperator itself from the pod templates and
Airflow Variables the chart renders, then validated against the Kubernetes 1.32 schemas (kubernetes-validate
--strict) and checked for what each task must carry."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dags.conftest import DAGS, REPO, AirflowRunner
from tests.deploy.conftest import CHART, one, rendered_scenario

KUBERNETES_VALIDATE = REPO / ".venv" / "bin" / "kubernetes-validate"
INGEST_IMAGE = "ghcr.io/civiclake/ingest:0.1.0"
DBT_IMAGE = "ghcr.io/civiclake/dbt:0.1.0"
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "ACCESS_KEY")


@pytest.fixture(scope="module")
def chart_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def pods(module_airflow: AirflowRunner, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every task's pod, built with the chart's default rendering: its Airflow Variables and its pod templates."""
    objects = rendered_scenario("default")
    variables = dict(one(objects, "ConfigMap", "civiclake-airflow-civiclake")["data"])
    templates = one(objects, "ConfigMap", "civiclake-pipeline-pod-templates")["data"]
    folder = tmp_path_factory.mktemp("pod-templates")
    for name, text in templates.items():
        (folder / name).write_text(text)
    # The chart mounts the templates at /opt/civiclake/pod-templates; here they are read from a temporary folder.
    variables["AIRFLOW_VAR_CIVICLAKE_POD_TEMPLATE_INGEST"] = str(folder / "ingest.yaml")
    variables["AIRFLOW_VAR_CIVICLAKE_POD_TEMPLATE_DBT"] = str(folder / "dbt.yaml")
    return module_airflow.probe("pods", extra_env=variables)  # type: ignore[no-any-return]


def containers(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {container["name"]: container for container in pod["spec"]["containers"]}


def test_a_pod_for_every_task_and_every_registered_dataset(pods: dict[str, Any]) -> None:
    expected = [
        *(f"datagouv_sync.sync[{index}]" for index in range(5)),
        *(f"shopstream_sync.sync[{index}]" for index in range(6)),
        "olist_sync.sync[0]",
        "incidents_sync.sync[0]",
        "warehouse_build.freshness",
        "warehouse_build.build",
        "warehouse_build.test",
        "lake_maintenance.audit_load",
        "lake_maintenance.compact",
        "lake_maintenance.expire_snapshots",
        "lake_maintenance.remove_orphans",
    ]
    assert sorted(pods) == sorted(expected)


def test_every_pod_is_valid_for_kubernetes_1_32_strict(pods: dict[str, Any], tmp_path: Path) -> None:
    manifests = tmp_path / "pods.yaml"
    manifests.write_text(yaml.safe_dump_all([built["pod"] for built in pods.values()], sort_keys=False))
    result = subprocess.run(
        [str(KUBERNETES_VALIDATE), "-k", "1.32.0", "--strict", str(manifests)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert result.stdout.count("INFO") >= len(pods), result.stdout[-2000:]


def test_ingest_pods_run_civiclake_sync_with_the_chart_settings(
    pods: dict[str, Any], chart_values: dict[str, Any]
) -> None:
    registry = yaml.safe_load((DAGS / "datasets.yaml").read_text())
    for key, built in pods.items():
        if not key.endswith(
            ("_sync.sync[0]", "_sync.sync[1]", "_sync.sync[2]", "_sync.sync[3]", "_sync.sync[4]", "_sync.sync[5]")
        ):
            continue
        pod = built["pod"]
        base = containers(pod)["base"]
        assert base["image"] == INGEST_IMAGE, key
        assert base["command"] == ["civiclake"] and base["args"][:2] == ["sync", "--source"], key
        assert built["local_argv"] == ["civiclake", *base["args"]], "the same command line in both modes"
        assert base["resources"] == chart_values["pipeline"]["ingest"]["resources"], key
        assert {"name": "CIVICLAKE_SUMMARY_JSON", "value": "/airflow/xcom/return.json"} in base["env"]
        assert pod["metadata"]["labels"]["civiclake.io/task"] == "ingest"
    datasets = registry["datagouv"]["datasets"]
    for index, dataset in enumerate(datasets):
        args = containers(pods[f"datagouv_sync.sync[{index}]"]["pod"])["base"]["args"]
        assert args == ["sync", "--source", "datagouv", "--dataset", dataset["id"]]
    for index, table in enumerate(registry["shopstream"]["tables"]):
        env = {
            item["name"]: item.get("value")
            for item in containers(pods[f"shopstream_sync.sync[{index}]"]["pod"])["base"]["env"]
        }
        assert env["CIVICLAKE__POSTGRES__TABLES"] == table


def test_dbt_and_maintenance_pods_run_in_the_dbt_image_with_trino_settings(
    pods: dict[str, Any], chart_values: dict[str, Any]
) -> None:
    expected = {
        "warehouse_build.freshness": ["source-freshness"],
        "warehouse_build.build": ["transform"],
        "warehouse_build.test": ["transform", "--", "--resource-type", "test", "--resource-type", "unit_test"],
        "lake_maintenance.audit_load": ["audit", "load"],
        "lake_maintenance.compact": ["maintain", "compact"],
        "lake_maintenance.expire_snapshots": [
            "maintain",
            "expire-snapshots",
            "--older-than-days",
            "7",
            "--retain-last",
            "5",
        ],
        "lake_maintenance.remove_orphans": ["maintain", "remove-orphans", "--older-than-hours", "168"],
    }
    for key, args in expected.items():
        pod = pods[key]["pod"]
        base = containers(pod)["base"]
        assert base["image"] == DBT_IMAGE, key
        assert (base["command"], base["args"]) == (["civiclake"], args), key
        assert base["resources"] == chart_values["pipeline"]["dbt"]["resources"], key
        env = {item["name"]: item.get("value") for item in base["env"]}
        assert (env["TRINO_HOST"], env["TRINO_PORT"], env["DBT_TARGET"]) == ("civiclake-trino", "8080", "trino"), key
        assert pod["metadata"]["labels"]["civiclake.io/task"] == "dbt"


def test_every_pod_runs_as_the_pipeline_account_non_root_with_ids_of_its_run(pods: dict[str, Any]) -> None:
    for key, built in pods.items():
        pod = built["pod"]
        spec, labels = pod["spec"], pod["metadata"]["labels"]
        assert pod["metadata"]["namespace"] == "civiclake", key
        assert spec["serviceAccountName"] == "civiclake-pipeline" and spec["automountServiceAccountToken"] is False
        assert spec["restartPolicy"] == "Never" and spec["activeDeadlineSeconds"] == 14400
        assert spec["securityContext"] == {
            "fsGroup": 10001,
            "runAsGroup": 10001,
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True, key
            assert context["capabilities"] == {"drop": ["ALL"]}, key
        dag_id, task = key.split(".")
        assert labels["dag_id"] == dag_id and labels["task_id"] == task.split("[")[0], key
        assert labels["run_id"].startswith("manual__2026-01-01") and labels["try_number"] == "1"
        if "[" in task:
            assert labels["map_index"] == task.split("[")[1].rstrip("]")
        assert set(containers(pod)) == {"base", "airflow-xcom-sidecar"}, "do_xcom_push: the summary comes back"
        assert {"name": "xcom", "mountPath": "/airflow/xcom"} in containers(pod)["base"]["volumeMounts"]


def test_credentials_come_only_from_kubernetes_secrets(pods: dict[str, Any]) -> None:
    for key, built in pods.items():
        base = containers(built["pod"])["base"]
        for variable in base["env"]:
            if any(word in variable["name"] for word in SECRET_WORDS):
                assert "value" not in variable and "secretKeyRef" in variable["valueFrom"], (key, variable["name"])
        references = {item["valueFrom"]["secretKeyRef"]["name"] for item in base["env"] if "valueFrom" in item}
        assert references == {"civiclake-s3-credentials", "civiclake-pg-credentials", "civiclake-privacy"}, key
        secrets = [item["secretRef"]["name"] for item in base.get("envFrom", []) if "secretRef" in item]
        family = key.split("_sync")[0] if "_sync" in key else None
        expected = {
            "shopstream": ["civiclake-shopstream-credentials"],
            "incidents": ["civiclake-incidents-credentials"],
        }
        assert secrets == expected.get(family or "", []), key

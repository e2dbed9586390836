"""What the chart gives Airflow: DAG settings, pod templates, and least-privilege rights to run pipeline pods."""

from __future__ import annotations

import yaml

from .conftest import CHART, RELEASE, find, one, pod_templates, rendered_scenario


def test_dag_factory_variables_and_trino_connection() -> None:
    data = one(rendered_scenario("default"), "ConfigMap", f"{RELEASE}-airflow-civiclake")["data"]
    assert data["AIRFLOW_VAR_CIVICLAKE_NAMESPACE"] == "civiclake"
    assert data["AIRFLOW_VAR_CIVICLAKE_SERVICE_ACCOUNT"] == f"{RELEASE}-pipeline"
    assert data["AIRFLOW_VAR_CIVICLAKE_INGEST_IMAGE"] == "ghcr.io/civiclake/ingest:0.1.0"
    assert data["AIRFLOW_VAR_CIVICLAKE_DBT_IMAGE"] == "ghcr.io/civiclake/dbt:0.1.0"
    assert data["AIRFLOW_VAR_CIVICLAKE_POD_TEMPLATE_INGEST"] == "/opt/civiclake/pod-templates/ingest.yaml"
    assert data["AIRFLOW_VAR_CIVICLAKE_POD_TEMPLATE_DBT"] == "/opt/civiclake/pod-templates/dbt.yaml"
    assert data["AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG"] == "4"
    assert data["AIRFLOW_CONN_TRINO_DEFAULT"] == f"trino://airflow@{RELEASE}-trino:8080/iceberg?protocol=http"
    k3s = one(rendered_scenario("k3s-single-node"), "ConfigMap", f"{RELEASE}-airflow-civiclake")["data"]
    assert k3s["AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG"] == "2"


def test_pod_templates_are_mounted_where_the_variables_say() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    # The scheduler runs the tasks with LocalExecutor, the KubernetesExecutor worker pods with KubernetesExecutor.
    for section in (values["airflow"]["scheduler"], values["airflow"]["workers"]["kubernetes"]):
        (mount,) = section["extraVolumeMounts"]
        assert mount["mountPath"] == values["airflowIntegration"]["podTemplatesMountPath"]
        (volume,) = section["extraVolumes"]
        assert volume["configMap"]["name"] == "{{ .Release.Name }}-pipeline-pod-templates"
    assert find(rendered_scenario("default"), "ConfigMap", f"{RELEASE}-pipeline-pod-templates")
    assert "-airflow-civiclake" in values["airflow"]["extraEnvFrom"]


def test_pipeline_pod_templates_fit_kubernetes_pod_operator() -> None:
    pods = {p["metadata"]["labels"]["civiclake.io/task"]: p for p in pod_templates(rendered_scenario("default"))}
    assert set(pods) == {"ingest", "dbt"}
    for pod in pods.values():
        (container,) = pod["spec"]["containers"]
        assert container["name"] == "base", "KubernetesPodOperator's main container is named base"
        assert pod["spec"]["serviceAccountName"] == f"{RELEASE}-pipeline"
        assert pod["spec"]["restartPolicy"] == "Never"
    assert pods["ingest"]["spec"]["containers"][0]["command"] == ["civiclake"]
    dbt = pods["dbt"]["spec"]["containers"][0]
    assert dbt["command"] == ["dbt"] and dbt["args"] == ["build", "--target", "trino"]
    env = {e["name"]: e.get("value") for e in dbt["env"]}
    assert (env["TRINO_HOST"], env["TRINO_PORT"], env["TRINO_CATALOG"]) == (f"{RELEASE}-trino", "8080", "iceberg")


def test_launcher_role_grants_only_what_kubernetes_pod_operator_uses() -> None:
    objects = rendered_scenario("default")
    role = one(objects, "Role", f"{RELEASE}-pipeline-launcher")
    granted = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    assert granted == {
        ("pods", "create"),
        ("pods", "get"),
        ("pods", "list"),
        ("pods", "watch"),
        ("pods", "patch"),
        ("pods", "delete"),
        ("pods/log", "get"),
        ("pods/exec", "create"),  # do_xcom_push: the operator reads the summary from the xcom sidecar
        ("pods/exec", "get"),
        ("events", "list"),
    }
    binding = one(objects, "RoleBinding", f"{RELEASE}-pipeline-launcher")
    # LocalExecutor: the tasks, hence KubernetesPodOperator, run in the scheduler pod (see test_upstream_charts.py).
    assert [s["name"] for s in binding["subjects"]] == ["civiclake-airflow-scheduler"]
    account = one(objects, "ServiceAccount", f"{RELEASE}-pipeline")
    assert account["automountServiceAccountToken"] is False
    assert not find(objects, "ClusterRole") and not find(objects, "ClusterRoleBinding")


def test_airflow_database_is_created_at_postgresql_first_start() -> None:
    script = one(rendered_scenario("default"), "ConfigMap", "civiclake-postgresql-initdb")["data"][
        "10-civiclake-airflow-database.sh"
    ]
    assert "CREATE ROLE %I LOGIN PASSWORD %L" in script and "\\gexec" in script
    assert '-v password="$CIVICLAKE_AIRFLOW_DB_PASSWORD"' in script
    assert not find(rendered_scenario("production"), "ConfigMap", "civiclake-postgresql-initdb")


def test_airflow_initdb_script_is_valid_bash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    script = one(rendered_scenario("default"), "ConfigMap", "civiclake-postgresql-initdb")["data"][
        "10-civiclake-airflow-database.sh"
    ]
    path = tmp_path / "initdb.sh"
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)
    subprocess.run(["shellcheck", "--shell=bash", str(path)], check=True)

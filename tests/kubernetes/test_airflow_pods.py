"""Airflow's real KubernetesPodOperator, in the DAGs' ``kubernetes`` mode, creates the pipeline pods on the API
server with the launcher ServiceAccount's token (not the admin's), configured as the chart configures Airflow:
its Variables from the ConfigMap the chart installs, its pod templates from the chart's ConfigMap.

No kubelet runs, so a pod never starts: the test reads the pod the operator created, checks it, then stops the
run (the operator would otherwise wait for its startup timeout); the killed task deletes its pod.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from civiclake.servers import chart
from civiclake.servers.kubernetes import KubernetesServer
from civiclake.servers.process import wait_until
from tests.dags.conftest import AIRFLOW_VENV, DAGS, make_runner
from tests.kubernetes.helm import Installed
from tests.kubernetes.pods import account_kubeconfig, config_map, pod_templates, pods

POD_WAIT_SECONDS = 300
REGISTRY = """\
datagouv:
  datasets:
    - id: 581c510f9f9d1d436acab664
      name: gares
orchestration:
  retries: 0
"""


def airflow_variables(server: KubernetesServer, release: Installed, templates_dir: Path) -> dict[str, str]:
    """The environment the chart gives Airflow's containers, with the pod templates at a local path."""
    variables = config_map(server, release, "-airflow-civiclake")
    templates_dir.mkdir()
    for task, template in pod_templates(server, release).items():
        path = templates_dir / f"{task}.yaml"
        path.write_text(config_map(server, release, "-pipeline-pod-templates")[f"{task}.yaml"])
        assert template["kind"] == "Pod"
        variables[f"AIRFLOW_VAR_CIVICLAKE_POD_TEMPLATE_{task.upper()}"] = str(path)
    return variables


def wait_for_pod(server: KubernetesServer, namespace: str, dag_id: str, run: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + POD_WAIT_SECONDS
    while time.monotonic() < deadline:
        found = pods(server, namespace, f"dag_id={dag_id}")
        if found:
            return found[0]
        if run.poll() is not None:
            output, _ = run.communicate()
            raise AssertionError(f"`airflow dags test {dag_id}` ended without creating a pod:\n{output[-6000:]}")
        time.sleep(1)
    raise AssertionError(f"no pod of {dag_id} after {POD_WAIT_SECONDS} s")


def stop(run: subprocess.Popen[str]) -> str:
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
    output, _ = run.communicate()
    return output


@pytest.mark.parametrize(("dag_id", "task"), [("datagouv_sync", "ingest"), ("warehouse_build", "dbt")])
def test_kubernetes_pod_operator_creates_the_pipeline_pod_with_the_launcher_token(
    kubernetes_api: KubernetesServer, release: Installed, tmp_path: Path, dag_id: str, task: str
) -> None:
    if not (AIRFLOW_VENV / "bin" / "airflow").is_file():
        pytest.fail("the Airflow virtualenv is missing: run `make airflow-venv` (make test builds it)")
    airflow = make_runner(tmp_path)
    registry = tmp_path / "datasets.yaml"
    registry.write_text(REGISTRY)
    variables = airflow_variables(kubernetes_api, release, tmp_path / "pod-templates")
    assert variables["AIRFLOW_VAR_CIVICLAKE_EXECUTION_MODE"] == "kubernetes"
    airflow.env.update(variables)
    airflow.env["CIVICLAKE__REGISTRY__PATH"] = str(registry)
    airflow.env["KUBECONFIG"] = str(account_kubeconfig(kubernetes_api, release, release.launchers[0], tmp_path))
    for step in (("db", "migrate"), ("pools", "import", str(DAGS / "pools.json"))):
        result = airflow.airflow(*step)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    run = subprocess.Popen(
        [str(AIRFLOW_VENV / "bin" / "airflow"), "dags", "test", dag_id],
        env=airflow.env,
        cwd=airflow.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # stopped as a group: the task runs in a child process
    )
    try:
        pod = wait_for_pod(kubernetes_api, release.namespace, dag_id, run)
    finally:
        output = stop(run)

    assert pod["status"]["phase"] == "Pending", output[-3000:]
    spec = pod["spec"]
    assert spec["serviceAccountName"] == variables["AIRFLOW_VAR_CIVICLAKE_SERVICE_ACCOUNT"] == "civiclake-pipeline"
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
    base = next(container for container in spec["containers"] if container["name"] == "base")
    assert base["image"] == variables[f"AIRFLOW_VAR_CIVICLAKE_{task.upper()}_IMAGE"]
    assert base["command"] == ["civiclake"]
    assert base["securityContext"]["readOnlyRootFilesystem"] is True
    assert base["securityContext"]["allowPrivilegeEscalation"] is False
    # The settings come from the chart's ConfigMap, the credentials from the Secrets the install expects.
    env_from = [source["configMapRef"]["name"] for source in base["envFrom"] if "configMapRef" in source]
    assert "civiclake-pipeline-env" in env_from
    secret_refs = {
        variable["name"]: (variable["valueFrom"]["secretKeyRef"]["name"], variable["valueFrom"]["secretKeyRef"]["key"])
        for variable in base["env"]
        if "secretKeyRef" in variable.get("valueFrom", {})
    }
    values = chart.chart_values()
    s3, catalog, privacy = values["s3"], values["catalog"], values["privacy"]
    assert secret_refs == {
        "CIVICLAKE__S3__ACCESS_KEY_ID": (s3["existingSecret"], s3["accessKeyIdKey"]),
        "CIVICLAKE__S3__SECRET_ACCESS_KEY": (s3["existingSecret"], s3["secretAccessKeyKey"]),
        "ICEBERG_CATALOG_PASSWORD": (catalog["existingSecret"], catalog["passwordKey"]),
        "CIVICLAKE__PRIVACY__PSEUDONYMISATION_KEY": (privacy["existingSecret"], privacy["keyKey"]),
    }
    # Each of them is a Secret on the server (created before the install, as a real install does).
    for name, key in secret_refs.values():
        secret = kubernetes_api.request("GET", f"/api/v1/namespaces/{release.namespace}/secrets/{name}")
        assert key in secret["data"]
    # Stopping the run killed the task: the operator deleted its pod, with the launcher's token.
    name = pod["metadata"]["name"]
    wait_until(
        lambda: all(p["metadata"]["name"] != name for p in pods(kubernetes_api, release.namespace, f"dag_id={dag_id}")),
        30,
        f"deletion of pod {name}",
        lambda: output[-3000:],
    )

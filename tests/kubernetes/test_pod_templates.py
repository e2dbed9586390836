"""The chart's pipeline pod templates (the files KubernetesPodOperator starts from) make pods the API server
accepts, created by the launcher's own token; the pipeline pods' account cannot create them. Without a kubelet
the pods stay Pending."""

from __future__ import annotations

from pathlib import Path

import pytest

from civiclake.servers.kubernetes import KubernetesServer
from tests.kubernetes.helm import Installed
from tests.kubernetes.pods import account_kubeconfig, create_as, pod_templates


@pytest.mark.parametrize("task", ["ingest", "dbt"])
def test_the_pod_template_creates_a_pod_with_the_launcher_token(
    kubernetes_api: KubernetesServer, release: Installed, tmp_path: Path, task: str
) -> None:
    template = pod_templates(kubernetes_api, release)[task]
    template["metadata"]["name"] = f"template-check-{task}"
    kubeconfig = account_kubeconfig(kubernetes_api, release, release.launchers[0], tmp_path)

    code, output = create_as(kubernetes_api, kubeconfig, template)
    assert code == 0, output
    assert output.strip() == f"pod/template-check-{task}"

    pod = kubernetes_api.request("GET", f"/api/v1/namespaces/civiclake/pods/template-check-{task}")
    assert pod["status"]["phase"] == "Pending"
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "civiclake-pipeline"
    assert spec["automountServiceAccountToken"] is False
    # No projected ServiceAccount token was added by admission: the pod cannot call the API.
    assert not [volume for volume in spec["volumes"] if "projected" in volume]
    assert spec["securityContext"]["runAsNonRoot"] is True
    (base,) = spec["containers"]
    assert base["name"] == "base"
    assert base["securityContext"]["readOnlyRootFilesystem"] is True
    assert base["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert base["image"] == f"ghcr.io/civiclake/{task}:0.1.0"

    deleted = kubernetes_api.kubectl_run(
        "delete", "pod", f"template-check-{task}", "--wait=false", kubeconfig=kubeconfig
    )
    assert deleted.returncode == 0, deleted.stderr


def test_the_pipeline_account_cannot_create_pods(
    kubernetes_api: KubernetesServer, release: Installed, tmp_path: Path
) -> None:
    template = pod_templates(kubernetes_api, release)["ingest"]
    template["metadata"]["name"] = "forbidden-pipeline-pod"
    kubeconfig = account_kubeconfig(kubernetes_api, release, "civiclake-pipeline", tmp_path)

    code, output = create_as(kubernetes_api, kubeconfig, template)
    assert code != 0
    assert "forbidden" in output.lower() and 'cannot create resource "pods"' in output, output

"""Least privilege, proven with `kubectl auth can-i` against the real RBAC authorizer: the account Airflow tasks
run as can run pipeline pods in the release namespace and nothing else; the pipeline pods' account has no rights."""

from __future__ import annotations

import pytest

from civiclake.servers.kubernetes import KubernetesServer
from tests.kubernetes.helm import Installed

# What every authenticated identity may do on any cluster (discovery, asking about its own rights).
SELF_REVIEWS = {
    "selfsubjectaccessreviews.authorization.k8s.io",
    "selfsubjectrulesreviews.authorization.k8s.io",
    "selfsubjectreviews.authentication.k8s.io",
}


def can(server: KubernetesServer, account: str, *request: str, namespace: str = "civiclake") -> bool:
    result = server.kubectl_run("auth", "can-i", *request, "-n", namespace, f"--as={account}")
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stdout + result.stderr
    return answer == "yes"


def service_account(release: Installed, name: str) -> str:
    return f"system:serviceaccount:{release.namespace}:{name}"


@pytest.fixture(scope="module")
def launcher(release: Installed) -> str:
    # The default values run Airflow's LocalExecutor: tasks run in the scheduler, as its account.
    assert release.launchers == ["civiclake-airflow-scheduler"]
    return service_account(release, release.launchers[0])


@pytest.mark.parametrize(
    "request_",
    [
        ("create", "pods"),
        ("get", "pods"),
        ("list", "pods"),
        ("watch", "pods"),
        ("delete", "pods"),
        ("get", "pods/log"),
        ("create", "pods/exec"),
        ("list", "events"),
    ],
    ids=" ".join,
)
def test_the_pod_launcher_can_run_pipeline_pods_in_its_namespace(
    kubernetes_api: KubernetesServer, launcher: str, request_: tuple[str, str]
) -> None:
    assert can(kubernetes_api, launcher, *request_)


@pytest.mark.parametrize(
    ("request_", "namespace"),
    [
        (("create", "pods"), "default"),
        (("get", "pods/log"), "kube-system"),
        (("list", "secrets"), "civiclake"),
        (("get", "secrets"), "civiclake"),
        (("update", "configmaps"), "civiclake"),
        (("create", "deployments.apps"), "civiclake"),
        (("create", "jobs.batch"), "civiclake"),
        (("create", "rolebindings.rbac.authorization.k8s.io"), "civiclake"),
        (("patch", "roles.rbac.authorization.k8s.io"), "civiclake"),
        (("create", "serviceaccounts/token"), "civiclake"),
        (("list", "nodes"), "civiclake"),
        (("create", "namespaces"), "civiclake"),
        (("list", "clusterroles.rbac.authorization.k8s.io"), "civiclake"),
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(value),
)
def test_the_pod_launcher_has_no_right_beyond_pipeline_pods(
    kubernetes_api: KubernetesServer, launcher: str, request_: tuple[str, str], namespace: str
) -> None:
    assert not can(kubernetes_api, launcher, *request_, namespace=namespace)


def test_the_pod_launcher_cannot_list_pods_cluster_wide(kubernetes_api: KubernetesServer, launcher: str) -> None:
    result = kubernetes_api.kubectl_run("auth", "can-i", "list", "pods", "--all-namespaces", f"--as={launcher}")
    assert result.stdout.strip() == "no", result.stdout + result.stderr


def granted_resources(server: KubernetesServer, account: str, namespace: str) -> set[str]:
    """The resources ``account`` has any verb on in ``namespace`` (`kubectl auth can-i --list`)."""
    result = server.kubectl_run("auth", "can-i", "--list", "-n", namespace, f"--as={account}", "--no-headers")
    assert result.returncode == 0, result.stderr
    # Rows of non-resource URLs (/healthz, /version, discovery: every identity's) have no resource column.
    first_columns = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    return {column for column in first_columns if not column.startswith("[")}


def test_the_pod_launcher_rights_are_exactly_pods_logs_exec_and_events(
    kubernetes_api: KubernetesServer, release: Installed, launcher: str
) -> None:
    granted = granted_resources(kubernetes_api, launcher, release.namespace) - SELF_REVIEWS
    assert granted == {"pods", "pods/log", "pods/exec", "events"}
    assert granted_resources(kubernetes_api, launcher, "default") == SELF_REVIEWS


def test_the_pipeline_pods_account_has_no_api_rights(kubernetes_api: KubernetesServer, release: Installed) -> None:
    (account,) = [o for o in release.objects if o["kind"] == "ServiceAccount"]
    assert account["automountServiceAccountToken"] is False
    pipeline = service_account(release, account["metadata"]["name"])
    assert granted_resources(kubernetes_api, pipeline, release.namespace) == SELF_REVIEWS
    for request in (("get", "pods"), ("create", "pods"), ("get", "configmaps"), ("get", "secrets")):
        assert not can(kubernetes_api, pipeline, *request)

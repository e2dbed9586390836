"""`helm install` of the chart on a real API server: every object it renders is created (schemas, admission and
RBAC of the server k3s runs), and `helm uninstall` removes them all."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from civiclake.servers import chart
from civiclake.servers.kubernetes import KubernetesServer
from civiclake.servers.stack import ClusterServers
from tests.kubernetes.helm import (
    Installed,
    hook_objects,
    install_release,
    live_objects,
    remaining_objects,
    uninstall_release,
)


def identities(objects: list[dict]) -> list[tuple[str, str]]:
    return sorted((obj["kind"], obj["metadata"]["name"]) for obj in objects)


def test_every_object_of_the_default_release_is_created_on_the_api_server(
    kubernetes_api: KubernetesServer, release: Installed
) -> None:
    live = live_objects(kubernetes_api, release)
    assert identities(live) == identities(release.objects)
    kinds = {obj["kind"] for obj in live}
    assert {"ConfigMap", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"} <= kinds
    for obj in live:
        assert obj["metadata"]["namespace"] == "civiclake"
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert obj["metadata"]["annotations"]["meta.helm.sh/release-name"] == chart.RELEASE


@pytest.mark.parametrize(
    ("values_file", "namespace"),
    [
        (None, "civiclake-default"),
        ("values-k3s-single-node.yaml", "civiclake-k3s"),
        ("values-production.yaml", "civiclake-production"),
    ],
)
def test_helm_install_creates_every_object_and_helm_uninstall_removes_them(
    kubernetes_api: KubernetesServer,
    cluster: ClusterServers,
    tmp_path: Path,
    values_file: str | None,
    namespace: str,
) -> None:
    installed = install_release(kubernetes_api, cluster, namespace, values_file, tmp_path)
    assert identities(live_objects(kubernetes_api, installed)) == identities(installed.objects)
    assert len(installed.objects) > 10

    uninstall_release(kubernetes_api, installed)
    assert remaining_objects(kubernetes_api, installed) == []
    # Helm's own record of the release goes too.
    secrets = kubernetes_api.request("GET", f"/api/v1/namespaces/{namespace}/secrets?labelSelector=owner%3Dhelm")
    assert secrets["items"] == []


def test_the_chart_hooks_are_accepted_by_the_api_server(
    kubernetes_api: KubernetesServer, release: Installed, tmp_path: Path
) -> None:
    hooks = hook_objects(release, tmp_path)
    assert {(hook["kind"], hook["metadata"]["annotations"]["helm.sh/hook"]) for hook in hooks} == {
        ("Job", "post-install,post-upgrade"),
        ("Pod", "test"),
    }
    manifest = tmp_path / "hooks.yaml"
    manifest.write_text(yaml.safe_dump_all(hooks))
    created = kubernetes_api.kubectl_run("create", "-f", str(manifest), "-n", release.namespace, "-o", "name")
    assert created.returncode == 0, created.stderr
    assert sorted(created.stdout.split()) == sorted(
        f"{hook['kind'].lower()}.{'batch' if hook['kind'] == 'Job' else ''}/{hook['metadata']['name']}".replace(
            "./", "/"
        )
        for hook in hooks
    )
    deleted = kubernetes_api.kubectl_run("delete", "-f", str(manifest), "-n", release.namespace, "--wait=false")
    assert deleted.returncode == 0, deleted.stderr

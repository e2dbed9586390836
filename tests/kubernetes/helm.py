"""The chart installed and uninstalled by Helm (helm-python-sdk: Helm's Go SDK, no helm binary) on the test API
server, with its dependencies off and ``external.*`` pointing at the cluster profile's servers.

The dependencies are not downloaded (their repositories are not reachable from CI) and Helm refuses to install a
chart whose Chart.yaml lists dependencies missing from charts/, so the chart is installed from a copy whose
Chart.yaml lists none: every template and value of civiclake's is the same. ``airflow.enabled`` can then stay on:
civiclake's own Airflow objects (the pod launcher's Role and RoleBinding, the Variables' ConfigMap) render, and
the Airflow chart's do not. The accounts the Airflow chart would create are created here.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from civiclake.servers import chart
from civiclake.servers.kubernetes import KubernetesServer
from civiclake.servers.stack import ClusterServers
from tests.deploy.conftest import deep_merge


@dataclass
class Installed:
    namespace: str
    values: dict[str, Any]
    objects: list[dict[str, Any]]
    manifest_file: Path
    # The ServiceAccounts bound to the pipeline launcher Role (the accounts Airflow tasks run as).
    launchers: list[str] = field(default_factory=list)

    def named(self, kind: str, suffix: str) -> dict[str, Any]:
        matches = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"].endswith(suffix)]
        assert len(matches) == 1, f"expected one {kind} *{suffix}, found {[o['metadata']['name'] for o in matches]}"
        return matches[0]


def release_values(cluster: ClusterServers, values_file: str | None) -> dict[str, Any]:
    site = yaml.safe_load((chart.chart_dir() / values_file).read_text()) if values_file else {}
    servers = chart.values_for_servers(
        s3_endpoint=cluster.minio.endpoint_url,
        postgresql_host="127.0.0.1",
        postgresql_port=cluster.postgres.port,
        trino_url=cluster.trino.url,
        trino_enabled=False,
    )
    return deep_merge(deep_merge(site, servers), {"airflow": {"enabled": True}})


def chart_without_dependencies(work: Path) -> Path:
    """A copy of charts/civiclake whose Chart.yaml lists no dependency (see the module's docstring)."""
    copy_dir = work / "civiclake-chart"
    shutil.copytree(chart.chart_dir(), copy_dir)
    metadata = yaml.safe_load((copy_dir / "Chart.yaml").read_text())
    metadata.pop("dependencies")
    (copy_dir / "Chart.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False))
    return copy_dir


def helm_config(server: KubernetesServer, namespace: str) -> Any:
    import helm_python

    helm_python.disable_logging()
    return helm_python.Config(kubeconfig_path=server.kubeconfig, namespace=namespace)


def install_release(
    server: KubernetesServer, cluster: ClusterServers, namespace: str, values_file: str | None, work: Path
) -> Installed:
    """Namespace, the Secrets a real install creates first (docs/deploy.md), then `helm install`."""
    import helm_python

    server.create_namespace(namespace)
    for name, data in cluster.secrets.items():
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}
        server.request("POST", f"/api/v1/namespaces/{namespace}/secrets", secret)
    values = release_values(cluster, values_file)
    chart_copy = chart_without_dependencies(work)
    with helm_config(server, namespace) as config:
        release = install_without_hooks(config, helm_python.Chart.load(chart_copy), values, namespace)
    manifest = str(release["manifest"])
    manifest_file = work / "manifest.yaml"
    manifest_file.write_text(manifest)
    objects = [document for document in yaml.safe_load_all(manifest) if document]
    installed = Installed(namespace, values, objects, manifest_file)
    bindings = [o for o in objects if o["kind"] == "RoleBinding" and o["metadata"]["name"].endswith("-launcher")]
    installed.launchers = [s["name"] for b in bindings for s in b["subjects"] if s["kind"] == "ServiceAccount"]
    for account in installed.launchers:
        # The Airflow chart's scheduler or worker account, which the Airflow chart (not installed here) creates.
        server.create_service_account(namespace, account)
    return installed


def install_without_hooks(config: Any, loaded_chart: Any, values: dict[str, Any], namespace: str) -> dict[str, Any]:
    """`helm install --no-hooks`. Helm waits for a post-install hook Job to complete, which needs a kubelet; the
    hooks are created separately (``hook_objects``). helm-python-sdk's ``Config.install`` has no parameter for it,
    so its native call is made with the option Helm's SDK reads (``disable_hooks``)."""
    from helm_python import _native
    from helm_python.config import _opts

    options = _opts(namespace=namespace, timeout_seconds=120, disable_hooks=True)
    payload = _native.call_string(
        "helm_install", config._raw(), config._context_arg(None), loaded_chart._raw(), None, chart.RELEASE,
        json.dumps(values), options,
    )  # fmt: skip
    return dict(json.loads(payload))


def hook_objects(installed: Installed, work: Path) -> list[dict[str, Any]]:
    """The chart's hooks (the bootstrap Job, the `helm test` pod) rendered with the release's values."""
    import helm_python

    rendered = helm_python.Chart.load(chart_without_dependencies(work)).render(
        installed.values, name=chart.RELEASE, namespace=installed.namespace
    )
    documents = [doc for name, text in rendered.items() if name.endswith(".yaml") for doc in yaml.safe_load_all(text)]
    return [doc for doc in documents if doc and "helm.sh/hook" in (doc["metadata"].get("annotations") or {})]


def uninstall_release(server: KubernetesServer, installed: Installed) -> None:
    with helm_config(server, installed.namespace) as config:
        config.uninstall(chart.RELEASE, timeout=120)


def remaining_objects(server: KubernetesServer, installed: Installed) -> list[str]:
    """Every object of the release's manifest still on the server, as kind/name."""
    result = server.kubectl_run(
        "get", "-f", str(installed.manifest_file), "-n", installed.namespace, "--ignore-not-found", "-o", "name"
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def live_objects(server: KubernetesServer, installed: Installed) -> list[dict[str, Any]]:
    result = server.kubectl_run("get", "-f", str(installed.manifest_file), "-n", installed.namespace, "-o", "json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout)["items"])

"""Pipeline pods on the test API server: the chart's pod templates and the identities that create them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from civiclake.servers.kubernetes import KubernetesServer
from tests.kubernetes.helm import Installed


def config_map(server: KubernetesServer, installed: Installed, suffix: str) -> dict[str, str]:
    name = installed.named("ConfigMap", suffix)["metadata"]["name"]
    live = server.request("GET", f"/api/v1/namespaces/{installed.namespace}/configmaps/{name}")
    return dict(live["data"])


def pod_templates(server: KubernetesServer, installed: Installed) -> dict[str, dict[str, Any]]:
    """The pod templates as stored on the server (the ConfigMap Airflow mounts), by task kind."""
    data = config_map(server, installed, "-pipeline-pod-templates")
    return {name.removesuffix(".yaml"): yaml.safe_load(text) for name, text in data.items()}


def account_kubeconfig(server: KubernetesServer, installed: Installed, account: str, directory: Path) -> Path:
    """A kubeconfig holding only a token of ``account`` (what Airflow's pods authenticate with)."""
    token = server.service_account_token(installed.namespace, account)
    return server.write_token_kubeconfig(directory / f"{account}.kubeconfig", token, installed.namespace)


def pods(server: KubernetesServer, namespace: str, selector: str) -> list[dict[str, Any]]:
    answer = server.request("GET", f"/api/v1/namespaces/{namespace}/pods?labelSelector={selector}")
    return list(answer["items"])


def create_as(server: KubernetesServer, kubeconfig: Path, manifest: dict[str, Any]) -> tuple[int, str]:
    """`kubectl create` of ``manifest`` with ``kubeconfig``'s identity: (exit code, output)."""
    path = kubeconfig.with_suffix(f".{manifest['metadata']['name']}.json")
    path.write_text(json.dumps(manifest))
    result = server.kubectl_run("create", "-f", str(path), "-o", "name", kubeconfig=kubeconfig)
    return result.returncode, result.stdout + result.stderr

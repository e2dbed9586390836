"""Tests on a real Kubernetes API server (etcd + kube-apiserver of the k3s minor, built once into the cache): the
chart installed by Helm, its RBAC checked with kubectl, its pod templates and Airflow's KubernetesPodOperator
creating pods. No kubelet runs: pods are accepted and stored, and stay Pending."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from civiclake.servers.kubernetes import KubernetesServer, running_kubernetes
from civiclake.servers.stack import ClusterServers
from tests.kubernetes.helm import Installed, install_release, uninstall_release
from tests.servers.debian import ensure_debian_packages


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test here starts real servers (a conftest's own pytestmark would mark nothing).
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kubernetes_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubernetesServer]:
    ensure_debian_packages(["etcd-server"], ["/usr/bin/etcd"])
    with running_kubernetes(tmp_path_factory.mktemp("kubernetes")) as server:
        yield server


@pytest.fixture(scope="session")
def release(
    kubernetes_api: KubernetesServer, cluster: ClusterServers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Installed]:
    """The chart with its default values, installed by Helm into namespace ``civiclake`` once per test run."""
    installed = install_release(kubernetes_api, cluster, "civiclake", None, tmp_path_factory.mktemp("release"))
    yield installed
    uninstall_release(kubernetes_api, installed)

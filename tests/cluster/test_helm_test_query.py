"""The chart's `helm test` pod, run here: its own shell script, its own environment, the trino CLI of the version the
chart deploys, against the launcher's Trino. A script that passed against any server would prove nothing, so it must
also fail where no Trino listens."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

from civiclake.servers import chart
from civiclake.servers.process import free_tcp_port
from civiclake.servers.stack import ClusterServers

POD_SUFFIX = "-test-trino-query"


def helm_test_container(cluster: ClusterServers) -> dict[str, Any]:
    [pod] = [
        obj for obj in cluster.objects if obj.get("kind") == "Pod" and obj["metadata"]["name"].endswith(POD_SUFFIX)
    ]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    [container] = pod["spec"]["containers"]
    return dict(container)


def trino_on_path(cluster: ClusterServers, folder: Path) -> Path:
    """A `trino` executable, as the pod's image has one: the CLI jar of the chart's Trino version."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "trino"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(cluster.trino.install.cli_command())} "$@"\n')
    wrapper.chmod(0o755)
    return folder


def run_pod_script(cluster: ClusterServers, tmp_path: Path, trino_url: str) -> subprocess.CompletedProcess[str]:
    container = helm_test_container(cluster)
    pod_env = {item["name"]: item["value"] for item in container["env"]}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        # The pod's variables (JAVA_TOOL_OPTIONS sizes the CLI's heap as in the pod), HOME and TRINO_URL ours.
        **pod_env,
        "HOME": str(home),
        "TRINO_URL": trino_url,
        "PATH": f"{trino_on_path(cluster, tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}",
    }
    # The container's command is ["/bin/sh", "-c"] and its first argument the script: run exactly that.
    return subprocess.run(
        [*container["command"], container["args"][0]],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def test_the_helm_test_pod_points_at_the_trino_of_the_release(cluster: ClusterServers) -> None:
    container = helm_test_container(cluster)
    assert container["command"] == ["/bin/sh", "-c"]
    assert {item["name"]: item.get("value") for item in container["env"]}["TRINO_URL"] == cluster.trino.url
    assert "trino --server" in container["args"][0]


def test_the_helm_test_script_finds_the_bootstrapped_namespaces_through_trino(
    cluster: ClusterServers, tmp_path: Path
) -> None:
    expected = len(chart.chart_values()["bootstrap"]["namespaces"])

    result = run_pod_script(cluster, tmp_path, cluster.trino.url)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"iceberg namespaces found: {expected} (expected {expected})"]


def test_the_helm_test_script_fails_when_no_trino_answers(cluster: ClusterServers, tmp_path: Path) -> None:
    port = free_tcp_port()

    result = run_pod_script(cluster, tmp_path, f"http://127.0.0.1:{port}")

    assert result.returncode != 0
    # `set -eu` stops the script at the failed query: it never reports a count.
    assert "namespaces found" not in result.stdout
    # ... and it failed for the right reason: the CLI could not reach a server, not a broken wrapper.
    assert f"Failed to connect to /127.0.0.1:{port}" in result.stderr, result.stderr

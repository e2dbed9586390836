"""scripts/ for a person with a real cluster: shellcheck clean, usable help, and dry runs that touch nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import CHART, REPO

SCRIPTS = [REPO / "scripts" / name for name in ("k3s-bootstrap.sh", "install.sh", "smoke.sh")]


def _shellcheck() -> str:
    """shellcheck from the system, else install it (Debian package) rather than skip."""
    found = shutil.which("shellcheck")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, capture_output=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "shellcheck"], check=True, capture_output=True, env=env
    )
    found = shutil.which("shellcheck")
    assert found, "shellcheck could not be installed"
    return found


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    # PATH without helm/kubectl/k3s so that a dry run proves it needs none of them.
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_clean(script: Path) -> None:
    result = subprocess.run([_shellcheck(), "--shell=bash", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    assert os.access(script, os.X_OK), f"{script.name} is not executable"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script.read_text()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_and_unknown_option(script: Path) -> None:
    result = _run(script, "--help")
    assert result.returncode == 0 and "Options:" in result.stdout, result.stderr
    assert _run(script, "--no-such-option").returncode == 2


def test_k3s_bootstrap_dry_run_prints_the_plan() -> None:
    result = _run(REPO / "scripts" / "k3s-bootstrap.sh", "--dry-run", "--version", "v1.33.1+k3s1")
    assert result.returncode == 0, result.stderr
    assert "INSTALL_K3S_VERSION=v1.33.1+k3s1" in result.stdout
    assert "--secrets-encryption" in result.stdout
    assert f"kubectl apply -f {REPO}/k8s/k3s/" in result.stdout


def test_install_dry_run_builds_dependencies_and_installs_with_the_values_file() -> None:
    values = CHART / "values-production.yaml"
    result = _run(REPO / "scripts" / "install.sh", "--dry-run", "--values", values, "-n", "lake", "-r", "lake")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    commands = [line[2:] for line in lines if line.startswith("+ ")]
    assert f"helm dependency build {CHART}" in commands
    install = next(c for c in commands if c.startswith("helm upgrade --install"))
    assert f"lake {CHART} --namespace lake --wait" in install and f"--values {values}" in install
    assert "secrets.generate" not in install
    assert any(c.startswith("helm test lake") for c in commands)
    # Every dependency repository of Chart.yaml that is not OCI is added.
    import yaml

    for dependency in yaml.safe_load((CHART / "Chart.yaml").read_text())["dependencies"]:
        if not dependency["repository"].startswith("oci://"):
            assert any(dependency["repository"] in c for c in commands if c.startswith("helm repo add")), dependency


def test_install_refuses_a_missing_values_file() -> None:
    result = _run(REPO / "scripts" / "install.sh", "--dry-run", "--values", "/nonexistent.yaml")
    assert result.returncode == 2 and "values file not found" in result.stdout


def test_smoke_checks_pods_trino_airflow_and_prometheus() -> None:
    text = (REPO / "scripts" / "smoke.sh").read_text()
    for needle in (
        'kubectl -n "${NAMESPACE}" wait --for=condition=Ready',
        "import trino",
        "SELECT 1",
        "information_schema.tables",
        "/api/v2/monitor/health",
        'up{job=~"civiclake.*|prometheus-pushgateway"}',
    ):
        assert needle in text, needle


def test_smoke_python_snippets_compile() -> None:
    text = (REPO / "scripts" / "smoke.sh").read_text()
    snippets = text.split("<<'PY'")[1:]
    assert len(snippets) == 3
    for snippet in snippets:
        body = snippet.split("\n", 1)[1].split("\nPY\n")[0]  # skip the rest of the heredoc's command line
        compile(body, "smoke-snippet", "exec")


def test_smoke_job_names_match_the_prometheus_scrape_config() -> None:
    import yaml

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    jobs = [job["job_name"] for job in yaml.safe_load(values["prometheus"]["extraScrapeConfigs"])]
    assert jobs and all(job.startswith("civiclake") for job in jobs)

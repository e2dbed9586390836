"""The DAGs run in their own virtualenv (.venv-airflow, `make airflow-venv`): these fixtures drive it from pytest.

Airflow is never imported here. Each check runs ``tests/dags/airflow_probe.py`` or the ``airflow`` command of
that venv in a subprocess, with a throwaway AIRFLOW_HOME and a dummy kubeconfig (KubernetesPodOperator wants one
to build a pod; nothing connects to it). No PYTHONPATH: Airflow itself puts the DAGs folder on sys.path.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
AIRFLOW_VENV = REPO / ".venv-airflow"
PROBE = Path(__file__).with_name("airflow_probe.py")
PROBE_MARKER = "=====PROBE-JSON====="
DAG_IDS = {"datagouv_sync", "shopstream_sync", "olist_sync", "incidents_sync", "warehouse_build", "lake_maintenance"}

DUMMY_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
  - name: nowhere
    cluster: {server: "https://127.0.0.1:1"}
users:
  - name: nobody
    user: {token: not-a-token}
contexts:
  - name: nowhere
    context: {cluster: nowhere, user: nobody, namespace: civiclake}
current-context: nowhere
"""


@dataclass
class AirflowRunner:
    """Runs the Airflow venv's Python and CLI with one test's environment."""

    home: Path
    env: dict[str, str]

    def run(
        self, argv: list[str], *, timeout: float = 300, extra_env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.home,
            check=False,
        )

    def airflow(
        self, *arguments: str, timeout: float = 300, extra_env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run([str(AIRFLOW_VENV / "bin" / "airflow"), *arguments], timeout=timeout, extra_env=extra_env)

    def probe(self, command: str, *arguments: str, extra_env: Mapping[str, str] | None = None) -> Any:
        return self.probe_with_output(command, *arguments, extra_env=extra_env)[0]

    def probe_with_output(
        self, command: str, *arguments: str, extra_env: Mapping[str, str] | None = None
    ) -> tuple[Any, str]:
        """The probe's JSON answer, and everything it printed before (Airflow's logs)."""
        result = self.run([str(AIRFLOW_VENV / "bin" / "python"), str(PROBE), command, *arguments], extra_env=extra_env)
        if result.returncode != 0 or PROBE_MARKER not in result.stdout:
            raise AssertionError(
                f"probe {command} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        output, answer = result.stdout.split(PROBE_MARKER, 1)
        return json.loads(answer), output + result.stderr


@pytest.fixture(scope="session")
def airflow_venv() -> Path:
    if not (AIRFLOW_VENV / "bin" / "airflow").is_file():
        pytest.fail("the Airflow virtualenv is missing: run `make airflow-venv` (make test builds it)")
    return AIRFLOW_VENV


def make_runner(directory: Path) -> AirflowRunner:
    """A clean Airflow environment: no examples, the repository's DAGs, the registry the images ship."""
    home = directory / "airflow-home"
    home.mkdir()
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(DUMMY_KUBECONFIG)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW", "CIVICLAKE", "KUBECONFIG", "PYTHONPATH"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "KUBECONFIG": str(kubeconfig),
            "CIVICLAKE__REGISTRY__PATH": str(DAGS / "datasets.yaml"),
        }
    )
    return AirflowRunner(home, env)


@pytest.fixture
def airflow(airflow_venv: Path, tmp_path: Path) -> AirflowRunner:
    return make_runner(tmp_path)


@pytest.fixture(scope="module")
def module_airflow(airflow_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> AirflowRunner:
    """The same, shared by the tests of one module (loading the DAGs takes a couple of seconds)."""
    return make_runner(tmp_path_factory.mktemp("airflow"))

"""The local execution mode of the civiclake operator: the argv runs in a subprocess, its output streams into the
task log, a non-zero exit fails the task, and the command's JSON summary becomes the task's result."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.dags.conftest import AirflowRunner

FAKE_CIVICLAKE = """#!/bin/sh
# Stands in for the civiclake executable: what the operator does with its output and exit code is under test.
case "$1" in
  ok)
    echo "loaded gares / Liste des gares  3,819 rows"
    echo "tables: $CIVICLAKE__POSTGRES__TABLES"
    printf '{"status": "success", "rows": 3819}' > "$CIVICLAKE_SUMMARY_JSON"
    ;;
  quiet) ;;
  fail) echo "HTTP 410 from the catalogue: dataset deleted" >&2; exit 3 ;;
esac
"""


@pytest.fixture(scope="module")
def runs(module_airflow: AirflowRunner, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    airflow, tmp_path = module_airflow, tmp_path_factory.mktemp("local-runs")
    executable = tmp_path / "civiclake"
    executable.write_text(FAKE_CIVICLAKE)
    executable.chmod(0o755)
    cases = {
        "ok": {"arguments": ["ok"], "env": {"CIVICLAKE__POSTGRES__TABLES": "orders"}},
        "quiet": {"arguments": ["quiet"]},
        "fail": {"arguments": ["fail"]},
    }
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps(cases))
    environment = {"CIVICLAKE_EXECUTABLE": str(executable), "CIVICLAKE_EXECUTION_MODE": "Local"}
    found, log = airflow.probe_with_output("local-run", str(spec), extra_env=environment)
    missing = airflow.probe(
        "local-run",
        str(spec),
        extra_env={"CIVICLAKE_EXECUTABLE": str(tmp_path / "absent"), "CIVICLAKE_EXECUTION_MODE": "k8s"},
    )
    found["absent"], found["bad-mode"] = missing["ok"], missing["mode"]
    return found, log


def test_the_summary_comes_back_and_the_output_streams_into_the_log(runs: tuple[dict[str, Any], str]) -> None:
    found, log = runs
    assert found["ok"] == {"result": {"status": "success", "rows": 3819}, "error": None}
    assert "loaded gares / Liste des gares  3,819 rows" in log
    assert "tables: orders" in log, "the task's environment reaches the command"
    assert found["quiet"] == {"result": None, "error": None}, "no summary written: no XCom, no failure"
    assert found["mode"]["result"] == "local"


def test_a_failing_command_fails_the_task_with_its_exit_code(runs: tuple[dict[str, Any], str]) -> None:
    found, log = runs
    assert found["fail"]["error"].endswith("civiclake fail exited with code 3")
    assert "HTTP 410 from the catalogue: dataset deleted" in log, "stderr is in the task log too"


def test_bad_settings_fail_with_the_setting_to_fix(runs: tuple[dict[str, Any], str]) -> None:
    found, _ = runs
    assert found["absent"]["error"].startswith("AirflowFailException: cannot start")
    assert "set CIVICLAKE_EXECUTABLE" in found["absent"]["error"]
    assert "CIVICLAKE_EXECUTION_MODE='k8s'" in found["bad-mode"]["error"]
    assert "Variable CIVICLAKE_POD_TEMPLATE_DBT" in found["pod-template"]["error"]


def test_the_alert_webhook_url_comes_from_an_airflow_connection_in_either_form(airflow: AirflowRunner) -> None:
    connections = {
        # JSON form: the whole URL in the host.
        "AIRFLOW_CONN_ALERTS_JSON": json.dumps({"conn_type": "http", "host": "https://hooks.example.org/T0/B1/x"}),
        # URI form: Airflow splits it into type, host, port and path (schema).
        "AIRFLOW_CONN_ALERTS_URI": "https://hooks.example.org:8443/services%2FT0%2Fx",
        "AIRFLOW_CONN_ALERTS_EMPTY": json.dumps({"conn_type": "http"}),
    }
    found = airflow.probe(
        "webhook-urls", "alerts_json", "alerts_uri", "alerts_empty", "alerts_absent", extra_env=connections
    )
    assert found["alerts_json"] == "https://hooks.example.org/T0/B1/x"
    assert found["alerts_uri"] == "https://hooks.example.org:8443/services/T0/x"
    assert found["alerts_empty"] == "ValueError: connection 'alerts_empty' has no host: put the webhook URL there"
    assert found["alerts_absent"].startswith("AirflowNotFoundException")

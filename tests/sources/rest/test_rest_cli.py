"""`civiclake serve incidents-api` and `civiclake sync --source rest`, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from civiclake.cli.main import cli
from civiclake.demo.incidents import IncidentsServer

pytestmark = pytest.mark.integration


def run(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(arguments), obj={}, catch_exceptions=False)
    return result.exit_code, result.output


def test_sync_source_rest_through_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with IncidentsServer(incidents=120, seed=5) as api:
        monkeypatch.setenv("CIVICLAKE_HOME", str(tmp_path / "home"))
        for name, value in api.environment().items():
            monkeypatch.setenv(name, value)

        code, output = run("sync", "--source", "rest")
        assert code == 0, output
        assert "loaded" in output
        code, output = run("tables", "--json")
        (table,) = [t for t in json.loads(output) if t["name"] == "bronze.rest__incidents__incident"]
        assert table["rows"] == 120 and table["source"] == "rest" and table["dataset_id"] == "incidents"

        api.advance(24)
        code, output = run("sync", "--source", "rest", "--dataset", "incidents")
        assert code == 0, output
        code, output = run(
            "sql", "SELECT count(DISTINCT sys_id) AS n FROM bronze.rest__incidents__incident", "--format", "csv"
        )
        assert output.splitlines() == ["n", str(api.total)]

        monkeypatch.setenv("CIVICLAKE__REST__TOKEN", "not-the-token")
        code, output = run("sync", "--source", "rest")
        assert code == 1 and "401" in output and "not-the-token" not in output


def test_sync_source_rest_unconfigured_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICLAKE_HOME", str(tmp_path / "home"))
    code, output = run("sync", "--source", "rest")
    assert code == 2 and "CIVICLAKE__REST__BASE_URL" in output


def test_serve_incidents_api_prints_the_variables_to_export(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from civiclake.cli.main import main; main()"]
    arguments = ["serve", "incidents-api", "--port", "0", "--incidents", "40", "--seed", "3"]
    with subprocess.Popen(
        command + arguments, stdout=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "400"}, cwd=tmp_path
    ) as process:
        try:
            assert process.stdout is not None
            exports: dict[str, str] = {}
            for line in process.stdout:
                if line.startswith("export "):
                    exports = dict(item.split("=", 1) for item in line.split()[1:])
                    break
            base_url = exports["CIVICLAKE__REST__BASE_URL"]
            headers = {"Authorization": f"Bearer {exports['CIVICLAKE__REST__TOKEN']}"}
            response = httpx.get(f"{base_url}/api/now/table/incident", headers=headers, timeout=5)
            assert response.status_code == 200 and response.headers["x-total-count"] == "40"
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0

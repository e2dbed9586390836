"""The command line contract: commands, JSON output, exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from civiclake.cli.main import cli
from civiclake.demo.mirror.server import Fault, MirrorServer
from tests.pipeline.lakehouse import CODES_POSTAUX, CODES_POSTAUX_CSV, GARES

pytestmark = pytest.mark.integration


@pytest.fixture
def environment(tmp_path: Path, mirror: MirrorServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    registry = tmp_path / "datasets.yaml"
    registry.write_text(
        f"datagouv:\n  datasets:\n    - id: {CODES_POSTAUX}\n      name: codes_postaux\n    - id: {GARES}\n"
    )
    values = {
        "CIVICLAKE_HOME": str(tmp_path / "home"),
        "CIVICLAKE__DATAGOUV__API_URL": mirror.api_url,
        "CIVICLAKE__REGISTRY__PATH": str(registry),
        "CIVICLAKE__HTTP__MAX_ATTEMPTS": "1",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(arguments), obj={}, catch_exceptions=False)
    return result.exit_code, result.output


def test_sync_then_tables_sql_and_status(environment: dict[str, str]) -> None:
    code, output = run("sync")
    assert code == 0, output
    assert "Base officielle des codes postaux" in output and "loaded" in output

    code, output = run("tables", "--json")
    tables = {table["name"]: table for table in json.loads(output)}
    codes = tables["bronze.datagouv__codes_postaux__base_officielle_des_codes_postaux"]
    assert codes["rows"] > 39000 and codes["dataset_id"] == CODES_POSTAUX and codes["snapshot_id"]

    code, output = run(
        "sql",
        "SELECT code_postal, count(*) AS n FROM bronze.datagouv__codes_postaux__base_officielle_des_codes_postaux "
        "WHERE code_commune_insee = '01001' GROUP BY 1",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(output) == [{"code_postal": "01400", "n": 1}]

    code, output = run("sql", "SELECT count(*) AS n FROM meta.ingestions WHERE status = 'loaded'", "--format", "csv")
    assert output.splitlines() == ["n", "2"]

    code, output = run("status", "--json")
    statuses = {status["dataset_id"]: status for status in json.loads(output)}
    assert statuses[CODES_POSTAUX]["late"] is False and statuses[CODES_POSTAUX]["frequency"] == "monthly"
    assert statuses[CODES_POSTAUX]["rows"] == codes["rows"] and statuses[GARES]["errors"] == []


def test_exit_code_1_when_a_resource_fails_and_its_error_is_shown(
    environment: dict[str, str], mirror: MirrorServer
) -> None:
    resource_id = CODES_POSTAUX_CSV
    mirror.inject_fault(resource_id, Fault.http_status(503), times=None)
    code, output = run("sync", "--dataset", CODES_POSTAUX)
    assert code == 1
    assert "HTTP 503" in output and resource_id in output

    code, output = run("status", "--json")
    (status,) = json.loads(output)
    assert "HTTP 503" in status["errors"][0]


def test_exit_code_2_on_bad_configuration_or_sql(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICLAKE__DATAGOUV__PAGE_SIZE", "lots")
    code, output = run("tables")
    assert code == 2 and "CIVICLAKE__DATAGOUV__PAGE_SIZE" in output
    monkeypatch.delenv("CIVICLAKE__DATAGOUV__PAGE_SIZE")
    assert run("sync", "--dataset", GARES)[0] == 0  # a lakehouse to query
    code, output = run("sql", "SELECT * FROM bronze.no_such_table")
    assert code == 2 and "no_such_table" in output
    code, _ = run("sync", "--source", "nowhere")
    assert code == 2


def test_run_syncs_every_configured_source_then_builds_gold(environment: dict[str, str]) -> None:
    code, output = run("run")
    assert code == 0, output
    assert "Liste des gares" in output
    code, output = run("sql", "SELECT count(*) AS n FROM gold.dim_commune", "--format", "json")
    assert code == 0 and json.loads(output)[0]["n"] > 30000, output
    # Models of sources this lakehouse never synced are skipped, not failed.
    code, output = run(
        "sql",
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'gold' "
        "AND table_name = 'gold_daily_sales'",
        "--format",
        "json",
    )
    assert json.loads(output) == [{"n": 0}]


def test_naming_a_datagouv_dataset_syncs_datagouv_only(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Every other source is set up, and would fail if it ran: an unreachable database, an unreachable API, and a
    # landing zone with a file no pattern matches.
    monkeypatch.setenv("CIVICLAKE__POSTGRES__HOST", "127.0.0.1")
    monkeypatch.setenv("CIVICLAKE__POSTGRES__PORT", "9")
    monkeypatch.setenv("CIVICLAKE__REST__BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CIVICLAKE__REST__TOKEN", "t")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "unmatched.csv").write_text("a\n1\n")
    monkeypatch.setenv("CIVICLAKE__FILES__LANDING", str(landing))
    summary = tmp_path / "summary.json"

    code, output = run("sync", "--dataset", CODES_POSTAUX, "--summary-json", str(summary))

    assert code == 0, output
    tables = json.loads(summary.read_text())["tables"]
    assert tables and all(table.startswith("bronze.datagouv__") for table in tables)
    assert "postgres" not in output and "unmatched.csv" not in output and "incidents" not in output

    # A REST endpoint's name is the rest source's: it reaches the (unreachable) API, not data.gouv.fr's lookup.
    code, output = run("sync", "--dataset", "incidents")
    assert code != 0 and "127.0.0.1:9" in output and "postgres" not in output


@pytest.mark.parametrize(
    "command",
    [
        ["tables"],
        ["status"],
        ["sql", "SELECT 1"],
        ["transform"],
        ["maintain"],
        ["source-freshness"],
        ["dbt", "generate"],
        ["metrics"],
        ["audit", "load"],
    ],
)
def test_a_read_command_where_there_is_no_lakehouse_says_so_and_creates_none(
    command: list[str], tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, command, obj={})

    assert result.exit_code == 2, result.output
    assert f"no lakehouse in {tmp_path / '.civiclake'}" in result.output and "CIVICLAKE_HOME" in result.output
    assert not (tmp_path / ".civiclake").exists()


def test_tables_and_status_say_which_lakehouse_they_read(environment: dict[str, str]) -> None:
    assert run("sync", "--dataset", CODES_POSTAUX)[0] == 0
    for command in ("tables", "status"):
        code, output = run(command)
        assert code == 0 and f"lakehouse {environment['CIVICLAKE_HOME']} (local profile)" in output.replace("\n", "")


def test_a_database_that_is_down_is_reported_once_not_once_per_table(tmp_path: Path) -> None:
    environment = {
        "CIVICLAKE_HOME": str(tmp_path / "home"),
        "CIVICLAKE__POSTGRES__HOST": "127.0.0.1",
        "CIVICLAKE__POSTGRES__PORT": "9",
        "CIVICLAKE__POSTGRES__USER": "nobody",
    }
    result = CliRunner().invoke(cli, ["sync", "--source", "postgres"], env=environment, obj={})

    assert result.exit_code == 1, result.output
    assert result.output.count("cannot connect to PostgreSQL at 127.0.0.1:9") == 1
    failed_lines = [line for line in result.output.splitlines() if line.strip().startswith("failed shopstream /")]
    assert len(failed_lines) == 6  # every table still has its line
    assert result.output.count("the same error") == 5

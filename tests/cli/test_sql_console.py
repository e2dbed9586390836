"""`civiclake sql` is an analyst's read-only console: queries over the lakehouse's tables run, nothing else does.

The lakehouse is a real one: a data.gouv.fr dataset synced from the bundled mirror into bronze, and a gold table
published to Iceberg by the code that publishes dbt's models.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from civiclake.cli.main import cli
from civiclake.config import Settings, load_settings
from civiclake.demo.mirror.server import MirrorServer
from civiclake.transform.publish import Relation, publish_relations
from civiclake.warehouse.catalog import open_catalog
from tests.pipeline.lakehouse import CODES_POSTAUX, Lakehouse, fast_retries

pytestmark = pytest.mark.integration

BRONZE = "bronze.datagouv__base_officielle_des_codes_postaux__base_officielle_des_codes_postaux"
GOLD = "gold.mart_communes_per_postcode"


def build_lakehouse(settings: Settings, workdir: Path) -> None:
    """Bronze from a real sync; gold as `civiclake transform` publishes it (a DuckDB relation to Iceberg)."""
    report = Lakehouse(settings).sync(CODES_POSTAUX)
    assert report.exit_code == 0, [outcome.error for outcome in report.failed]
    catalog = open_catalog(settings)
    bronze_rows = catalog.load_table(BRONZE).scan().to_arrow()
    database = workdir / "models.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.register("bronze_rows", bronze_rows)
        connection.execute("CREATE SCHEMA gold")
        connection.execute(
            "CREATE TABLE gold.mart_communes_per_postcode AS "
            "SELECT code_postal, count(DISTINCT code_commune_insee) AS communes FROM bronze_rows GROUP BY 1"
        )
    publish_relations(
        catalog,
        database,
        settings.home / "duckdb_extensions",
        [Relation("gold", "mart_communes_per_postcode", "model.civiclake.mart_communes_per_postcode")],
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("sql-console")
    with MirrorServer() as mirror:
        settings = fast_retries(load_settings(environ={"CIVICLAKE_HOME": str(root / "home")}), mirror)
        build_lakehouse(settings, root)
    yield root / "home"


@pytest.fixture
def console(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CIVICLAKE_HOME", str(home))
    return home


def sql(statement: str, *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["sql", statement, *options], obj={}, catch_exceptions=False)
    return result.exit_code, result.output


def table_data_dir(home: Path, name: str) -> Path:
    settings = load_settings(environ={"CIVICLAKE_HOME": str(home)})
    location = open_catalog(settings).load_table(name).location()
    return Path(location.removeprefix("file://")) / "data"


def test_queries_over_bronze_and_gold_tables_still_run(console: Path) -> None:
    code, output = sql(
        f"SELECT code_postal, count(*) AS n FROM {BRONZE} WHERE code_commune_insee = '01001' GROUP BY 1",
        "--format",
        "json",
    )
    assert code == 0, output
    assert json.loads(output) == [{"code_postal": "01400", "n": 1}]

    code, output = sql(f"SELECT communes FROM {GOLD} WHERE code_postal = '01400'", "--format", "csv")
    assert code == 0, output
    _, expected = sql(
        f"SELECT count(DISTINCT code_commune_insee) AS communes FROM {BRONZE} WHERE code_postal = '01400'",
        "--format",
        "csv",
    )
    assert output.splitlines() == expected.splitlines() and int(output.splitlines()[1]) > 1


@pytest.mark.parametrize(
    "statement",
    [
        f"DESCRIBE {BRONZE}",
        "SHOW ALL TABLES",
        f"SUMMARIZE {GOLD}",
        f"FROM {GOLD} LIMIT 1",
        f"WITH codes AS (SELECT code_postal FROM {BRONZE}) SELECT count(*) FROM codes",
        f"EXPLAIN ANALYZE SELECT count(*) FROM {BRONZE}",
        "PRAGMA version",
    ],
)
def test_read_statements_of_every_kind_run(console: Path, statement: str) -> None:
    code, output = sql(statement, "--format", "csv")
    assert code == 0, output
    assert output.strip()


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM glob('/etc/*')",
    ],
)
def test_files_outside_the_lakehouse_cannot_be_read(console: Path, statement: str) -> None:
    code, output = sql(statement, "--format", "csv")
    assert code == 2, output
    assert "root:" not in output and "/etc/hostname" not in output
    assert "read-only" in output or "does not exist" in output


def test_the_catalog_beside_the_warehouse_cannot_be_read(console: Path) -> None:
    # Inside CIVICLAKE_HOME but no table's files: the session reads only where the tables are.
    code, output = sql(f"SELECT size FROM read_blob('{console / 'catalog.db'}')", "--format", "csv")
    assert code == 2, output
    assert "read-only" in output


def test_copy_to_is_refused_and_writes_no_file(console: Path, tmp_path: Path) -> None:
    outside = tmp_path / "stolen.csv"
    into_table = table_data_dir(console, BRONZE) / "planted.parquet"
    for statement in [
        f"COPY (SELECT * FROM {BRONZE}) TO '{outside}'",
        f"COPY (SELECT 1 AS code_postal) TO '{into_table}' (FORMAT parquet)",
        f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{into_table}'",
        f"SELECT 1; COPY (SELECT 1) TO '{outside}'",
    ]:
        code, output = sql(statement)
        assert code == 2, (statement, output)
        assert "read-only" in output, output
    assert not outside.exists() and not into_table.exists()
    code, output = sql(f"SELECT count(*) AS n FROM {BRONZE} WHERE code_postal IS NULL", "--format", "csv")
    assert output.splitlines() == ["n", "0"]


def test_attach_is_refused_and_creates_no_file(console: Path, tmp_path: Path) -> None:
    database = tmp_path / "created.duckdb"
    code, output = sql(f"ATTACH '{database}' AS other")
    assert code == 2, output
    assert "read-only" in output and "ATTACH" in output
    assert not database.exists()


@pytest.mark.parametrize(
    "statement",
    [
        "SET enable_external_access = true",
        "RESET lock_configuration",
        "SET enable_external_access = true; SELECT * FROM read_csv('/etc/passwd')",
        "SET allowed_directories = ['/']",
    ],
)
def test_the_lock_cannot_be_undone(console: Path, statement: str) -> None:
    code, output = sql(statement, "--format", "csv")
    assert code == 2, output
    assert "read-only" in output and "root:" not in output


@pytest.mark.parametrize(
    "statement",
    [
        "INSTALL httpfs",
        "LOAD httpfs",
        "CREATE TABLE copied AS SELECT 1 AS n",
        f"INSERT INTO {BRONZE} (code_postal) VALUES ('99999')",
        f"DELETE FROM {GOLD}",
        f"DROP VIEW {GOLD}",
        "EXPORT DATABASE '{tmp}'",
        "CREATE SECRET leak (TYPE s3, KEY_ID 'a', SECRET 'b')",
        "PREPARE steal AS SELECT 1",
        "CHECKPOINT",
    ],
)
def test_statements_that_are_not_queries_are_refused(console: Path, statement: str, tmp_path: Path) -> None:
    code, output = sql(statement.format(tmp=tmp_path / "export"))
    assert code == 2, output
    assert "the SQL console is read-only" in output
    assert "Traceback" not in output
    assert not (tmp_path / "export").exists()

"""`civiclake demo` end to end, in process: four sources into bronze, dbt into silver and gold; then again."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from civiclake.cli.main import cli
from civiclake.config import load_settings
from civiclake.demo.run import run_demo
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.duck import connect

pytestmark = pytest.mark.integration

GOLD_BY_DOMAIN = {
    "open data": ["gold.fct_station_ridership", "gold.dim_station", "gold.mart_dataset_sync_status"],
    "ShopStream": ["gold.mart_sales_overview", "gold.dim_customers", "gold.fct_order_items"],
    "Olist": ["gold.gold_daily_sales", "gold.gold_customer_rfm", "gold.gold_delivery_performance"],
    "incidents": ["gold.fct_incidents", "gold.mart_incident_resolution_24h"],
}
ROW_COUNTS = """
SELECT source, sum(rows) FROM meta.ingestions WHERE status = 'loaded' GROUP BY source ORDER BY source
"""


def _gold_counts(settings_home: Path) -> dict[str, int]:
    settings = load_settings(environ={"CIVICLAKE_HOME": str(settings_home)})
    connection = connect(settings, open_catalog(settings))
    return {
        table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        for tables in GOLD_BY_DOMAIN.values()
        for table in tables
    }


def test_the_demo_loads_four_sources_builds_gold_briefly_and_a_second_run_adds_and_builds_nothing(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    settings = load_settings(environ={"CIVICLAKE_HOME": str(home)})
    output = io.StringIO()
    assert run_demo(settings, Console(file=output, width=200)) == 0, output.getvalue()[-3000:]
    first = output.getvalue()
    assert "PARIS" in first  # the bronze example query found Paris stations
    # A line per resource synced (about 45) and one summary line per sync, dbt as a count every 100 nodes or
    # 10 s, a line per layer, two example answers and the datasets' status: about 110 lines, where dbt's own
    # START and PASS lines alone were over a thousand (two per node). The count lines depend on the machine's
    # speed, so they are left out of the bound.
    lines = [line for line in first.splitlines() if not line.startswith("dbt build: ")]
    assert len(lines) < 150, first
    assert " START " not in first and "PASS" not in first
    assert "ShopStream skipped" not in first  # make test installs PostgreSQL: the demo must use it

    connection = connect(settings, open_catalog(settings))
    loaded = dict(connection.execute(ROW_COUNTS).fetchall())
    assert set(loaded) == {"datagouv", "postgres", "files", "rest"}
    assert all(rows > 0 for rows in loaded.values()), loaded
    gold = _gold_counts(home)
    assert all(count > 0 for count in gold.values()), gold

    output = io.StringIO()
    assert run_demo(settings, Console(file=output, width=200)) == 0, output.getvalue()[-3000:]
    # every resource unchanged: dbt has nothing to rebuild
    assert "nothing to build: no bronze table changed since the last successful build" in output.getvalue()
    connection = connect(settings, open_catalog(settings))
    assert dict(connection.execute(ROW_COUNTS).fetchall()) == loaded
    assert _gold_counts(home) == gold


def test_demo_without_a_dbt_project_says_where_to_run_it_and_syncs_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    empty = tmp_path / "no-project"
    empty.mkdir()
    result = CliRunner().invoke(
        cli,
        ["demo"],
        env={"CIVICLAKE_HOME": str(home), "CIVICLAKE__TRANSFORM__PROJECT_DIR": str(empty)},
        obj={},
    )
    assert result.exit_code == 2
    assert "finds no dbt project: run it in the dbt image or a checkout" in result.output
    assert not home.exists()

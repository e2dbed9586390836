"""`civiclake demo` end to end, in process: mirror, sync, tables, the example query, status; then again."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from civiclake.config import load_settings
from civiclake.demo.run import run_demo
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.duck import connect

pytestmark = pytest.mark.integration


def test_the_demo_loads_everything_and_a_second_run_adds_nothing(tmp_path: Path) -> None:
    settings = load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "home")})
    output = io.StringIO()
    assert run_demo(settings, Console(file=output, width=200)) == 0
    first = output.getvalue()
    assert "ILE-DE-FRANCE" in first or "PARIS" in first  # the example query ran and found Paris stations
    assert "failed" not in first

    connection = connect(settings, open_catalog(settings))
    total = connection.execute("SELECT sum(rows) FROM meta.ingestions WHERE status = 'loaded'").fetchone()

    output = io.StringIO()
    assert run_demo(settings, Console(file=output, width=200)) == 0
    assert "loaded" not in output.getvalue().split("Sync")[1].split("Iceberg tables")[0]
    connection = connect(settings, open_catalog(settings))
    assert connection.execute("SELECT sum(rows) FROM meta.ingestions WHERE status = 'loaded'").fetchone() == total

"""What the command line prints: names that fit the terminal, one summary line per sync and per transform."""

from __future__ import annotations

import io

from rich.console import Console

from civiclake.catalog_views import TableInfo
from civiclake.cli.render import fit, resource_line, sync_summary_line, tables_table, transform_summary
from civiclake.pipeline import ResourceOutcome, SyncReport
from civiclake.transform.build_state import BuildPlan
from civiclake.transform.publish import PublishedTable
from civiclake.transform.runner import TransformReport

LONG_NAME = "bronze.datagouv__frequentation_gares__referentiel_des_gares_jeu_liste_des_gares_de_sncf_reseau"


def _rendered(renderable: object, width: int) -> list[str]:
    output = io.StringIO()
    Console(file=output, width=width, color_system=None).print(renderable)
    return output.getvalue().splitlines()


def test_fit_keeps_both_ends_of_a_long_name() -> None:
    short = fit(LONG_NAME, 40)
    assert len(short) == 40
    assert short.startswith("bronze.datagouv__") and short.endswith("sncf_reseau") and "…" in short
    assert fit("gold.dim_year", 40) == "gold.dim_year"


def test_a_long_table_name_stays_on_one_line_at_120_columns() -> None:
    tables = [
        TableInfo(LONG_NAME, 3819, "datagouv", "5c4ae55a634f4117716d5656", "d22ba593", 4820739201937465123, None),
        TableInfo("gold.dim_year", 8, None, None, None, 1, "2026-12-07T20:07:18.123456+00:00"),
    ]
    lines = _rendered(tables_table(tables, 120), 120)
    assert all(len(line) <= 120 for line in lines)
    name_lines = [line for line in lines if "bronze.datagouv__" in line]
    assert len(name_lines) == 1 and "sncf_reseau" in name_lines[0] and "3,819" in name_lines[0]


def test_one_line_per_resource_within_the_width() -> None:
    outcome = ResourceOutcome(
        "datagouv", "frequentation_gares", "d1", "Référentiel des gares (jeu « Liste des gares » de SNCF Réseau) " * 2,
        "r1", "loaded", format="csv", rows=3819,
    )  # fmt: skip
    [line] = _rendered(resource_line(outcome, 100), 100)
    assert len(line) <= 100 and line.endswith("3,819 rows") and "…" in line


def test_the_sync_summary_counts_resources_by_status() -> None:
    report = SyncReport("b1")
    report.outcomes = [
        ResourceOutcome("files", "olist", "o", "orders", "1", "loaded", rows=10),
        ResourceOutcome("files", "olist", "o", "items", "2", "unchanged", rows=99),
    ]
    [line] = _rendered(sync_summary_line(report, 1.25), 200)
    assert line == "sync: 2 resources (1 loaded, 1 unchanged), 10 rows loaded in 1.2 s"


def test_one_transform_summary_with_counts_publication_and_timing() -> None:
    report = TransformReport("duckdb", 1, seconds=12.0, phases={"parse": 2.0, "build": 10.0})
    report.counts = {("model", "success"): 2, ("test", "pass"): 5, ("test", "fail"): 1, ("snapshot", "success"): 1}
    report.published = [PublishedTable("gold.dim_year", 8, 1)]
    assert _rendered(transform_summary(report), 120) == [
        "dbt build on duckdb: 2 models, 1 snapshot, 6 data tests: 8 succeeded, 1 failed",
        "  1 table published to Iceberg (8 rows); 12.0 s (parse 2.0 s, build 10.0 s)",
    ]
    report = TransformReport("duckdb", 0, seconds=3.0, phases={"parse": 3.0}, plan=BuildPlan([], "no change"))
    [line] = _rendered(transform_summary(report), 300)
    assert line == "dbt build on duckdb: nothing built, 3.0 s (parse 3.0 s)"

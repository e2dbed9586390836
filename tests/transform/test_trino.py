"""The cluster's SQL, checked without a Trino server: dbt-trino renders the project, sqlglot parses it as Trino."""

from __future__ import annotations

import pytest

from civiclake.config import load_settings
from civiclake.transform.project import DbtProject
from civiclake.transform.trino_check import check_trino_sql, trino_problem
from tests.transform.lakehouse import copy_dbt_project


@pytest.fixture(scope="module")
def trino_report(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("trino")
    project_dir = copy_dbt_project(base / "dbt")
    settings = load_settings(
        environ={
            "CIVICLAKE_HOME": str(base / "home"),
            "CIVICLAKE__TRANSFORM__PROJECT_DIR": str(project_dir),
            "CIVICLAKE__TRANSFORM__TARGET": "trino",
        }
    )
    heard: list[str] = []
    report = check_trino_sql(DbtProject.from_settings(settings), heard.append)
    assert heard == report.steps
    # dbt ran in a scratch copy: the project itself got no target/ folder and no check macro
    assert not (project_dir / "target").exists()
    assert not (project_dir / "macros" / "_civiclake_offline_catalog.sql").exists()
    return report


def test_every_compiled_model_parses_as_trino_sql(trino_report) -> None:  # type: ignore[no-untyped-def]
    assert trino_report.problems == []
    names = list(trino_report.statements)
    models = [name for name in names if "/models/" in name and name.endswith(".sql") and "/generated/" not in name]
    # both renderings of every model: the first build and the incremental runs
    first = {name.split(": ", 1)[1] for name in models if name.startswith("first build")}
    later = {name.split(": ", 1)[1] for name in models if name.startswith("incremental run")}
    assert first == later and len(first) >= 60
    assert any("/snapshots/" in name for name in names)
    assert trino_report.parsed == len(names)


def test_the_check_says_each_step_before_it_runs(trino_report) -> None:  # type: ignore[no-untyped-def]
    assert [step.split(",")[0].split(" (")[0] for step in trino_report.steps] == [
        "dbt parse --target trino",
        "dbt compile --target trino",
        "parsing the first build statements as Trino SQL",
        "dbt compile --target trino",
        "parsing the incremental run statements as Trino SQL",
    ]


def test_incremental_models_render_their_merge_filter_for_trino(trino_report) -> None:  # type: ignore[no-untyped-def]
    [first] = [
        sql
        for name, sql in trino_report.statements.items()
        if name.endswith("int_olist_orders_merged.sql") and name.startswith("first build")
    ]
    [incremental] = [
        sql
        for name, sql in trino_report.statements.items()
        if name.endswith("int_olist_orders_merged.sql") and name.startswith("incremental run")
    ]
    assert '"iceberg"."silver"."int_olist_orders_merged"' not in first
    assert 'left join "iceberg"."silver"."int_olist_orders_merged" as stored' in incremental
    assert "interval '24' hour" in incremental
    # the dispatched macros chose Trino's spelling
    [communes] = [
        sql
        for name, sql in trino_report.statements.items()
        if name.endswith("int_communes_aggregated.sql") and name.startswith("first build")
    ]
    assert "normalize(names.commune_name, NFD)" in communes and "strip_accents" not in communes
    assert "array_join(" in communes


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("select strip_accents(name) from t", "functions Trino does not have: strip_accents"),
        ("select epoch_ms(ts) from t", "functions Trino does not have: epoch_ms"),
        ("select * from t qualify row_number() over () = 1", "does not parse as Trino SQL"),
    ],
)
def test_duckdb_only_sql_is_refused(sql: str, reason: str) -> None:
    problem = trino_problem(sql)
    assert problem is not None and problem.startswith(reason)


def test_portable_sql_is_accepted() -> None:
    assert trino_problem("select try_cast(x as timestamp(6)), normalize(y, NFD), lpad(z, 5, '0') from t") is None

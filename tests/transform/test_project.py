"""The dbt project's pieces that must agree with civiclake's Python code."""

from __future__ import annotations

import csv

import duckdb
from pyiceberg.schema import Schema
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

from civiclake.observability.freshness import PERIODS, grace
from civiclake.transform.project import CHECKOUT_PROJECT_DIR
from civiclake.transform.staging import generated_columns


def test_the_frequency_seed_is_the_freshness_rule_of_civiclake_status() -> None:
    with (CHECKOUT_PROJECT_DIR / "seeds" / "dataset_frequencies.csv").open(encoding="utf-8") as seed:
        rows = {row["declared_frequency"]: row for row in csv.DictReader(seed)}
    assert set(rows) == set(PERIODS)
    for name, period in PERIODS.items():
        assert float(rows[name]["period_hours"]) == period.total_seconds() / 3600, name
        assert float(rows[name]["grace_hours"]) == grace(period).total_seconds() / 3600, name


def test_generated_columns_are_typed_and_reserved_words_renamed() -> None:
    schema = Schema(
        NestedField(1, "int", LongType(), doc="original name: int"),
        NestedField(2, "int_value", StringType(), doc="original name: Int Value"),
        NestedField(3, "lat", DoubleType()),
        NestedField(4, "seen_at", TimestamptzType()),
        NestedField(5, "_raw_sha256", StringType()),
    )
    columns = {column.source_name: column for column in generated_columns(schema, "datagouv__x__y", None)}
    assert set(columns) == {"int", "int_value", "lat", "seen_at"}  # lineage columns come from a macro
    assert (columns["int"].name, columns["int"].expression) == ("int_value_2", 'cast("int" as bigint)')
    assert columns["int_value"].name == "int_value"  # the file's own column keeps its name
    # without a connection to profile the bronze table: the header and the type, no nulls or example
    assert columns["int_value"].description == '"Int Value" in the file, as text.'
    assert columns["lat"].description == '"lat" in the file, as decimal number (double).'  # no doc: its own name
    assert columns["lat"].expression == 'cast("lat" as double)'
    assert columns["seen_at"].expression == "{{ civiclake.utc_timestamp('\"seen_at\"') }}"


def test_generated_column_descriptions_profile_the_latest_file_of_the_bronze_table() -> None:
    schema = Schema(
        NestedField(1, "code", StringType(), doc="original name: Code INSEE"),
        NestedField(2, "count", LongType(), doc="original name: Nombre"),
        NestedField(3, "empty", StringType(), doc="original name: Vide"),
        NestedField(4, "_raw_sha256", StringType()),
    )
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA bronze")
    connection.execute(
        "CREATE TABLE bronze.datagouv__x__y AS SELECT * FROM (VALUES "
        # an older file, then the latest one (loaded later): only the latest is described, as staging shows it
        "('99999', 1, CAST(NULL AS VARCHAR), 'old', TIMESTAMP '2026-01-01', 1), "
        "(NULL, 5, NULL, 'new', TIMESTAMP '2026-02-01', 1), ('01400', NULL, NULL, 'new', TIMESTAMP '2026-02-01', 2), "
        "('01401', 7, NULL, 'new', TIMESTAMP '2026-02-01', 3), ('01402', 8, NULL, 'new', TIMESTAMP '2026-02-01', 4)"
        ") AS t(code, count, empty, _raw_sha256, _ingested_at, _row_number)"
    )
    columns = {column.source_name: column for column in generated_columns(schema, "datagouv__x__y", connection)}
    assert columns["code"].description == (
        '"Code INSEE" in the file, as text; 25.0 % null in 4 rows of the latest file; e.g. "01400".'
    )
    assert columns["count"].description == (
        '"Nombre" in the file, as integer; 25.0 % null in 4 rows of the latest file; e.g. 5.'
    )
    assert columns["empty"].description == '"Vide" in the file, as text; null in all 4 rows of the latest file.'

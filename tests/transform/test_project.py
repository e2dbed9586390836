"""The dbt project's pieces that must agree with civiclake's Python code."""

from __future__ import annotations

import csv

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
    assert columns["int_value"].description == '"Int Value" in the file.'
    assert columns["lat"].expression == 'cast("lat" as double)'
    assert columns["seen_at"].expression == "{{ civiclake.utc_timestamp('\"seen_at\"') }}"

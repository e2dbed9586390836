"""An analyst's view of the cluster: one Iceberg table, created by Trino in a namespace of this module, read through
the three clients DESIGN.md promises (the `trino` Python DB-API client, the trino CLI, SQLAlchemy), each returning the
same rows with the same values."""

from __future__ import annotations

import csv
import io
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from civiclake.servers.stack import ClusterServers

ANALYST = "analyst"
COLUMNS = {
    "id": "bigint",
    "commune": "varchar",
    "amount": "decimal(10,2)",
    "measured_at": "timestamp(6) with time zone",
    "day": "date",
    "validated": "boolean",
    "ratio": "double",
    "visits": "integer",
}
# Values an export gets wrong easily: accents, a comma and quotes, a line break, a negative decimal, microseconds,
# a double that prints in scientific notation, NULLs. No empty string: CSV cannot tell it from NULL.
EXPECTED = [
    (
        1,
        'Orléans, "centre"',
        Decimal("12.50"),
        datetime(2024, 3, 1, 10, 15, 30, 123456, tzinfo=UTC),
        date(2024, 3, 1),
        True,
        1.5,
        7,
    ),
    (2, None, Decimal("-0.05"), datetime(2024, 3, 2, tzinfo=UTC), None, False, 1e10, None),
    (3, "Saint-Étienne\nLoire", None, None, date(1999, 12, 31), None, 0.1, -3),
]


def sql_literal(value: Any, trino_type: str) -> str:
    if value is None:
        return f"CAST(NULL AS {trino_type})"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S.%f} UTC'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"CAST({value} AS {trino_type})"


@pytest.fixture(scope="module")
def analyst_table(cluster: ClusterServers) -> Iterator[str]:
    """``namespace.table``, created with CTAS in a namespace nobody else uses; dropped afterwards."""
    namespace = f"analyst_{uuid.uuid4().hex[:10]}"
    rows = ",\n".join(
        "(" + ", ".join(sql_literal(value, kind) for value, kind in zip(row, COLUMNS.values(), strict=True)) + ")"
        for row in EXPECTED
    )
    cluster.trino.query(f"CREATE SCHEMA iceberg.{namespace}")
    name = f"{namespace}.visits"
    cluster.trino.query(f"CREATE TABLE iceberg.{name} AS SELECT * FROM (VALUES {rows}) AS v({', '.join(COLUMNS)})")
    yield name
    cluster.trino.query(f"DROP TABLE iceberg.{name}")
    cluster.trino.query(f"DROP SCHEMA iceberg.{namespace}")


def select_all(name: str) -> str:
    return f"SELECT {', '.join(COLUMNS)} FROM iceberg.{name} ORDER BY id"


def _timestamp_with_zone(text: str) -> datetime:
    stamp, zone = text.rsplit(" ", 1)
    assert zone == "UTC", text
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


# The CLI prints text: each column is read back by its Trino type, so rows compare value for value.
CLI_TEXT: dict[str, Callable[[str], Any]] = {
    "bigint": int,
    "integer": int,
    "varchar": str,
    "decimal(10,2)": Decimal,
    "double": float,
    "boolean": {"true": True, "false": False}.__getitem__,
    "date": date.fromisoformat,
    "timestamp(6) with time zone": _timestamp_with_zone,
}


def test_the_python_client_reads_the_rows_and_types_trino_stored(cluster: ClusterServers, analyst_table: str) -> None:
    connection = cluster.trino.connect(user=ANALYST)
    try:
        cursor = connection.cursor()
        cursor.execute(select_all(analyst_table))
        rows = [tuple(row) for row in cursor.fetchall()]
        types = [column[1].replace(" ", "") for column in cursor.description]
    finally:
        connection.close()

    assert rows == EXPECTED
    assert types == [kind.replace(" ", "") for kind in COLUMNS.values()]


def test_the_trino_cli_prints_the_same_rows_as_csv(cluster: ClusterServers, analyst_table: str) -> None:
    result = subprocess.run(
        [
            *cluster.trino.install.cli_command(),
            "--server",
            cluster.trino.url,
            "--user",
            ANALYST,
            "--execute",
            select_all(analyst_table),
            "--output-format",
            "CSV",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr

    printed = list(csv.reader(io.StringIO(result.stdout)))
    rows = [
        tuple(None if text == "" else CLI_TEXT[kind](text) for text, kind in zip(line, COLUMNS.values(), strict=True))
        for line in printed
    ]
    assert rows == EXPECTED
    # The CLI quotes every field: the comma, the quotes and the line break survive.
    assert printed[0][1] == 'Orléans, "centre"' and printed[2][1] == "Saint-Étienne\nLoire"


def test_sqlalchemy_reads_the_same_rows_and_reflects_the_columns(cluster: ClusterServers, analyst_table: str) -> None:
    namespace, table = analyst_table.split(".")
    engine = sa.create_engine(f"trino://{ANALYST}@{cluster.trino.host}:{cluster.trino.port}/iceberg")
    try:
        with engine.connect() as connection:
            rows = [tuple(row) for row in connection.execute(sa.text(select_all(analyst_table))).all()]
            # Reflect the columns only: Table(autoload_with=...) also reflects indexes, and the trino dialect takes
            # the columns of Iceberg's `$partitions` table for one (trinodb/trino-python-client#518), which
            # SQLAlchemy warns about.
            reflected = sa.inspect(connection).get_columns(table, schema=namespace)
            visits = sa.table(table, *(sa.column(name) for name in COLUMNS), schema=namespace)
            core = connection.execute(sa.select(visits).where(visits.c.validated).order_by(visits.c.id)).all()
    finally:
        engine.dispose()

    assert rows == EXPECTED
    assert [column["name"] for column in reflected] == list(COLUMNS)
    amount = reflected[2]["type"]
    assert isinstance(amount, sa.DECIMAL) and (amount.precision, amount.scale) == (10, 2)
    assert [tuple(row) for row in core] == [EXPECTED[0]]

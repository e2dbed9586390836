"""pyiceberg and Trino commit to one table at the same moments, through the one JDBC catalog in PostgreSQL: each
commit replaces the table's metadata pointer only if nobody moved it since the writer read it, so a commit either
lands whole or fails with a commit conflict, and no writer ever erases another's snapshot.

Every round, a barrier releases a pyiceberg append and a Trino INSERT together; each commit writes rows tagged with
its writer and round, so the table itself says which commits landed."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from trino.exceptions import TrinoQueryError

from civiclake.config import load_settings
from civiclake.servers.stack import ClusterServers
from civiclake.warehouse.catalog import open_catalog

ROUNDS = 10
PYICEBERG_ROWS = 5  # rows per pyiceberg commit
TRINO_ROWS = 3  # rows per Trino commit
SCHEMA = pa.schema(
    [
        pa.field("writer", pa.string(), nullable=False),
        pa.field("round", pa.int32(), nullable=False),
        pa.field("row_in_commit", pa.int32(), nullable=False),
    ]
)
# Trino's error when its commit lost the race (after Iceberg's own retries).
TRINO_COMMIT_CONFLICT = "ICEBERG_COMMIT_ERROR"


@dataclass
class Writer:
    name: str
    landed: list[int] = field(default_factory=list)  # rounds whose commit reported success
    conflicts: list[int] = field(default_factory=list)  # rounds whose commit failed with a commit conflict
    errors: list[str] = field(default_factory=list)  # anything else: the test fails

    def expected_rows(self, rows_per_commit: int) -> Counter[tuple[str, int, int]]:
        return Counter((self.name, round_, row) for round_ in self.landed for row in range(rows_per_commit))


@pytest.fixture
def catalog(cluster: ClusterServers, tmp_path: Path) -> Catalog:
    return open_catalog(load_settings(environ={**cluster.environment, "CIVICLAKE_HOME": str(tmp_path / "home")}))


@pytest.fixture
def table_name(cluster: ClusterServers, catalog: Catalog) -> Iterator[str]:
    namespace = f"concurrent_{uuid.uuid4().hex[:10]}"
    catalog.create_namespace(namespace)
    name = f"{namespace}.commits"
    catalog.create_table(name, schema=SCHEMA)
    yield name
    cluster.trino.query(f"DROP TABLE IF EXISTS iceberg.{name}")
    catalog.drop_namespace(namespace)


def commit_rows(writer: str, round_: int, count: int) -> pa.Table:
    return pa.table(
        {"writer": [writer] * count, "round": [round_] * count, "row_in_commit": list(range(count))}, schema=SCHEMA
    )


def rows_in_trino(cluster: ClusterServers, name: str) -> Counter[tuple[str, int, int]]:
    return Counter(cluster.trino.query(f"SELECT writer, round, row_in_commit FROM iceberg.{name}"))


def rows_in_pyiceberg(catalog: Catalog, name: str) -> Counter[tuple[str, int, int]]:
    rows = catalog.load_table(name).scan().to_arrow().to_pylist()
    return Counter((row["writer"], row["round"], row["row_in_commit"]) for row in rows)


def snapshot_count(cluster: ClusterServers, name: str) -> int:
    namespace, table = name.split(".")
    [(count,)] = cluster.trino.query(f'SELECT count(*) FROM iceberg."{namespace}"."{table}$snapshots"')
    return int(count)


def pyiceberg_appends(catalog: Catalog, name: str, start: threading.Barrier, writer: Writer) -> None:
    # One table object for the whole loop, as a long-running writer holds it: after a Trino commit it is stale, and
    # pyiceberg must notice (the catalog refuses its pointer swap; pyiceberg retries on fresh metadata or gives up
    # with CommitFailedException) rather than commit over Trino's snapshot.
    table = catalog.load_table(name)
    for round_ in range(ROUNDS):
        rows = commit_rows(writer.name, round_, PYICEBERG_ROWS)
        start.wait()
        try:
            table.append(rows)
            writer.landed.append(round_)
        except CommitFailedException:
            writer.conflicts.append(round_)
            table = catalog.load_table(name)
        except Exception as error:  # recorded: the test fails on it, with the round
            writer.errors.append(f"round {round_}: {type(error).__name__}: {error}")


def trino_inserts(cluster: ClusterServers, name: str, start: threading.Barrier, writer: Writer) -> None:
    connection = cluster.trino.connect(user="civiclake")
    try:
        for round_ in range(ROUNDS):
            statement = (
                f"INSERT INTO iceberg.{name} SELECT '{writer.name}', {round_}, CAST(n AS integer) "
                f"FROM UNNEST(sequence(0, {TRINO_ROWS - 1})) AS numbers(n)"
            )
            start.wait()
            cursor = connection.cursor()
            try:
                cursor.execute(statement)
                [(inserted,)] = cursor.fetchall()
                if inserted != TRINO_ROWS:
                    writer.errors.append(f"round {round_}: Trino reported {inserted} rows inserted")
                writer.landed.append(round_)
            except TrinoQueryError as error:
                if error.error_name == TRINO_COMMIT_CONFLICT:
                    writer.conflicts.append(round_)
                else:
                    writer.errors.append(f"round {round_}: {error.error_name}: {error.message}")
            except Exception as error:  # recorded: the test fails on it, with the round
                writer.errors.append(f"round {round_}: {type(error).__name__}: {error}")
            finally:
                cursor.close()
    finally:
        connection.close()


def test_concurrent_pyiceberg_and_trino_commits_land_whole_or_fail_cleanly(
    cluster: ClusterServers, catalog: Catalog, table_name: str
) -> None:
    pyiceberg, trino = Writer("pyiceberg"), Writer("trino")
    start = threading.Barrier(2, timeout=300)
    threads = [
        threading.Thread(target=pyiceberg_appends, args=(catalog, table_name, start, pyiceberg)),
        threading.Thread(target=trino_inserts, args=(cluster, table_name, start, trino)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(thread.is_alive() for thread in threads)

    assert pyiceberg.errors == [] and trino.errors == []
    for writer in (pyiceberg, trino):
        assert sorted(writer.landed + writer.conflicts) == list(range(ROUNDS)), writer
        assert writer.landed, f"no {writer.name} commit landed: the test would prove nothing"

    expected = pyiceberg.expected_rows(PYICEBERG_ROWS) + trino.expected_rows(TRINO_ROWS)
    # What Trino reads and what pyiceberg reads: exactly the rows of the commits that reported success, once each.
    assert rows_in_trino(cluster, table_name) == expected
    assert rows_in_pyiceberg(catalog, table_name) == expected
    # One snapshot per landed commit: none applied twice, none silently dropped from the history.
    assert snapshot_count(cluster, table_name) == len(pyiceberg.landed) + len(trino.landed)


def test_a_stale_pyiceberg_writer_does_not_erase_a_trino_commit(
    cluster: ClusterServers, catalog: Catalog, table_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The race above, forced: pyiceberg holds the table from before Trino's INSERT, then appends."""
    stale = catalog.load_table(table_name)
    cluster.trino.query(f"INSERT INTO iceberg.{table_name} VALUES ('trino', 0, 0), ('trino', 0, 1)")

    with caplog.at_level(logging.WARNING, logger="pyiceberg"):
        stale.append(commit_rows("pyiceberg", 0, PYICEBERG_ROWS))

    # The catalog refused the stale pointer swap; pyiceberg retried on the metadata Trino committed.
    assert any("Commit failed due to a concurrent update" in record.getMessage() for record in caplog.records)
    expected = Counter({("trino", 0, 0): 1, ("trino", 0, 1): 1}) + Writer("pyiceberg", [0]).expected_rows(
        PYICEBERG_ROWS
    )
    assert rows_in_trino(cluster, table_name) == expected
    assert rows_in_pyiceberg(catalog, table_name) == expected
    assert snapshot_count(cluster, table_name) == 2

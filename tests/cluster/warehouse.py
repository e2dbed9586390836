"""The dbt warehouse built on both engines from the same sources, for test_dbt_on_trino.py and
test_same_gold_on_both_engines.py.

One set of sources feeds two lakehouses, in two rounds, as tests/transform/conftest.py does for DuckDB alone:

- the *cluster* lakehouse: the cluster profile's environment (bronze and meta in the chart's catalog, files on
  MinIO), ``civiclake transform`` running ``dbt build --target trino`` on the suite's Trino, which writes silver and
  gold into the chart's catalog itself;
- the *local* lakehouse: the local profile (SQLite catalog, local disk), dbt on DuckDB.

Round one syncs the four sources (data.gouv.fr mirror, three Olist batches, ShopStream, incidents) into both and
transforms both; round two lands the fourth Olist batch, plays a day of ShopStream changes with hard deletes and
moves the incidents on 24 hours, syncs both and transforms both again (incremental models, tombstones, snapshot).

After each round the rows of every silver and gold relation are read from both engines (Trino through its client,
DuckDB from the dbt database file), normalised, and pickled to disk one relation at a time: round two rebuilds
them, and holding both rounds of both engines in memory would take hundreds of megabytes.

A relation's rows are a multiset (``RelationRows``), so two engines agree when their multisets are equal whatever
order they return rows in. Values are normalised so that equal stored values compare equal:

- floating point rounded to ``FLOAT_DIGITS`` significant digits: a sum of doubles depends on the order the engine
  adds them in, and the two engines add in different orders;
- timestamps written with their microseconds (both engines store ``timestamp(6)``), time zones converted to UTC;
- decimals compared by value (``1.50`` is ``1.5``): the column types are compared on their own.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from civiclake.demo.incidents.server import IncidentsServer
from civiclake.demo.mirror.server import MirrorServer
from civiclake.privacy.keys import KEY_VARIABLE
from civiclake.servers.postgres import PostgresServer
from civiclake.servers.stack import ClusterServers
from civiclake.transform.duckdb_database import open_database
from civiclake.transform.project import DbtProject
from tests.transform.lakehouse import (
    DbtLakehouse,
    clear_civiclake_environment,
    olist_batches,
    shopstream_database,
    shopstream_day_of_changes,
)

# The scales tests/transform uses: small, and still every model gets rows.
OLIST_ORDERS = 300
OLIST_BATCHES = 4  # three land before the first build, the fourth before the second
SHOPSTREAM_SCALE = 0.05
INCIDENTS = 150
SHOPSTREAM_DATABASE = "shopstream"

ENGINES = ("duckdb", "trino")
FLOAT_DIGITS = 9
LAYERS = ("silver", "gold")
_RELATION_TYPES = ("model", "seed", "snapshot")


# --- what a relation holds -----------------------------------------------------------------------------------------


@dataclass
class RelationRows:
    """The normalised content of one relation on one engine: columns, their types, rows with multiplicity."""

    columns: list[str]
    types: dict[str, str]
    rows: Counter[tuple[Any, ...]] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return sum(self.rows.values())

    @property
    def checksum(self) -> str:
        """Order-independent: the digest of the sorted digests of the rows, each row as often as it occurs."""
        digests = sorted(hashlib.sha256(repr(row).encode()).hexdigest() for row in self.rows.elements())
        return hashlib.sha256("".join(digests).encode()).hexdigest()[:16]

    def without(self, excluded: Iterable[str]) -> RelationRows:
        """The same relation minus some columns (rows that then coincide add up)."""
        skipped = set(excluded)
        kept = [index for index, column in enumerate(self.columns) if column not in skipped]
        rows: Counter[tuple[Any, ...]] = Counter()
        for row, times in self.rows.items():
            rows[tuple(row[index] for index in kept)] += times
        columns = [self.columns[index] for index in kept]
        return RelationRows(columns, {column: self.types[column] for column in columns}, rows)

    def column_values(self, column: str) -> Counter[Any]:
        index = self.columns.index(column)
        values: Counter[Any] = Counter()
        for row, times in self.rows.items():
            values[row[index]] += times
        return values


def differences(duckdb_side: RelationRows, trino_side: RelationRows, shown: int = 3) -> list[str]:
    """What differs between the two engines' copies of a relation, readably; empty when they are the same."""
    if duckdb_side.columns != trino_side.columns:
        return [f"columns: duckdb {duckdb_side.columns}, trino {trino_side.columns}"]
    problems = [
        f"type of {column}: duckdb {duckdb_side.types[column]}, trino {trino_side.types[column]}"
        for column in duckdb_side.columns
        if duckdb_side.types[column] != trino_side.types[column]
    ]
    if duckdb_side.rows != trino_side.rows:
        problems.append(
            f"rows: duckdb {duckdb_side.count} (checksum {duckdb_side.checksum}), "
            f"trino {trino_side.count} (checksum {trino_side.checksum})"
        )
        for column in differing_columns(duckdb_side, trino_side):
            left, right = duckdb_side.column_values(column), trino_side.column_values(column)
            problems.append(
                f"values of {column}: only on duckdb {list((left - right).elements())[:shown]}, "
                f"only on trino {list((right - left).elements())[:shown]}"
            )
    return problems


def differing_columns(duckdb_side: RelationRows, trino_side: RelationRows) -> list[str]:
    """The columns whose multiset of values differs between the two engines."""
    return [
        column
        for column in duckdb_side.columns
        if column in trino_side.columns and duckdb_side.column_values(column) != trino_side.column_values(column)
    ]


# --- reading and normalising ---------------------------------------------------------------------------------------


def read_duckdb_relation(connection: Any, schema: str, name: str) -> RelationRows:
    """A relation of the local profile's dbt database, as dbt built it on DuckDB (views included)."""
    relation = f'"{schema}"."{name}"'
    described = connection.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    types = {column: canonical_type(data_type) for column, data_type, *_ in described}
    return _read(connection.execute(f"SELECT * FROM {relation}"), types)


def read_trino_relation(connection: Any, schema: str, name: str) -> RelationRows:
    """A relation of the cluster's warehouse, read through Trino as its users read it (views included)."""
    cursor = connection.cursor()
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = '{name}' ORDER BY ordinal_position"
    )
    types = {column: canonical_type(data_type) for column, data_type in cursor.fetchall()}
    cursor.execute(f'SELECT * FROM "{schema}"."{name}"')
    return _read(cursor, types)


def _read(cursor: Any, types: dict[str, str]) -> RelationRows:
    columns = [description[0] for description in cursor.description]
    result = RelationRows(columns, {column: types[column] for column in columns})
    while batch := cursor.fetchmany(10_000):
        result.rows.update(tuple(normalise(value) for value in row) for row in batch)
    return result


def canonical_type(data_type: str) -> str:
    """One spelling per type for both engines: DuckDB's ``TIMESTAMP`` is Trino's ``timestamp(6)``, and so on."""
    spelled = re.sub(r"\s+", " ", data_type.strip().lower())
    spelled = re.sub(r"decimal\((\d+), ?(\d+)\)", r"decimal(\1,\2)", spelled)
    if spelled.endswith("[]"):
        return f"array({canonical_type(spelled[:-2])})"
    return {
        "timestamp": "timestamp(6)",
        "timestamp with time zone": "timestamp(6) with time zone",
        "float": "real",
    }.get(spelled, spelled)


def normalise(value: Any) -> Any:
    """A value in the form both engines' clients give the same stored value (see the module's docstring)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ("double", repr(value))
        return ("double", float(f"{value:.{FLOAT_DIGITS}g}"))
    if isinstance(value, Decimal):
        return ("decimal", format(value.normalize(), "f"))
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return ("timestamp", value.isoformat(sep=" ", timespec="microseconds"))
    if isinstance(value, (date, time_of_day)):
        return (type(value).__name__, value.isoformat())
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ("binary", bytes(value).hex())
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(key), normalise(item)) for key, item in value.items())))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(normalise(item) for item in value))
    raise TypeError(f"no normal form for {type(value).__name__} values: {value!r}")


def warehouse_relations(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(schema, name) of every model, seed and snapshot dbt builds in silver and gold (ephemeral models aside)."""
    relations = []
    for node in manifest["nodes"].values():
        if node["resource_type"] not in _RELATION_TYPES or node["schema"] not in LAYERS:
            continue
        if node["config"].get("materialized") == "ephemeral":
            continue
        relations.append((node["schema"], node.get("alias") or node["name"]))
    return sorted(relations)


@dataclass(frozen=True)
class CapturedWarehouse:
    """Both engines' rows of every relation, as they were at the end of one round, on disk."""

    directory: Path
    relations: list[tuple[str, str]]

    def rows(self, engine: str, schema: str, name: str) -> RelationRows:
        with (self.directory / engine / f"{schema}.{name}.pickle").open("rb") as file:
            rows = pickle.load(file)  # written by capture_warehouses in this test run
        assert isinstance(rows, RelationRows)
        return rows


def capture_warehouses(
    directory: Path, relations: list[tuple[str, str]], duckdb_connection: Any, trino_connection: Any
) -> CapturedWarehouse:
    readers = {
        "duckdb": lambda schema, name: read_duckdb_relation(duckdb_connection, schema, name),
        "trino": lambda schema, name: read_trino_relation(trino_connection, schema, name),
    }
    for engine, read in readers.items():
        (directory / engine).mkdir(parents=True)
        for schema, name in relations:
            with (directory / engine / f"{schema}.{name}.pickle").open("wb") as file:
                pickle.dump(read(schema, name), file, protocol=pickle.HIGHEST_PROTOCOL)
    return CapturedWarehouse(directory, relations)


# --- the two lakehouses and their builds ---------------------------------------------------------------------------


@dataclass
class EngineSources:
    postgres: PostgresServer
    incidents: IncidentsServer
    olist_batches: list[Path]


@dataclass
class EngineBuild:
    """One ``civiclake transform`` of one lakehouse: the command's result, dbt's run results and manifest."""

    lakehouse: DbtLakehouse
    result: Result
    run_results: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def project(self) -> DbtProject:
        return DbtProject.from_settings(self.lakehouse.settings)

    def results_by_type(self) -> Counter[str]:
        return Counter(result["unique_id"].split(".", 1)[0] for result in self.run_results["results"])

    def compiled_code(self, unique_id: str) -> str:
        [result] = [result for result in self.run_results["results"] if result["unique_id"] == unique_id]
        return str(result["compiled_code"])


@dataclass
class BuildRound:
    """Both lakehouses after the same syncs and a transform each."""

    trino: EngineBuild
    duckdb: EngineBuild
    captured: CapturedWarehouse
    # Per Iceberg table dbt merges into on Trino (incremental models, the snapshot): its snapshot ids, oldest first.
    trino_snapshots: dict[str, list[int]]
    deleted: dict[str, set[int]] = field(default_factory=dict)  # ShopStream ids hard-deleted before the round

    @property
    def engines(self) -> dict[str, EngineBuild]:
        return {"duckdb": self.duckdb, "trino": self.trino}


def _transform(lakehouse: DbtLakehouse) -> EngineBuild:
    # Every node, each round (not only what the round's sources changed): both engines are compared node by node,
    # and the second round must exercise every incremental model's merge.
    result = lakehouse.civiclake("transform", "--full")
    project = DbtProject.from_settings(lakehouse.settings)
    run_results_path = project.target_path / "run_results.json"
    run_results = json.loads(run_results_path.read_text()) if run_results_path.exists() else {"results": []}
    return EngineBuild(lakehouse, result, run_results, project.manifest())


def merged_tables(manifest: Mapping[str, Any]) -> list[str]:
    """The relations dbt merges into rather than rebuilds: incremental models and snapshots."""
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "snapshot"
        or (node["resource_type"] == "model" and node["config"].get("materialized") == "incremental")
    )


def _trino_snapshots(cluster: ClusterServers, manifest: Mapping[str, Any]) -> dict[str, list[int]]:
    snapshots = {}
    for name in merged_tables(manifest):
        rows = cluster.trino.query(f'SELECT snapshot_id FROM iceberg.silver."{name}$snapshots" ORDER BY committed_at')
        snapshots[name] = [snapshot_id for (snapshot_id,) in rows]
    return snapshots


def _build_round(cluster: ClusterServers, lakehouses: Mapping[str, DbtLakehouse], directory: Path) -> BuildRound:
    builds = {engine: _transform(lakehouse) for engine, lakehouse in lakehouses.items()}
    trino_snapshots = _trino_snapshots(cluster, builds["trino"].manifest)
    duckdb_project = builds["duckdb"].project
    with (
        closing(open_database(duckdb_project.duckdb_path, duckdb_project.extensions_dir, read_only=True)) as duck,
        closing(cluster.trino.connect()) as trino,
    ):
        captured = capture_warehouses(directory, warehouse_relations(builds["duckdb"].manifest), duck, trino)
    return BuildRound(builds["trino"], builds["duckdb"], captured, trino_snapshots)


@pytest.fixture(scope="package")
def engine_sources(cluster: ClusterServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineSources]:
    """ShopStream in the suite's PostgreSQL, the incidents API, the Olist batches: one copy for both lakehouses."""
    base = tmp_path_factory.mktemp("engine-sources")
    shopstream_database(cluster.postgres, SHOPSTREAM_DATABASE, scale=SHOPSTREAM_SCALE)
    with ExitStack() as stack:
        incidents = stack.enter_context(IncidentsServer(incidents=INCIDENTS))
        yield EngineSources(cluster.postgres, incidents, olist_batches(base, OLIST_ORDERS, OLIST_BATCHES))


@pytest.fixture(scope="package")
def first_builds(
    cluster: ClusterServers, engine_sources: EngineSources, tmp_path_factory: pytest.TempPathFactory
) -> BuildRound:
    """Round one: the four sources synced into both lakehouses, then ``civiclake transform`` on each."""
    base = tmp_path_factory.mktemp("engines")
    lakehouses = {
        # One pseudonymisation key for both: the same person gets the same pseudonym on either engine.
        "duckdb": DbtLakehouse.create(base / "duckdb", **{KEY_VARIABLE: cluster.environment[KEY_VARIABLE]}),
        "trino": DbtLakehouse.create(base / "trino", **cluster.environment),
    }
    sources = engine_sources
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)  # package fixtures run before the per-test environment cleanup
        with MirrorServer() as mirror:
            for lakehouse in lakehouses.values():
                lakehouse.sync_datagouv(mirror)
        for lakehouse in lakehouses.values():
            lakehouse.land_olist_batches(sources.olist_batches[0].parent, sources.olist_batches[:-1])
            lakehouse.sync_shopstream(sources.postgres, SHOPSTREAM_DATABASE)
            lakehouse.sync_incidents(sources.incidents)
        return _build_round(cluster, lakehouses, base / "first-build")


@pytest.fixture(scope="package")
def builds_after_changes(
    cluster: ClusterServers,
    engine_sources: EngineSources,
    first_builds: BuildRound,
    tmp_path_factory: pytest.TempPathFactory,
) -> BuildRound:
    """Round two, on the lakehouses of round one: new Olist batch, ShopStream day with deletes, incidents +24 h."""
    lakehouses = {engine: build.lakehouse for engine, build in first_builds.engines.items()}
    sources = engine_sources
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)
        for lakehouse in lakehouses.values():
            lakehouse.land_olist_batches(sources.olist_batches[0].parent, sources.olist_batches[-1:])
        deleted = shopstream_day_of_changes(sources.postgres, SHOPSTREAM_DATABASE)
        sources.incidents.advance(hours=24)
        for lakehouse in lakehouses.values():
            lakehouse.sync_shopstream(sources.postgres, SHOPSTREAM_DATABASE)
            lakehouse.sync_incidents(sources.incidents)
        directory = tmp_path_factory.mktemp("engines-after-changes")
        built = _build_round(cluster, lakehouses, directory / "after-changes")
    built.deleted = deleted
    return built

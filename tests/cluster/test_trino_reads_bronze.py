"""Trino reads what civiclake's loader writes: the bronze (and meta) tables of the four sources, synced for real on
the cluster profile with pyiceberg, are read by the chart's Trino with the same columns, types and rows.

Isolation: the chart's catalog (database ``iceberg``, namespaces bronze/meta/silver/gold) belongs to the other tests
of the run, and the loader only writes to the namespaces ``bronze`` and ``meta``, whose sync state (per resource, in
the catalog database) would also be shared. So the syncs run with the cluster environment on a bucket and a catalog
database of their own (the same MinIO and PostgreSQL, the same catalog name), and the finished tables are registered
in the chart's catalog under two namespaces of this module: Trino, configured by the chart, reads the metadata files
civiclake wrote, through the JDBC catalog, as it would have read them under ``bronze``.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from civiclake.commands import connectors_for, run_sync
from civiclake.config import Settings, load_settings
from civiclake.demo.incidents.server import IncidentsServer
from civiclake.demo.mirror.server import MirrorServer
from civiclake.demo.shopstream.generator import apply_day_of_changes, generate_shopstream
from civiclake.registry import DatagouvDataset
from civiclake.servers.stack import ClusterServers
from civiclake.sources.datagouv import DatagouvConnector, DatagouvSelection
from civiclake.warehouse.catalog import open_catalog
from tests.transform.lakehouse import QUIET, clear_civiclake_environment, olist_batches

LINEAGE = {
    "_source": "varchar",
    "_dataset_id": "varchar",
    "_resource_id": "varchar",
    "_extracted_at": "timestamp(6) with time zone",
    "_ingested_at": "timestamp(6) with time zone",
    "_raw_path": "varchar",
    "_raw_sha256": "varchar",
    "_batch_id": "varchar",
    "_row_number": "bigint",
}
SOURCES = ("datagouv", "postgres", "files", "rest")
# The mirror's datasets, one per format family: CSV (frequentation en gares), XLSX and ZIP of CSVs (accidents, less
# its 55,000-row CSV), GeoJSON and JSON (IRVE).
DATAGOUV_DATASETS = [
    DatagouvDataset(id="5ce572bf226c7f3345dfbc63", name="frequentation_gares"),
    DatagouvDataset(
        id="53698f4ca3a729239d2036df",
        name="accidents",
        resources=["9644c603-d996-4c95-809d-9de5bc5dc665", "f049fd76-ded8-4277-9cc4-1216d6a45423"],
    ),
    DatagouvDataset(id="604f3a7237e3d1284af2d2f4", name="irve"),
]
# A file that changes shape between two syncs: `valeur` and `mesure` stop being integers (widened to text, the
# table's files rewritten), `commentaire` is new.
MESURES = {"id": "0b5e1b0e-0000-4000-8000-000000000001", "title": "Mesures", "format": "csv"}
MESURES_TABLE = "bronze.datagouv__mesures__mesures"
INCIDENTS_TABLE = "bronze.rest__incidents__incident"
EXTRA_INCIDENT_FIELD = "u_business_service"


def trino_type(iceberg: IcebergType) -> str:
    """The type Trino's Iceberg connector gives a column of this Iceberg type (as information_schema spells it)."""
    match iceberg:
        case StringType():
            return "varchar"
        case LongType():
            return "bigint"
        case IntegerType():
            return "integer"
        case DoubleType():
            return "double"
        case FloatType():
            return "real"
        case BooleanType():
            return "boolean"
        case DateType():
            return "date"
        case TimeType():
            return "time(6)"
        case TimestamptzType():
            return "timestamp(6) with time zone"
        case TimestampType():
            return "timestamp(6)"
        case DecimalType():
            return f"decimal({iceberg.precision},{iceberg.scale})"
        case BinaryType():
            return "varbinary"
        case UUIDType():
            return "uuid"
        case ListType():
            return f"array({trino_type(iceberg.element_type)})"
        case MapType():
            return f"map({trino_type(iceberg.key_type)}, {trino_type(iceberg.value_type)})"
        case StructType():
            return "row(" + ", ".join(f'"{f.name}" {trino_type(f.field_type)}' for f in iceberg.fields) + ")"
    raise AssertionError(f"no Trino type known for the Iceberg type {iceberg}: add it to the mapping")


@dataclass
class SyncedLakehouse:
    cluster: ClusterServers
    settings: Settings
    catalog: Catalog  # the syncs' own catalog
    namespaces: dict[str, str]  # civiclake's namespace -> the namespace registered in the chart's catalog

    def tables(self, namespace: str = "bronze") -> list[str]:
        return sorted(".".join(identifier) for identifier in self.catalog.list_tables(namespace))

    def table(self, name: str) -> Table:
        return self.catalog.load_table(name)

    def in_trino(self, name: str, suffix: str = "") -> str:
        """The registered table as Trino names it, or one of its metadata tables (``$partitions``...)."""
        namespace, table = name.split(".")
        return f'iceberg."{self.namespaces[namespace]}"."{table}{suffix}"'

    def trino(self, statement: str) -> list[tuple[Any, ...]]:
        return self.cluster.trino.query(statement)

    def trino_columns(self, namespace: str) -> dict[str, list[tuple[str, str]]]:
        """Per table of a namespace, its columns as Trino's information_schema lists them, in order."""
        found: dict[str, list[tuple[str, str]]] = {}
        rows = self.trino(
            "SELECT table_name, column_name, data_type FROM iceberg.information_schema.columns "
            f"WHERE table_schema = '{self.namespaces[namespace]}' ORDER BY table_name, ordinal_position"
        )
        for table, column, data_type in rows:
            found.setdefault(f"{namespace}.{table}", []).append((column, data_type))
        return found


def _sync(settings: Settings, connectors: list[Any]) -> None:
    report = run_sync(settings, connectors, QUIET)
    assert report.exit_code == 0, [(outcome.resource_id, outcome.error) for outcome in report.failed]


def _sync_datagouv(settings: Settings, mirror: MirrorServer, datasets: list[DatagouvDataset]) -> None:
    settings = settings.with_overrides(datagouv={"api_url": mirror.api_url})
    _sync(settings, [DatagouvConnector(settings.datagouv, settings.http, DatagouvSelection(datasets=datasets))])


def _serve_mesures(mirror: MirrorServer, content: bytes, last_modified: str) -> None:
    resource = {**MESURES, "last_modified": last_modified}
    mirror.add_dataset({"id": "mesures", "resources": [resource]}, {MESURES["id"]: content})


def sync_every_source(settings: Settings, cluster: ClusterServers, base: Path, shop_database: str) -> None:
    """Two rounds of every source, as two scheduled runs would bring them: tables get several snapshots, the
    changing file and the API's new field evolve their schemas, ShopStream's second round brings tombstones."""
    with MirrorServer() as mirror:
        _serve_mesures(mirror, b"code;valeur;mesure\n01001;1;3\n01002;2;4\n", "2026-01-01T00:00:00+00:00")
        _sync_datagouv(settings, mirror, [*DATAGOUV_DATASETS, DatagouvDataset(id="mesures")])
        _serve_mesures(
            mirror,
            b"code;valeur;mesure;commentaire\n01003;n/a;2,5;capteur en panne\n",
            "2026-02-01T00:00:00+00:00",
        )
        _sync_datagouv(settings, mirror, [DatagouvDataset(id="mesures")])

    cluster.postgres.create_database(shop_database)
    shop = psycopg2.connect(cluster.postgres.database_dsn(shop_database))
    try:
        generate_shopstream(shop, scale=0.02, seed=11)
        postgres = settings.with_overrides(
            postgres={
                "host": cluster.postgres.host,
                "port": cluster.postgres.port,
                "database": shop_database,
                "user": cluster.postgres.user,
            }
        )
        _sync(postgres, connectors_for(postgres, ["postgres"], []))
        apply_day_of_changes(shop, seed=11)
        _sync(postgres, connectors_for(postgres, ["postgres"], []))
    finally:
        shop.close()

    landing = settings.home / "landing"
    for batch in olist_batches(base, orders=100, batches=2):
        shutil.copytree(batch, landing / batch.name)
        _sync(settings, connectors_for(settings, ["files"], []))

    with IncidentsServer(incidents=60) as api:
        rest = settings.with_overrides(**api.settings_overrides())
        _sync(rest, connectors_for(rest, ["rest"], []))
        api.advance(hours=24)
        api.add_extra_field(EXTRA_INCIDENT_FIELD, "Email", pages=None)
        _sync(rest, connectors_for(rest, ["rest"], []))


@pytest.fixture(scope="module")
def lakehouse(cluster: ClusterServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncedLakehouse]:
    base = tmp_path_factory.mktemp("bronze-on-trino")
    suffix = uuid.uuid4().hex[:10]
    lake = f"reads{suffix}"
    cluster.minio.create_bucket(lake)
    cluster.postgres.create_database(lake)
    environ = {
        **cluster.environment,
        "CIVICLAKE_HOME": str(base / "home"),
        "CIVICLAKE_SECRETS_DIR": str(base / "no-secrets"),
        "CIVICLAKE__S3__BUCKET": lake,
        "CIVICLAKE__CATALOG__URI": cluster.postgres.sqlalchemy_url(lake),
    }
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)  # module fixtures run before the per-test environment cleanup
        settings = load_settings(environ=environ)
        sync_every_source(settings, cluster, base, shop_database=f"shop{suffix}")
        catalog = open_catalog(settings)
        chart = open_catalog(load_settings(environ={**cluster.environment, "CIVICLAKE_HOME": str(base / "chart")}))
    namespaces = {namespace: f"reads_{suffix}_{namespace}" for namespace in ("bronze", "meta")}
    registered = []
    for namespace, registered_namespace in namespaces.items():
        chart.create_namespace(registered_namespace)
        for _, table in catalog.list_tables(namespace):
            metadata = catalog.load_table((namespace, table)).metadata_location
            chart.register_table((registered_namespace, table), metadata)
            registered.append((registered_namespace, table))
    yield SyncedLakehouse(cluster, settings, catalog, namespaces)
    # Only the catalog entries: the files stay in the module's bucket, which nobody else reads.
    for identifier in registered:
        chart.drop_table(identifier)
    for registered_namespace in namespaces.values():
        chart.drop_namespace(registered_namespace)


def comparable(value: Any) -> Any:
    # NaN is not equal to itself: both engines' NaNs count as the same value.
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def test_every_source_and_format_is_synced_and_every_table_is_in_trino(lakehouse: SyncedLakehouse) -> None:
    ingestions = lakehouse.table("meta.ingestions").scan().to_arrow().to_pylist()
    loaded = [row for row in ingestions if row["status"] == "loaded"]
    assert {row["source"] for row in loaded} == set(SOURCES)
    assert {"csv", "xlsx", "zip", "geojson", "json", "parquet", "ndjson"} <= {row["format"] for row in loaded}
    bronze = lakehouse.tables("bronze")
    assert {name.split(".")[1].split("__")[0] for name in bronze} == set(SOURCES)

    for namespace in ("bronze", "meta"):
        shown = lakehouse.trino(f'SHOW TABLES FROM iceberg."{lakehouse.namespaces[namespace]}"')
        assert sorted(f"{namespace}.{table}" for (table,) in shown) == lakehouse.tables(namespace)


def test_trino_gives_every_column_the_trino_type_of_its_iceberg_type(lakehouse: SyncedLakehouse) -> None:
    seen: set[str] = set()
    for namespace in ("bronze", "meta"):
        in_trino = lakehouse.trino_columns(namespace)
        for name in lakehouse.tables(namespace):
            fields = lakehouse.table(name).schema().fields
            assert in_trino[name] == [(field.name, trino_type(field.field_type)) for field in fields], name
            seen |= {type(field.field_type).__name__ for field in fields}
    # The sources between them produce every type the loader writes; a mapping never exercised proves nothing.
    assert {
        "StringType",
        "LongType",
        "IntegerType",
        "DoubleType",
        "DecimalType",
        "BooleanType",
        "TimestamptzType",
        "TimestampType",
    } <= seen


def test_trino_reads_the_same_rows_as_pyiceberg_in_every_table(lakehouse: SyncedLakehouse) -> None:
    differing = {}
    for namespace in ("bronze", "meta"):
        for name in lakehouse.tables(namespace):
            arrow = lakehouse.table(name).scan().to_arrow()
            columns = ", ".join(f'"{column}"' for column in arrow.column_names)
            by_pyiceberg = Counter(tuple(map(comparable, row.values())) for row in arrow.to_pylist())
            read = lakehouse.trino(f"SELECT {columns} FROM {lakehouse.in_trino(name)}")
            by_trino = Counter(tuple(map(comparable, row)) for row in read)
            assert arrow.num_rows > 0, name
            if by_trino != by_pyiceberg:
                differing[name] = {
                    "only in pyiceberg": list((by_pyiceberg - by_trino).elements())[:3],
                    "only in trino": list((by_trino - by_pyiceberg).elements())[:3],
                }
    assert differing == {}


def test_every_bronze_row_carries_its_lineage_and_it_leads_to_the_raw_file(lakehouse: SyncedLakehouse) -> None:
    raw = lakehouse.cluster.minio.filesystem()
    bucket = lakehouse.settings.s3.bucket
    in_trino = lakehouse.trino_columns("bronze")
    for name in lakehouse.tables("bronze"):
        source = name.split(".")[1].split("__")[0]
        columns = dict(in_trino[name])
        assert {column: columns.get(column) for column in LINEAGE} == LINEAGE, name
        table = lakehouse.in_trino(name)
        # Every lineage value is there and well formed (a NULL anywhere makes the row not well formed), and a bronze
        # row points at exactly one row of one raw file.
        [(rows, well_formed, distinct)] = lakehouse.trino(
            f"SELECT count(*), count_if(coalesce(_source = '{source}' AND _dataset_id IS NOT NULL "
            "AND _resource_id IS NOT NULL AND _batch_id IS NOT NULL AND _ingested_at >= _extracted_at "
            f"AND starts_with(_raw_path, 's3://{bucket}/raw/{source}/') "
            "AND regexp_like(_raw_sha256, '^[0-9a-f]{64}$') AND _row_number >= 1, false)), "
            f"count(DISTINCT (_raw_path, _row_number)) FROM {table}"
        )
        assert rows == well_formed == distinct > 0, name
        for path, sha256 in lakehouse.trino(f"SELECT DISTINCT _raw_path, _raw_sha256 FROM {table}"):
            with raw.open_input_stream(path.removeprefix("s3://")) as stream:
                assert hashlib.sha256(stream.read()).hexdigest() == sha256, path


def test_bronze_tables_are_partitioned_by_extraction_day_in_trino(lakehouse: SyncedLakehouse) -> None:
    for name in lakehouse.tables("bronze"):
        [(create,)] = lakehouse.trino(f"SHOW CREATE TABLE {lakehouse.in_trino(name)}")
        assert "partitioning = ARRAY['day(_extracted_at)']" in create, name
        table = lakehouse.table(name)
        extracted = table.scan(selected_fields=("_extracted_at",)).to_arrow().column("_extracted_at").to_pylist()
        partitions = lakehouse.trino(
            'SELECT partition."_extracted_at_day", record_count, file_count '
            f"FROM {lakehouse.in_trino(name, '$partitions')}"
        )
        assert {day for day, _, _ in partitions} == {moment.date() for moment in extracted}, name
        assert sum(rows for _, rows, _ in partitions) == len(extracted), name
        assert sum(files for _, _, files in partitions) == len(list(table.scan().plan_files())), name


def test_a_widened_file_and_a_new_api_field_read_the_same_on_trino(lakehouse: SyncedLakehouse) -> None:
    columns = dict(lakehouse.trino_columns("bronze")[MESURES_TABLE])
    assert (columns["valeur"], columns["mesure"], columns["commentaire"]) == ("varchar",) * 3
    assert lakehouse.trino(
        f"SELECT code, valeur, mesure, commentaire FROM {lakehouse.in_trino(MESURES_TABLE)} ORDER BY code"
    ) == [
        ("01001", "1", "3", None),
        ("01002", "2", "4", None),
        ("01003", "n/a", "2.5", "capteur en panne"),
    ]

    incidents = lakehouse.in_trino(INCIDENTS_TABLE)
    by_batch = lakehouse.trino(
        f"SELECT _batch_id, count(*), count({EXTRA_INCIDENT_FIELD}) FROM {incidents} GROUP BY 1 ORDER BY 1"
    )
    assert len(by_batch) == 2
    (_, first_rows, first_filled), (_, second_rows, second_filled) = by_batch
    assert first_rows > 0 and first_filled == 0, "rows loaded before the field existed read NULL"
    assert second_rows > 0 and second_filled == second_rows

    # Trino reads meta.schema_changes too: the changes it just saw, as civiclake recorded them.
    changes = lakehouse.trino(
        f"SELECT table_name, column_name, change FROM {lakehouse.in_trino('meta.schema_changes')}"
    )
    assert {tuple(change) for change in changes} == {
        (MESURES_TABLE, "valeur", "widened_to_string"),
        (MESURES_TABLE, "mesure", "widened_to_string"),
        (MESURES_TABLE, "commentaire", "added"),
        (INCIDENTS_TABLE, EXTRA_INCIDENT_FIELD, "added"),
    }


def test_tables_with_several_snapshots_have_the_same_history_on_trino(lakehouse: SyncedLakehouse) -> None:
    several = []
    for namespace in ("bronze", "meta"):
        for name in lakehouse.tables(namespace):
            metadata = lakehouse.table(name).metadata
            if len(metadata.snapshots) > 1:
                several.append(name)
            history = lakehouse.trino(f"SELECT snapshot_id, parent_id FROM {lakehouse.in_trino(name, '$snapshots')}")
            assert sorted(tuple(row) for row in history) == sorted(
                (snapshot.snapshot_id, snapshot.parent_snapshot_id) for snapshot in metadata.snapshots
            ), name
            # Time travel to earlier versions (the rows test reads the current one): the oldest and the newest
            # before the current. At each, Trino counts the rows the snapshot's own summary records.
            current = metadata.current_snapshot_id
            earlier = [snapshot for snapshot in metadata.snapshots if snapshot.snapshot_id != current]
            for snapshot in {snapshot.snapshot_id: snapshot for snapshot in earlier[:1] + earlier[-1:]}.values():
                [(rows,)] = lakehouse.trino(
                    f"SELECT count(*) FROM {lakehouse.in_trino(name)} FOR VERSION AS OF {snapshot.snapshot_id}"
                )
                assert rows == int(snapshot.summary["total-records"]), (name, snapshot.snapshot_id)
    assert {MESURES_TABLE, INCIDENTS_TABLE, "bronze.files__olist__orders", "meta.ingestions"} <= set(several)

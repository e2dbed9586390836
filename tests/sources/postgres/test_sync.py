"""`civiclake sync --source postgres` end to end: real PostgreSQL, real raw zone, real Iceberg bronze tables."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from civiclake.cli.main import cli
from civiclake.demo.shopstream import TABLES, apply_day_of_changes, generate_shopstream
from civiclake.sources.postgres import PostgresConnector
from civiclake.sources.postgres.columns import TIMESTAMP_UTC
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.duck import connect
from tests.sources.postgres.shop import BRONZE, Shop, ids, outcomes

pytestmark = pytest.mark.integration

LINEAGE = ["_source", "_dataset_id", "_resource_id", "_extracted_at", "_ingested_at", "_raw_path", "_raw_sha256",
           "_batch_id", "_row_number"]  # fmt: skip
EXPECTED_TYPES = {
    "users": {"id": pa.int64(), "email": pa.string(), "country": pa.string(), "created_at": TIMESTAMP_UTC},
    "products": {"unit_price": pa.decimal128(10, 2), "unit_cost": pa.decimal128(10, 2), "active": pa.bool_()},
    "orders": {"user_id": pa.int64(), "total_amount": pa.decimal128(12, 2), "ordered_at": TIMESTAMP_UTC},
    "order_items": {"quantity": pa.int32(), "discount_amount": pa.decimal128(10, 2)},
    "events": {"session_id": pa.string(), "metadata": pa.string(), "occurred_at": TIMESTAMP_UTC},
    "crm_contacts": {"user_id": pa.int64(), "lifecycle_stage": pa.string(), "updated_at": TIMESTAMP_UTC},
}


def _text_as_string(data_type: pa.DataType) -> pa.DataType:
    # Iceberg strings come back as string or large_string depending on the reader: both are text.
    return pa.string() if pa.types.is_large_string(data_type) else data_type


def _database_ids(shop: Shop, table: str) -> list[int]:
    return [row[0] for row in shop.execute(f"SELECT id FROM {table} ORDER BY id")]


def test_first_sync_changes_then_nothing(shop: Shop) -> None:
    counts = generate_shopstream(shop.connection, scale=1)
    shop.overrides = {"fetch_batch_size": 997}  # several server-side batches per table

    first = shop.sync()
    assert first.exit_code == 0, [outcome.error for outcome in first.failed]
    assert outcomes(first) == {table: ("loaded", counts[table]) for table in TABLES}
    assert shop.bronze_tables() == {BRONZE + table for table in TABLES}
    for table in TABLES:
        bronze = shop.bronze(table)
        assert ids(bronze) == _database_ids(shop, table)
        assert bronze.column_names[-10:] == ["_deleted", *LINEAGE]
        assert bronze.schema.field("_deleted").type == pa.bool_() and not any(bronze["_deleted"].to_pylist())
        for column, expected in EXPECTED_TYPES[table].items():
            assert _text_as_string(bronze.schema.field(column).type) == expected, (table, column)
        assert set(bronze["_source"].to_pylist()) == {"postgres"}
        assert set(bronze["_resource_id"].to_pylist()) == {f"{shop.database}.public.{table}"}
    event = shop.bronze("events").filter(pc.equal(shop.bronze("events")["id"], 1)).to_pylist()[0]
    assert json.loads(event["metadata"])["device"] in ("mobile", "desktop", "tablet") and len(event["session_id"]) == 36
    [(price, updated_at)] = shop.execute("SELECT unit_price, updated_at FROM products WHERE id = 7")
    product = shop.bronze("products").filter(pc.equal(shop.bronze("products")["id"], 7)).to_pylist()[0]
    assert (product["unit_price"], product["updated_at"]) == (price, updated_at)

    changes = apply_day_of_changes(shop.connection)
    second = shop.sync()
    assert second.exit_code == 0, [outcome.error for outcome in second.failed]
    for table in TABLES:
        bronze = shop.bronze(table)
        this_run = bronze.filter(pc.equal(bronze["_batch_id"], second.batch_id))
        assert ids(this_run, deleted=False) == sorted(changes.changed[table]), table
        assert ids(this_run, deleted=True) == sorted(changes.deleted[table]), table
        expected_rows = len(changes.changed[table]) + len(changes.deleted[table])
        assert outcomes(second)[table] == (("loaded", expected_rows) if expected_rows else ("unchanged", 0))
    assert len(changes.deleted["crm_contacts"]) == 5 and len(changes.deleted["users"]) == 1
    tombstones = shop.bronze("crm_contacts").filter(shop.bronze("crm_contacts")["_deleted"])
    assert set(tombstones["email"].to_pylist()) == {None}
    [(snapshot_time,)] = shop.execute("SELECT now()")
    crm = shop.bronze("crm_contacts")
    last_change = max(crm.filter(pc.invert(crm["_deleted"]))["updated_at"].to_pylist())
    for stamped in tombstones["updated_at"].to_pylist():  # the extraction's time: after every change it saw
        assert last_change < stamped <= snapshot_time

    third = shop.sync()
    assert outcomes(third) == {table: ("unchanged", 0) for table in TABLES}
    catalog = open_catalog(shop.settings)
    duck = connect(shop.settings, catalog)
    live = duck.execute(
        f"""
        SELECT count(*) FROM (
            SELECT id, _deleted, row_number() OVER (PARTITION BY id ORDER BY updated_at DESC, _extracted_at DESC) AS n
            FROM {BRONZE}crm_contacts
        ) WHERE n = 1 AND NOT _deleted
        """
    ).fetchone()
    assert live == (len(_database_ids(shop, "crm_contacts")),)


def test_a_rerun_right_after_a_success_reads_zero_records(shop: Shop) -> None:
    generate_shopstream(shop.connection, scale=0.05)
    assert shop.sync().exit_code == 0
    connector = PostgresConnector.from_settings(shop.settings)
    try:
        [found] = list(connector.discover())
        saved = shop.cursors()
        for resource in found.resources:
            destination = shop.home / f"{resource.title}.parquet"
            download = connector.fetch(resource, destination, None, saved[resource.resource_id])
            assert (download.records, download.cursor) == (0, saved[resource.resource_id]), resource.title
    finally:
        connector.close()


def test_all_tables_come_from_one_snapshot(shop: Shop) -> None:
    generate_shopstream(shop.connection, scale=0.05)
    connector = PostgresConnector.from_settings(shop.settings)
    try:
        [found] = list(connector.discover())
        by_table = {resource.title: resource for resource in found.resources}
        assert connector.fetch(by_table["users"], shop.home / "users.parquet", None, None).records == 50
        # Committed after the run's first read: the run must not see it, whichever table it reads next.
        shop.execute(
            "INSERT INTO orders (id, user_id, status, currency, shipping_country, total_amount, ordered_at) "
            "VALUES (9999, 1, 'paid', 'EUR', 'FR', 10, now())"
        )
        assert connector.fetch(by_table["orders"], shop.home / "orders.parquet", None, None).records == 250
    finally:
        connector.close()
    connector = PostgresConnector.from_settings(shop.settings)
    try:
        [found] = list(connector.discover())
        orders = next(resource for resource in found.resources if resource.title == "orders")
        assert connector.fetch(orders, shop.home / "orders.parquet", None, None).records == 251
    finally:
        connector.close()


def test_a_column_added_between_runs_reaches_bronze(shop: Shop) -> None:
    generate_shopstream(shop.connection, scale=0.05)
    assert shop.sync().exit_code == 0
    shop.execute("ALTER TABLE users ADD COLUMN referral_code text, ADD COLUMN loyalty_points integer")
    shop.execute(
        "UPDATE users SET referral_code = 'PARRAIN-' || id, loyalty_points = 10 * id, updated_at = now() "
        "WHERE id IN (2, 3)"
    )
    report = shop.sync()
    assert outcomes(report)["users"] == ("loaded", 2)
    users = shop.bronze("users")
    assert _text_as_string(users.schema.field("referral_code").type) == pa.string()
    assert users.schema.field("loyalty_points").type == pa.int32()
    latest = users.filter(pc.equal(users["_batch_id"], report.batch_id))
    assert sorted(zip(latest["id"].to_pylist(), latest["referral_code"].to_pylist(), strict=True)) == [
        (2, "PARRAIN-2"), (3, "PARRAIN-3"),
    ]  # fmt: skip
    assert users.num_rows == 52 and users["referral_code"].null_count == 50
    changes = shop.ingestions().filter(pc.equal(shop.ingestions()["batch_id"], report.batch_id))
    assert {row["status"] for row in changes.to_pylist() if row["resource_title"] == "users"} == {"loaded"}


def test_cli_sync_source_postgres(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    generate_shopstream(shop.connection, scale=0.05)
    monkeypatch.setenv("CIVICLAKE_HOME", str(shop.home))
    monkeypatch.setenv("CIVICLAKE__POSTGRES__HOST", shop.server.host)
    monkeypatch.setenv("CIVICLAKE__POSTGRES__PORT", str(shop.server.port))
    monkeypatch.setenv("CIVICLAKE__POSTGRES__DATABASE", shop.database)
    monkeypatch.setenv("CIVICLAKE__POSTGRES__USER", "postgres")
    result = CliRunner().invoke(cli, ["sync", "--source", "postgres"], obj={})
    assert result.exit_code == 0, result.output
    assert shop.bronze("orders").num_rows == 250
    monkeypatch.delenv("CIVICLAKE__POSTGRES__HOST")
    unset = CliRunner().invoke(cli, ["sync", "--source", "postgres"], obj={})
    assert unset.exit_code == 2 and "CIVICLAKE__POSTGRES__HOST" in unset.output


def test_any_table_keeps_its_column_types_and_exact_values(shop: Shop) -> None:
    shop.execute(
        """
        CREATE TABLE kinds (
            id bigint PRIMARY KEY, small smallint, ratio double precision, flag boolean, day date, code char(3),
            label text, amount numeric(38, 10), free_amount numeric, nothing numeric(10, 2), tags int[],
            token uuid, doc jsonb, naive timestamp, created_at timestamptz, updated_at timestamptz NOT NULL
        )
        """
    )
    shop.execute(
        """
        INSERT INTO kinds VALUES
          (1, -3, 0.5, true, '1999-12-31', 'ab', 'Élodie ☕', 1234567890123456789012345678.0123456789,
           3.14159265358979323846264338327950288, NULL, '{1,2}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
           '{"b": [1, {"c": null}]}', '1900-01-01 00:00:00.000001', '1969-12-31 23:59:59.999999+00',
           '2026-03-29 01:59:59.123456+02'),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           '2026-03-29 01:59:59.123457+02')
        """
    )
    shop.overrides = {"tables": ["kinds"], "hard_delete_tables": []}
    assert outcomes(shop.sync()) == {"kinds": ("loaded", 2)}
    bronze = shop.bronze("kinds")
    types = {field.name: _text_as_string(field.type) for field in bronze.schema}
    expected = {  # smallint is an Iceberg int: Iceberg has no 16-bit integer
        "small": pa.int32(), "ratio": pa.float64(), "flag": pa.bool_(), "day": pa.date32(), "code": pa.string(),
        "amount": pa.decimal128(38, 10), "free_amount": pa.string(), "nothing": pa.decimal128(10, 2),
        "tags": pa.string(), "token": pa.string(), "doc": pa.string(),
    }  # fmt: skip
    assert {name: types[name] for name in expected} == expected
    assert (types["naive"], types["created_at"]) == (pa.timestamp("us"), TIMESTAMP_UTC)
    rows = sorted(bronze.to_pylist(), key=lambda row: row["id"])
    database = shop.execute("SELECT amount, free_amount::text, naive, created_at, updated_at FROM kinds ORDER BY id")
    first = rows[0]
    assert (first["amount"], first["free_amount"], first["naive"], first["created_at"]) == database[0][:4]
    assert [row["updated_at"] for row in rows] == [database[0][4], database[1][4]]
    assert (first["code"], first["label"], first["tags"], json.loads(first["doc"])) == (
        "ab ", "Élodie ☕", "{1,2}", {"b": [1, {"c": None}]},
    )  # fmt: skip
    assert all(value is None for key, value in rows[1].items() if key not in ("id", "updated_at") and key[0] != "_")
    # The saved cursor is the exact last (updated_at, id): a tie with a higher id, and a row one microsecond
    # later, are read next; nothing already read comes again.
    shop.execute(
        "INSERT INTO kinds (id, updated_at) VALUES "
        "(3, '2026-03-29 01:59:59.123457+02'), (4, '2026-03-29 01:59:59.123458+02')"
    )
    report = shop.sync()
    assert outcomes(report) == {"kinds": ("loaded", 2)}
    assert ids(shop.bronze("kinds").filter(pc.equal(shop.bronze("kinds")["_batch_id"], report.batch_id))) == [3, 4]

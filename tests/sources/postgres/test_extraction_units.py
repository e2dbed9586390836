"""Type mapping, key-set comparison and the saved cursor, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from civiclake.config import Settings, load_settings
from civiclake.errors import ConfigurationError, SourceError
from civiclake.lake.filesystem import lake_storage
from civiclake.sources.postgres import ExtractionCursor, PostgresConnector
from civiclake.sources.postgres.columns import TIMESTAMP_UTC, arrow_column, record_batch
from civiclake.sources.postgres.keys import KeyFiles, deleted_keys, same_key_set


@pytest.mark.parametrize(
    ("udt", "precision", "scale", "expected", "wire"),
    [
        ("int8", None, None, pa.int64(), "value"),
        ("int4", None, None, pa.int32(), "value"),
        ("numeric", 10, 2, pa.decimal128(10, 2), "text"),  # cast by Arrow from the exact text
        ("numeric", 12, 2, pa.decimal128(12, 2), "text"),
        ("numeric", None, None, pa.string(), "text"),  # unbounded: text keeps every digit
        ("numeric", 50, 4, pa.string(), "text"),  # wider than decimal128
        ("timestamptz", None, None, TIMESTAMP_UTC, "epoch_us"),
        ("timestamp", None, None, pa.timestamp("us"), "epoch_us"),
        ("bpchar", None, None, pa.string(), "value"),
        ("bool", None, None, pa.bool_(), "value"),
        ("uuid", None, None, pa.string(), "text"),
        ("jsonb", None, None, pa.string(), "text"),
        ("_int4", None, None, pa.string(), "text"),
    ],
)
def test_column_types(udt: str, precision: int | None, scale: int | None, expected: pa.DataType, wire: str) -> None:
    column = arrow_column("c", udt, precision, scale)
    assert (column.arrow_type, column.wire) == (expected, wire)


def test_rows_become_a_typed_batch_with_deleted_false() -> None:
    columns = [arrow_column("id", "int8", None, None), arrow_column("price", "numeric", 10, 2)]
    columns.append(arrow_column("at", "timestamptz", None, None))
    schema = pa.schema([column.field() for column in columns] + [pa.field("_deleted", pa.bool_())])
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    epoch_us = int((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    batch = record_batch([(1, "9.99", epoch_us), (2, None, None)], columns, schema)
    assert batch.to_pylist() == [
        {"id": 1, "price": Decimal("9.99"), "at": moment, "_deleted": False},
        {"id": 2, "price": None, "at": None, "_deleted": False},
    ]
    assert record_batch([], columns, schema).num_rows == 0
    assert columns[2].cursor_value(epoch_us) == moment
    assert arrow_column("t", "timestamp", None, None).cursor_value(epoch_us) == moment.replace(tzinfo=None)


def test_deleted_keys_are_those_gone_since_the_last_set() -> None:
    previous, current = pa.array([1, 2, 3, 5, 8], pa.int64()), pa.array([1, 3, 8, 13], pa.int64())
    deleted = deleted_keys(previous, current)
    assert deleted.to_pylist() == [2, 5]
    assert not same_key_set(previous, current, deleted)
    same = pa.array([1, 2, 3], pa.int64())
    assert same_key_set(same, same, deleted_keys(same, same))
    # Added keys only: nothing deleted, but a new set to save.
    grown = pa.array([1, 2, 3, 4], pa.int64())
    assert not same_key_set(same, grown, deleted_keys(same, grown))


def test_key_files_round_trip_and_prune(tmp_path: Path) -> None:
    settings = load_settings(environ={"CIVICLAKE_HOME": str(tmp_path)})
    keys = KeyFiles(lake_storage(settings), "postgres", "shopstream")
    first = keys.write("crm_contacts", pa.array([1, 2], pa.int64()), tmp_path / "scratch")
    second = keys.write("crm_contacts", pa.array([1], pa.int64()), tmp_path / "scratch")
    assert first.startswith("raw/postgres/shopstream/crm_contacts/_keys/") and first != second
    assert keys.read(second, "t").to_pylist() == [1]
    keys.prune("crm_contacts", keep={second})
    assert lake_storage(settings).list_files(keys.folder("crm_contacts")) == [second]
    with pytest.raises(SourceError, match=r"key set of the last extraction of t .* is missing.*--full-refresh"):
        keys.read(first, "t")


def test_the_cursor_is_small_json_and_refuses_other_columns() -> None:
    cursor = ExtractionCursor(("updated_at", "id"), (datetime(2026, 1, 1, tzinfo=UTC), 42), "raw/k.parquet")
    text = cursor.dumps()
    assert (
        text
        == '{"version":1,"columns":["updated_at","id"],"after":["2026-01-01T00:00:00+00:00",42],"keys":"raw/k.parquet"}'
    )
    loaded = ExtractionCursor.loads(text, ("updated_at", "id"), "t")
    assert loaded.after == ("2026-01-01T00:00:00+00:00", 42) and loaded.keys == "raw/k.parquet"
    with pytest.raises(
        SourceError, match=r"follows \('updated_at', 'id'\), the settings now say \('modified_at', 'id'\)"
    ):
        ExtractionCursor.loads(text, ("modified_at", "id"), "t")
    with pytest.raises(SourceError, match="not readable"):
        ExtractionCursor.loads("{", ("updated_at", "id"), "t")


def test_settings_from_environment_and_a_missing_host(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "CIVICLAKE__POSTGRES__PASSWORD").write_text("from-a-file\n")
    settings = load_settings(
        environ={
            "CIVICLAKE_HOME": str(tmp_path),
            "CIVICLAKE_SECRETS_DIR": str(secrets),
            "CIVICLAKE__POSTGRES__HOST": "db.internal",
            "CIVICLAKE__POSTGRES__SCHEMA": "shop",
            "CIVICLAKE__POSTGRES__TABLES": "users, orders",
            "CIVICLAKE__POSTGRES__HARD_DELETE_TABLES": "users",
        }
    )
    postgres = settings.postgres
    assert (postgres.host, postgres.schema_name, postgres.tables, postgres.hard_delete_tables) == (
        "db.internal", "shop", ("users", "orders"), ("users",),
    )  # fmt: skip
    assert postgres.password is not None and postgres.password.get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(settings)
    connector = PostgresConnector.from_settings(settings)
    [found] = list(connector.discover())
    assert [resource.url for resource in found.resources] == [
        "postgresql://db.internal:5432/shopstream/shop.users",
        "postgresql://db.internal:5432/shopstream/shop.orders",
    ]
    assert all(resource.incremental for resource in found.resources)
    assert (found.name, found.dataset.dataset_id, found.resources[0].resource_id) == (
        "shopstream", "shopstream", "shopstream.shop.users",
    )  # fmt: skip
    with pytest.raises(ConfigurationError, match="CIVICLAKE__POSTGRES__HOST"):
        PostgresConnector.from_settings(load_settings(environ={"CIVICLAKE_HOME": str(tmp_path)}))


def test_the_parquet_reader_keeps_the_deleted_column_name(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from civiclake.formats import open_tabular

    path = tmp_path / "extract.parquet"
    pq.write_table(pa.table({"id": [1], "_deleted": [True], "_Other Name": ["x"]}), path)
    [part] = open_tabular(path, "parquet")
    assert part.schema.names == ["id", "_deleted", "other_name"]  # other leading underscores still go


def test_a_full_sync_includes_the_source_only_once_it_has_a_host(tmp_path: Path) -> None:
    from civiclake.commands import connectors_for

    def postgres_connectors(settings: Settings, sources: list[str]) -> int:
        connectors = connectors_for(settings, sources, [])
        for connector in connectors:
            connector.close()
        return sum(isinstance(connector, PostgresConnector) for connector in connectors)

    unset = load_settings(environ={"CIVICLAKE_HOME": str(tmp_path)})
    assert postgres_connectors(unset, []) == 0
    with pytest.raises(ConfigurationError, match="CIVICLAKE__POSTGRES__HOST"):
        postgres_connectors(unset, ["postgres"])
    configured = unset.with_overrides(postgres={"host": "db.internal"})
    assert postgres_connectors(configured, ["postgres"]) == 1
    assert postgres_connectors(configured, []) == 1

"""meta.schema_changes says how a table's columns changed, and only when they did."""

from __future__ import annotations

import pytest

from civiclake.demo.mirror.server import MirrorServer
from civiclake.warehouse.catalog import open_catalog
from tests.pipeline.lakehouse import Lakehouse

pytestmark = pytest.mark.integration

RESOURCE_ID = "dddddddd-0000-4000-8000-000000000004"
TABLE = "bronze.datagouv__evolutions__communes"


def _sync(lakehouse: Lakehouse, mirror: MirrorServer, data: bytes) -> None:
    mirror.add_dataset(
        {"id": "evolutions", "resources": [{"id": RESOURCE_ID, "title": "Communes", "format": "csv"}]},
        {RESOURCE_ID: data},
    )
    assert lakehouse.sync("evolutions").exit_code == 0


def _changes(lakehouse: Lakehouse) -> list[tuple[str, str]]:
    rows = sorted(lakehouse.meta("schema_changes").to_pylist(), key=lambda row: row["changed_at"])
    return [(row["column_name"], row["change"]) for row in rows]


def test_numbers_into_a_text_column_are_appended_as_text_without_a_rewrite(
    lakehouse: Lakehouse, mirror: MirrorServer
) -> None:
    _sync(lakehouse, mirror, b"nom;surface\nAjaccio;environ 40\n")
    _sync(lakehouse, mirror, b"nom;surface\nBastia;19\n")  # all digits: read as integers

    rows = sorted(lakehouse.table(TABLE).to_pylist(), key=lambda row: row["_ingested_at"])
    assert [row["surface"] for row in rows] == ["environ 40", "19"]
    assert _changes(lakehouse) == []
    table = open_catalog(lakehouse.settings).load_table(TABLE)
    # Appends only: no snapshot deleted or rewrote the first file's rows.
    assert [snapshot.summary.operation.value for snapshot in table.snapshots()] == ["append", "append"]


def test_removed_and_renamed_columns_are_logged_once(lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    _sync(lakehouse, mirror, b"code;nom;population\n01001;Ain;800\n")
    _sync(lakehouse, mirror, b"code;population\n01002;900\n")  # `nom` removed
    _sync(lakehouse, mirror, b"code;population\n01003;1000\n")  # still absent: nothing new to log
    _sync(lakehouse, mirror, b"code;habitants\n01004;1100\n")  # `population` renamed `habitants`

    assert _changes(lakehouse) == [("nom", "removed"), ("habitants", "added"), ("population", "removed")]
    removed = [row for row in lakehouse.meta("schema_changes").to_pylist() if row["change"] == "removed"]
    assert {(row["column_name"], row["old_type"]) for row in removed} == {("nom", "string"), ("population", "int64")}

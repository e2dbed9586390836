"""Headers that normalise to the same name (``Code postal`` and ``code_postal``) keep their data apart from one file
to the next, whatever their order: each is bound to the table column of its original name."""

from __future__ import annotations

import pytest

from civiclake.demo.mirror.server import MirrorServer
from civiclake.formats import csv as csv_reader
from tests.pipeline.lakehouse import Lakehouse

pytestmark = pytest.mark.integration

RESOURCE_ID = "cccccccc-0000-4000-8000-000000000003"
TABLE = "bronze.datagouv__collisions__communes"


def _serve(mirror: MirrorServer, data: bytes) -> None:
    mirror.add_dataset(
        {"id": "collisions", "resources": [{"id": RESOURCE_ID, "title": "Communes", "format": "csv"}]},
        {RESOURCE_ID: data},
    )


@pytest.mark.parametrize("fast_path", [False, True], ids=["batch-path", "fast-path"])
def test_colliding_headers_are_bound_by_their_original_names(
    lakehouse: Lakehouse, mirror: MirrorServer, monkeypatch: pytest.MonkeyPatch, fast_path: bool
) -> None:
    if fast_path:
        monkeypatch.setattr(csv_reader, "FAST_PATH_MIN_BYTES", 0)
    files = [
        b"Code postal;code_postal;commune\n01000;note-1;Bourg\n",
        b"code_postal;Code postal;commune\nnote-2;02000;Laon\n",  # the same two headers, swapped
        b"commune;code_postal\nMoulins;note-3\n",  # only one of them
        b"Code Postal;commune\n04000;Digne\n",  # a third spelling, alone: bound by its name as before
    ]
    for data in files:
        _serve(mirror, data)
        assert lakehouse.sync("collisions").exit_code == 0

    rows = sorted(lakehouse.table(TABLE).to_pylist(), key=lambda row: row["_ingested_at"])
    assert [(row["commune"], row["code_postal"], row["code_postal_2"]) for row in rows] == [
        ("Bourg", "01000", "note-1"),
        ("Laon", "02000", "note-2"),
        ("Moulins", None, "note-3"),
        ("Digne", "04000", None),
    ]


def test_a_colliding_header_new_to_the_table_gets_a_column_of_its_own(
    lakehouse: Lakehouse, mirror: MirrorServer
) -> None:
    _serve(mirror, b"Code postal;commune\n01000;Bourg\n")
    assert lakehouse.sync("collisions").exit_code == 0
    # `code_postal` normalises to the name the table gave `Code postal`: it must not take that column.
    _serve(mirror, b"code_postal;Code postal;commune\nnote-2;02000;Laon\n")
    assert lakehouse.sync("collisions").exit_code == 0

    rows = sorted(lakehouse.table(TABLE).to_pylist(), key=lambda row: row["_ingested_at"])
    assert [(row["commune"], row["code_postal"], row["code_postal_2"]) for row in rows] == [
        ("Bourg", "01000", None),
        ("Laon", "02000", "note-2"),
    ]
    changes = [(row["column_name"], row["change"]) for row in lakehouse.meta("schema_changes").to_pylist()]
    assert ("code_postal_2", "added") in changes

"""What the pipeline gives every source beyond data.gouv.fr: saved cursors and tables shared by an entity.

The connector here is a small in-memory source of JSON records (a real connector, not a mock): it writes
NDJSON from its cursor on, the way the database and API connectors do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from civiclake.config import Settings, load_settings
from civiclake.errors import SourceError
from civiclake.pipeline import SyncPipeline, SyncReport
from civiclake.sources.base import DatasetInfo, DiscoveredDataset, Resource
from civiclake.sources.http import Download, ProgressCallback
from civiclake.warehouse.state import SyncState
from tests.pipeline.lakehouse import Lakehouse


class RecordSource:
    """Records with an ``updated`` counter; ``fetch`` writes those past the cursor as NDJSON."""

    source = "ledger"

    def __init__(self) -> None:
        self.records: list[dict[str, object]] = []
        self.fail_next_fetch = False
        self.cursors_seen: list[str | None] = []

    def add(self, *records: dict[str, object]) -> None:
        self.records.extend(records)

    def discover(self) -> Iterator[DiscoveredDataset]:
        info = DatasetInfo("ledger", "book", "book", "Book", None, "daily", None, None)
        resource = Resource(
            "ledger", "book", "book", "entries", "Entries", "memory://book/entries", "ndjson", incremental=True
        )
        yield DiscoveredDataset(info, [resource], [])

    def fetch(
        self, resource: Resource, destination: Path, on_progress: ProgressCallback | None, cursor: str | None
    ) -> Download:
        self.cursors_seen.append(cursor)
        if self.fail_next_fetch:
            self.fail_next_fetch = False
            raise SourceError("ledger is down")
        start = int(cursor) if cursor else 0
        fresh = [record for record in self.records if int(str(record["updated"])) > start]
        destination.write_text("".join(json.dumps(record) + "\n" for record in fresh), encoding="utf-8")
        data = destination.read_bytes()
        return Download(
            url=resource.url,
            final_url=resource.url,
            status=200,
            headers={},
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            cursor=str(max([start, *(int(str(record["updated"])) for record in fresh)])),
            records=len(fresh),
        )

    def close(self) -> None:
        return None


class DroppedFiles:
    """Two files dropped for one entity: two resources, one table."""

    source = "drops"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def discover(self) -> Iterator[DiscoveredDataset]:
        info = DatasetInfo("drops", "shop", "shop", "Shop", None, None, None, None)
        resources = [
            Resource("drops", "shop", "shop", path.name, f"orders batch {path.stem}", path.as_uri(), entity="orders")
            for path in sorted(self.folder.glob("*.csv"))
        ]
        yield DiscoveredDataset(info, resources, [])

    def fetch(
        self, resource: Resource, destination: Path, on_progress: ProgressCallback | None, cursor: str | None
    ) -> Download:
        data = (self.folder / resource.resource_id).read_bytes()
        destination.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        return Download(resource.url, resource.url, 200, {}, len(data), digest)

    def close(self) -> None:
        return None


def _sync(settings: Settings, connector: RecordSource | DroppedFiles) -> SyncReport:
    pipeline = SyncPipeline(settings)
    try:
        return pipeline.sync(connector)
    finally:
        pipeline.close()


def test_incremental_resource_loads_only_what_changed_since_its_saved_cursor(lakehouse: Lakehouse) -> None:
    source = RecordSource()
    source.add({"id": 1, "updated": 10, "name": "a"}, {"id": 2, "updated": 20, "name": "b"})

    first = _sync(lakehouse.settings, source)
    assert [(o.status, o.rows) for o in first.outcomes] == [("loaded", 2)]

    nothing_new = _sync(lakehouse.settings, source)
    assert [(o.status, o.rows) for o in nothing_new.outcomes] == [("unchanged", 0)]

    source.add({"id": 1, "updated": 30, "name": "a2"})
    second = _sync(lakehouse.settings, source)
    assert [(o.status, o.rows) for o in second.outcomes] == [("loaded", 1)]

    assert source.cursors_seen == [None, "20", "20"]
    table = lakehouse.table("bronze.ledger__book__entries")
    assert sorted(zip(table["id"].to_pylist(), table["name"].to_pylist(), strict=True)) == [
        (1, "a"),
        (1, "a2"),
        (2, "b"),
    ]
    # An extraction that found nothing keeps no raw file: two loads, two raw files.
    raw_files = [p for p in (lakehouse.settings.home / "lake").rglob("*") if p.is_file() and p.suffix != ".json"]
    assert len(raw_files) == 2


def test_a_failed_fetch_keeps_the_cursor_so_the_rerun_loses_nothing(lakehouse: Lakehouse) -> None:
    source = RecordSource()
    source.add({"id": 1, "updated": 10})
    _sync(lakehouse.settings, source)
    source.add({"id": 2, "updated": 20})

    source.fail_next_fetch = True
    failed = _sync(lakehouse.settings, source)
    assert failed.outcomes[0].status == "failed"
    assert "ledger is down" in (failed.outcomes[0].error or "")

    rerun = _sync(lakehouse.settings, source)
    assert [(o.status, o.rows) for o in rerun.outcomes] == [("loaded", 1)]
    assert source.cursors_seen == [None, "10", "10"]
    assert sorted(lakehouse.table("bronze.ledger__book__entries")["id"].to_pylist()) == [1, 2]


def test_a_full_refresh_starts_from_no_cursor(lakehouse: Lakehouse) -> None:
    source = RecordSource()
    source.add({"id": 1, "updated": 10})
    _sync(lakehouse.settings, source)
    pipeline = SyncPipeline(lakehouse.settings)
    try:
        report = pipeline.sync(source, full_refresh=True)
    finally:
        pipeline.close()
    assert source.cursors_seen == [None, None]
    # Same bytes as the first load: the bronze table already holds them, nothing is added twice.
    assert report.outcomes[0].status == "unchanged"
    assert lakehouse.table("bronze.ledger__book__entries").num_rows == 1


def test_resources_of_one_entity_append_to_one_table(lakehouse: Lakehouse, tmp_path: Path) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    (drops / "0001.csv").write_text("order_id;total\nA;1\nB;2\n", encoding="utf-8")
    first = _sync(lakehouse.settings, DroppedFiles(drops))
    (drops / "0002.csv").write_text("order_id;total\nC;3\n", encoding="utf-8")
    second = _sync(lakehouse.settings, DroppedFiles(drops))

    assert [o.tables for o in first.outcomes] == [["bronze.drops__shop__orders"]]
    assert [(o.resource_id, o.status) for o in second.outcomes] == [("0001.csv", "unchanged"), ("0002.csv", "loaded")]
    assert second.outcomes[1].tables == ["bronze.drops__shop__orders"]
    assert sorted(lakehouse.table("bronze.drops__shop__orders")["order_id"].to_pylist()) == ["A", "B", "C"]


def test_a_state_table_from_before_cursors_gains_the_column(backend_environment: dict[str, str]) -> None:
    settings = load_settings(environ=backend_environment)
    settings.home.mkdir(parents=True)
    uri = settings.catalog_uri
    engine = sa.create_engine(uri)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE civiclake_resource_state (source VARCHAR(64), resource_id VARCHAR(255), "
                "dataset_id VARCHAR(255) NOT NULL, dataset_name VARCHAR(64) NOT NULL, "
                "resource_name VARCHAR(64) NOT NULL, change_marker TEXT, sha256 VARCHAR(64), raw_path TEXT, "
                "last_success_at TIMESTAMP WITH TIME ZONE, last_attempt_at TIMESTAMP WITH TIME ZONE, "
                "last_status VARCHAR(32), last_error TEXT, "
                "PRIMARY KEY (source, resource_id))"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO civiclake_resource_state (source, resource_id, dataset_id, dataset_name, resource_name, "
                "sha256, last_status) VALUES ('ledger', 'archive', 'book', 'book', 'archive', 'abc', 'loaded')"
            )
        )
    engine.dispose()

    state = SyncState(uri)
    try:
        state.assign_names("ledger", "book", "entries", "book", "entries")
        state.record("ledger", "entries", status="loaded", cursor="42")
        known = state.for_source("ledger")
        assert known["entries"].cursor == "42"
        assert (known["archive"].sha256, known["archive"].last_status, known["archive"].cursor) == (
            "abc",
            "loaded",
            None,
        )
    finally:
        state.close()

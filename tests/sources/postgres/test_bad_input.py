"""What bad input gets: PostgreSQL down, a table gone or unreadable, a failed load followed by a rerun."""

from __future__ import annotations

import socket

import pyarrow.compute as pc
import pytest

from civiclake.demo.shopstream import TABLES, apply_day_of_changes, generate_shopstream
from civiclake.lake.filesystem import lake_storage
from civiclake.warehouse.bronze import BronzeLoader
from tests.sources.postgres.shop import Shop, ids, outcomes

pytestmark = pytest.mark.integration

PASSWORD = "pw-that-must-never-show"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket closes


def test_postgres_down_fails_every_table_and_commits_nothing(shop: Shop) -> None:
    port = _closed_port()
    shop.overrides = {"port": port, "password": PASSWORD}
    report = shop.sync()
    assert report.exit_code == 1
    assert outcomes(report) == {table: ("failed", 0) for table in TABLES}
    for outcome in report.outcomes:
        assert f"cannot connect to PostgreSQL at 127.0.0.1:{port}, database '{shop.database}'" in (outcome.error or "")
    assert shop.bronze_tables() == set()
    assert set(shop.cursors().values()) == {None}
    errors = shop.ingestions()["error"].to_pylist()
    assert len(errors) == 6 and all(f"127.0.0.1:{port}" in error for error in errors)
    assert not any(PASSWORD in error for error in errors)
    assert not any(PASSWORD in path.read_text(errors="replace") for path in shop.home.rglob("*.json"))


def test_a_refused_login_is_reported_without_the_password(shop: Shop) -> None:
    # The throwaway cluster trusts every existing role: an unknown one is what gets refused here.
    shop.overrides = {"user": "nobody_here", "password": PASSWORD}
    report = shop.sync()
    assert {outcome.status for outcome in report.outcomes} == {"failed"}
    error = report.outcomes[0].error or ""
    assert "as 'nobody_here'" in error and 'role "nobody_here" does not exist' in error
    assert PASSWORD not in error


def test_a_table_that_vanished_fails_alone(shop: Shop) -> None:
    generate_shopstream(shop.connection, scale=0.05)
    assert shop.sync().exit_code == 0
    changes = apply_day_of_changes(shop.connection)
    shop.execute("DROP TABLE events")
    report = shop.sync()
    assert report.exit_code == 1
    [failed] = report.failed
    assert failed.resource == "events"
    assert f"table public.events of 127.0.0.1:{shop.server.port}/{shop.database}: no such table" in (failed.error or "")
    for table in ("users", "orders", "order_items", "crm_contacts"):  # before and after the missing table
        assert outcomes(report)[table] == ("loaded", len(changes.changed[table]) + len(changes.deleted[table]))
    assert shop.bronze("events").num_rows == 750  # what the first run loaded stays


def test_an_unreadable_table_does_not_abort_the_snapshot_for_the_next_ones(shop: Shop) -> None:
    generate_shopstream(shop.connection, scale=0.05)
    # A view whose rows cannot be computed: the SELECT fails inside the run's transaction.
    shop.execute("CREATE VIEW broken AS SELECT id, updated_at, 1 / (id - id) AS boom FROM users")
    shop.overrides = {"tables": ["users", "broken", "orders"]}
    report = shop.sync()
    assert outcomes(report) == {"users": ("loaded", 50), "broken": ("failed", 0), "orders": ("loaded", 250)}
    assert "division by zero" in (report.failed[0].error or "")


def test_a_failed_load_then_a_rerun_loses_no_delete_and_adds_no_duplicate(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_shopstream(shop.connection, scale=1)
    assert shop.sync().exit_code == 0
    changes = apply_day_of_changes(shop.connection)
    saved_before = shop.cursors()

    load = BronzeLoader.load

    def failing_load(self, table_name, part, lineage, properties):  # type: ignore[no-untyped-def]
        if table_name.endswith(("__crm_contacts", "__users")):
            raise OSError("disk full (injected)")
        return load(self, table_name, part, lineage, properties)

    monkeypatch.setattr(BronzeLoader, "load", failing_load)
    failed = shop.sync()
    assert {outcome.resource for outcome in failed.failed} == {"users", "crm_contacts"}
    assert "disk full (injected)" in (failed.failed[0].error or "")
    cursors = shop.cursors()
    for table in ("users", "crm_contacts"):  # the failed tables keep their cursor, hence their key set
        resource_id = f"{shop.database}.public.{table}"
        assert cursors[resource_id] == saved_before[resource_id]
    monkeypatch.setattr(BronzeLoader, "load", load)

    rerun = shop.sync()
    assert rerun.exit_code == 0
    assert outcomes(rerun)["orders"] == ("unchanged", 0)  # loaded by the failed run already
    for table in ("users", "crm_contacts"):
        bronze = shop.bronze(table)
        latest = bronze.filter(pc.equal(bronze["_batch_id"], rerun.batch_id))
        assert ids(latest, deleted=True) == sorted(changes.deleted[table])
        assert ids(latest, deleted=False) == sorted(changes.changed[table])
        assert ids(bronze, deleted=True) == sorted(changes.deleted[table])  # exactly once
        keys = lake_storage(shop.settings).list_files(f"raw/postgres/shopstream/{table}/_keys")
        assert len(keys) == 2  # the last success's set and this run's; the failed run's was pruned
    assert outcomes(shop.sync()) == {table: ("unchanged", 0) for table in TABLES}


def test_a_missing_key_set_fails_its_table_with_the_way_out(shop: Shop) -> None:
    generate_shopstream(shop.connection, scale=0.05)
    assert shop.sync().exit_code == 0
    lake = lake_storage(shop.settings)
    for relative in lake.list_files("raw/postgres/shopstream/crm_contacts/_keys"):
        lake.delete(relative)
    apply_day_of_changes(shop.connection)
    report = shop.sync()
    [failed] = report.failed
    assert failed.resource == "crm_contacts"
    assert "is missing, so deleted rows cannot be found" in (failed.error or "")
    assert "--full-refresh" in (failed.error or "")
    assert outcomes(report)["users"][0] == "loaded"
    full = shop.sync(full_refresh=True)
    [(remaining,)] = shop.execute("SELECT count(*) FROM crm_contacts")
    assert outcomes(full)["crm_contacts"] == ("loaded", remaining)  # every row again, and a new key set
    assert shop.bronze("crm_contacts").num_rows == 40 + remaining
    assert outcomes(shop.sync())["crm_contacts"] == ("unchanged", 0)

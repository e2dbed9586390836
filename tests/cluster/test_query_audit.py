"""The query audit, for real: the suite's Trino runs the HTTP event listener the chart configures, posting every
completed query to `civiclake audit receive` (started by the launcher as the chart deploys it), which writes them
into the lake on MinIO; ``load_audit`` loads them into ``meta.query_audit`` in the chart's catalog and applies the
retention. Queries run as two users (and one refused); their audit rows are checked one by one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from trino.exceptions import TrinoQueryError

from civiclake.audit import AUDIT_DIR, TABLE, load_audit
from civiclake.config import Settings, load_settings
from civiclake.lake.filesystem import lake_storage, warehouse_storage
from civiclake.servers.process import wait_until
from civiclake.servers.stack import ClusterServers
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.maintenance import referenced_files

pytestmark = pytest.mark.integration

# In a WHERE clause of an audited query: the audit must not keep the query text, which can hold personal data.
MARKER = "someone.private@example.org"
DELIVERY_DEADLINE_SECONDS = 90.0  # the receiver flushes every 10 s; Trino posts as the query completes


@dataclass(frozen=True)
class AuditedQueries:
    namespace: str
    admin_query: str
    analyst_query: str
    refused_query: str
    began: datetime
    settings: Settings
    rows: dict[str, dict[str, Any]]


def run(cluster: ClusterServers, user: str, statement: str) -> tuple[str, list[tuple[Any, ...]]]:
    connection = cluster.trino.connect(user=user)
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(statement)
            return cursor.query_id, [tuple(row) for row in cursor.fetchall()]
        except TrinoQueryError as error:
            return error.query_id, []
    finally:
        connection.close()


def audit_rows(settings: Settings, query_ids: set[str]) -> dict[str, dict[str, Any]]:
    table = open_catalog(settings).load_table(TABLE)
    rows = table.scan().to_arrow().to_pylist()
    return {row["query_id"]: row for row in rows if row["query_id"] in query_ids}


@pytest.fixture(scope="module")
def audited(cluster: ClusterServers) -> Iterator[AuditedQueries]:
    assert cluster.audit_receiver is not None, "the chart configures no event listener: nothing is audited"
    settings = load_settings(environ=cluster.environment)
    namespace = f"audit_{uuid.uuid4().hex[:10]}"
    began = datetime.now(UTC)
    cluster.trino.query(f"CREATE SCHEMA iceberg.{namespace}")
    cluster.trino.query(
        f"CREATE TABLE iceberg.{namespace}.customers AS SELECT * FROM (VALUES "
        f"(1, '{MARKER}', 'FR'), (2, 'b@example.org', 'FR'), (3, 'c@example.org', 'US'), "
        "(4, 'd@example.org', 'DE'), (5, 'e@example.org', 'FR')) AS t(id, email, country)"
    )
    admin_query, admin_rows = run(
        cluster, "civiclake", f"SELECT id FROM iceberg.{namespace}.customers WHERE email = '{MARKER}'"
    )
    assert admin_rows == [(1,)]
    analyst_query, analyst_rows = run(
        cluster, "analyst", f"SELECT id, country FROM iceberg.{namespace}.customers WHERE country = 'FR'"
    )
    assert len(analyst_rows) == 3
    refused_query, _ = run(cluster, "marketing-demo", f"SELECT * FROM iceberg.{namespace}.customers")
    wanted = {admin_query, analyst_query, refused_query}

    found: dict[str, dict[str, Any]] = {}

    def delivered() -> bool:
        load_audit(settings)
        found.update(audit_rows(settings, wanted))
        return set(found) == wanted

    wait_until(delivered, DELIVERY_DEADLINE_SECONDS, "the audit rows of three queries", lambda: str(sorted(found)), 3)
    yield AuditedQueries(namespace, admin_query, analyst_query, refused_query, began, settings, found)
    cluster.trino.query(f"DROP TABLE iceberg.{namespace}.customers")
    cluster.trino.query(f"DROP SCHEMA iceberg.{namespace}")


def test_each_query_is_audited_with_its_user_tables_times_and_rows(audited: AuditedQueries) -> None:
    table = f"iceberg.{audited.namespace}.customers"
    admin, analyst = audited.rows[audited.admin_query], audited.rows[audited.analyst_query]
    assert (admin["user"], admin["state"], admin["tables_read"], admin["output_rows"]) == (
        "civiclake",
        "FINISHED",
        [table],
        1,
    )
    assert (analyst["user"], analyst["state"], analyst["tables_read"], analyst["output_rows"]) == (
        "analyst",
        "FINISHED",
        [table],
        3,
    )
    assert set(analyst["columns_read"]) == {f"{table}.id", f"{table}.country"}
    assert analyst["groups"] == ["analyst"]
    now = datetime.now(UTC)
    for row in (admin, analyst):
        assert audited.began <= row["created_at"] <= row["started_at"] <= row["ended_at"] <= now
        assert row["read_rows"] >= row["output_rows"]
        assert row["audit_file"].startswith(f"{AUDIT_DIR}/received_date=")


def test_a_refused_query_is_audited_as_failed_with_its_user(audited: AuditedQueries) -> None:
    refused = audited.rows[audited.refused_query]
    assert (refused["user"], refused["state"], refused["error_name"]) == (
        "marketing-demo",
        "FAILED",
        "PERMISSION_DENIED",
    )
    assert refused["output_rows"] in (0, None)
    assert refused["tables_read"] == []  # refused before anything was read


def test_the_audit_keeps_no_query_text_only_its_hash(audited: AuditedQueries) -> None:
    import hashlib

    statement = f"SELECT id FROM iceberg.{audited.namespace}.customers WHERE email = '{MARKER}'"
    assert audited.rows[audited.admin_query]["query_sha256"] == hashlib.sha256(statement.encode()).hexdigest()
    storage = lake_storage(audited.settings)
    raw = b"".join(storage.read_bytes(name) for name in storage.list_files(AUDIT_DIR))
    assert audited.admin_query.encode() in raw
    assert MARKER.encode() not in raw
    assert all(MARKER not in str(value) for value in audited.rows[audited.admin_query].values())


def test_loading_again_adds_no_row_twice(audited: AuditedQueries) -> None:
    load_audit(audited.settings)
    table = open_catalog(audited.settings).load_table(TABLE)
    ids = table.scan(selected_fields=("query_id",)).to_arrow().column("query_id").to_pylist()
    assert ids.count(audited.admin_query) == 1


def test_the_runbooks_queries_on_trino_find_who_read_the_table(
    cluster: ClusterServers, audited: AuditedQueries
) -> None:
    # The queries of docs/privacy-audit-request.md, on the audit table Trino reads.
    table = f"iceberg.{audited.namespace}.customers"
    since = audited.began.strftime("%Y-%m-%d %H:%M:%S.%f")
    by_table = cluster.trino.query(
        'SELECT "user", state, output_rows FROM iceberg.meta.query_audit '
        f"WHERE contains(tables_read, '{table}') AND ended_at >= TIMESTAMP '{since} UTC' ORDER BY ended_at"
    )
    assert by_table == [("civiclake", "FINISHED", 1), ("analyst", "FINISHED", 3)]
    by_pattern = cluster.trino.query(
        'SELECT DISTINCT "user" FROM iceberg.meta.query_audit '
        f"WHERE ended_at >= TIMESTAMP '{since} UTC' AND state = 'FINISHED' "
        f"AND any_match(tables_read, t -> t LIKE 'iceberg.{audited.namespace}.%')"
    )
    assert sorted(by_pattern) == [("analyst",), ("civiclake",)]
    refused = cluster.trino.query(
        'SELECT "user" FROM iceberg.meta.query_audit '
        f"WHERE ended_at >= TIMESTAMP '{since} UTC' AND state = 'FAILED' AND error_name = 'PERMISSION_DENIED'"
    )
    assert ("marketing-demo",) in refused
    with pytest.raises(TrinoQueryError) as denied:
        cluster.trino.query("SELECT count(*) FROM iceberg.meta.query_audit", user="analyst")
    assert "Access Denied" in str(denied.value)


def test_retention_deletes_old_rows_their_snapshots_files_and_raw_files(audited: AuditedQueries) -> None:
    settings = audited.settings
    retention = settings.model_copy(update={"audit": settings.audit.model_copy(update={"retention_days": 1})})
    outcome = load_audit(retention, now=datetime.now(UTC) + timedelta(days=2))

    assert outcome.rows_deleted >= 3
    assert outcome.raw_files_deleted >= 1
    table = open_catalog(settings).load_table(TABLE)
    assert audit_rows(settings, {audited.admin_query, audited.analyst_query, audited.refused_query}) == {}
    # No earlier snapshot can serve the deleted rows, and no file of the table is left outside the current one.
    assert len(table.metadata.snapshots) == 1
    warehouse = warehouse_storage(settings)
    location = table.location().removeprefix("s3://")
    relative = location.removeprefix(warehouse.root.rstrip("/") + "/")
    on_storage = {f"{warehouse.root.rstrip('/')}/{name}" for name in warehouse.list_files(relative)}
    assert on_storage <= referenced_files(table)
    assert lake_storage(settings).list_files(AUDIT_DIR) == []

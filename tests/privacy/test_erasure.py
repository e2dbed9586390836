"""``civiclake privacy erase`` on the local profile, end to end: ShopStream generated in a real PostgreSQL, synced into
a lakehouse, built by ``civiclake transform``; one customer erased; then every file the lakehouse keeps is searched
for them, everyone else's rows are counted, and a sync of the unchanged source (which still holds them, and has
just touched their account) must not bring them back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import pyarrow.parquet as pq
import pytest

from civiclake.warehouse.catalog import open_catalog
from tests.privacy.traces import (
    Person,
    bronze_counts_without,
    files_holding,
    pick_person,
    silver_and_gold_counts_without,
    table_snapshots,
    tables_holding,
)
from tests.servers.postgres import PostgresServer
from tests.transform.lakehouse import DbtLakehouse, clear_civiclake_environment, shopstream_database

pytestmark = pytest.mark.integration

DATABASE = "shopstream_privacy"


@dataclass
class Erased:
    lakehouse: DbtLakehouse
    postgres: PostgresServer
    person: Person
    others: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer) -> Iterator[DbtLakehouse]:
    """ShopStream synced and built (silver and gold) in a fresh local lakehouse."""
    shopstream_database(postgres_server, DATABASE, scale=0.05)
    lakehouse = DbtLakehouse.create(tmp_path_factory.mktemp("privacy"))
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)
        lakehouse.sync_shopstream(postgres_server, DATABASE)
        built = lakehouse.civiclake("transform")
        assert built.exit_code == 0, built.output
        yield lakehouse


@pytest.fixture(scope="module")
def erased(built: DbtLakehouse, postgres_server: PostgresServer) -> Erased:
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)
        catalog = open_catalog(built.settings)
        person = pick_person(postgres_server.database_dsn(DATABASE))
        others = {
            "bronze": bronze_counts_without(catalog, person),
            "silver_gold": silver_and_gold_counts_without(catalog, person),
        }
        result = built.civiclake("privacy", "erase", "--subject", f"user_id={person.user_id}", "--json")
        assert result.exit_code == 0, result.output
        return Erased(built, postgres_server, person, others, result.output, json.loads(result.output))


def test_silver_and_gold_hold_no_clear_email_or_name_after_the_build(built: DbtLakehouse) -> None:
    emails, names = _every_email_and_name(built)
    catalog = open_catalog(built.settings)
    assert tables_holding(catalog, ("silver", "gold"), emails | names) == {}
    # The pseudonyms are there instead: the same e-mail gives the same pseudonym in users and CRM contacts.
    users = catalog.load_table("silver.int_shopstream_users_merged").scan().to_arrow()
    assert users.column("email_pseudonym").null_count == 0
    assert all(len(value) == 64 for value in users.column("email_pseudonym").to_pylist())


def test_erasure_reports_what_it_changed_without_the_persons_data(erased: Erased) -> None:
    summary, person = erased.summary, erased.person
    assert summary["status"] == "erased" and summary["rows_deleted"] > 0 and summary["tombstones"] > 0
    assert {"bronze.postgres__shopstream__users", "bronze.postgres__shopstream__orders"} <= {
        change["table"] for change in summary["tables"]
    }
    assert summary["raw_files_rewritten"], "the person's raw rows were in at least the users extract"
    for secret in (person.email, person.name, f"user_id={person.user_id}"):
        assert secret not in erased.output
    record = open_catalog(erased.lakehouse.settings).load_table("meta.privacy_erasures").scan().to_arrow()
    assert record.num_rows == 1
    assert record.column("subject_pseudonym").to_pylist() == [summary["subject_pseudonym"]]
    assert not [value for value in record.to_pylist() if person.email in json.dumps(value, default=str)]


def test_no_file_of_the_lakehouse_holds_the_persons_email_or_name(erased: Erased) -> None:
    person = erased.person
    # Raw files, Iceberg data and metadata of every table, the catalog, dbt's DuckDB file, target and logs.
    assert files_holding(erased.lakehouse.home, {person.email, person.name}) == []


def test_no_table_holds_the_person_any_more(erased: Erased) -> None:
    catalog = open_catalog(erased.lakehouse.settings)
    person = erased.person
    assert tables_holding(catalog, ("bronze", "silver", "gold", "meta"), {person.email, person.name}) == {}
    for namespace in ("bronze", "silver", "gold"):
        for identifier in catalog.list_tables(namespace):
            table = catalog.load_table(identifier)
            if "user_id" in table.schema().column_names:
                rows = table.scan(selected_fields=("user_id",)).to_arrow().column("user_id").to_pylist()
                assert person.user_id not in rows, identifier


def test_every_snapshot_left_references_only_files_without_the_person(erased: Erased) -> None:
    catalog = open_catalog(erased.lakehouse.settings)
    for identifier, snapshots in table_snapshots(catalog, ("bronze", "silver", "gold")).items():
        if identifier[0] == "bronze" and "shopstream" in identifier[1]:
            assert len(snapshots) == 1, f"{identifier}: earlier snapshots would still serve the person"
        for data_file in snapshots.values():
            for path in data_file:
                rows = pq.read_table(path.removeprefix("file://"))
                for column in ("user_id", "id") if "users" in identifier[1] else ("user_id",):
                    if column in rows.column_names:
                        assert erased.person.user_id not in rows.column(column).to_pylist(), (identifier, path)


def test_everyone_elses_rows_are_all_still_there(erased: Erased) -> None:
    catalog = open_catalog(erased.lakehouse.settings)
    assert bronze_counts_without(catalog, erased.person) == erased.others["bronze"]
    assert silver_and_gold_counts_without(catalog, erased.person) == erased.others["silver_gold"]


def test_the_raw_manifest_records_each_rewrite(erased: Erased) -> None:
    lake = erased.lakehouse.home / "lake"
    for rewrite in erased.summary["raw_files_rewritten"]:
        manifest = json.loads((lake / f"{rewrite['path']}.manifest.json").read_text())
        assert manifest["rewrites"][-1]["erasure_id"] == erased.summary["erasure_id"]
        assert manifest["rewrites"][-1]["rows_removed"] == rewrite["rows_removed"]
        assert manifest["sha256"] == rewrite["sha256"] != rewrite["previous_sha256"]


def test_a_sync_of_the_source_that_still_holds_the_person_does_not_bring_them_back(erased: Erased) -> None:
    person, lakehouse = erased.person, erased.lakehouse
    connection = psycopg2.connect(erased.postgres.database_dsn(DATABASE))
    try:
        with connection, connection.cursor() as cursor:
            # The shop changes the account and the person's CRM contact: an incremental sync reads both again.
            cursor.execute("UPDATE users SET plan = 'pro', updated_at = now() WHERE id = %s", (person.user_id,))
            cursor.execute("UPDATE crm_contacts SET updated_at = now() WHERE user_id = %s", (person.user_id,))
    finally:
        connection.close()
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)
        lakehouse.sync_shopstream(erased.postgres, DATABASE)
        rebuilt = lakehouse.civiclake("transform")
        assert rebuilt.exit_code == 0, rebuilt.output
    catalog = open_catalog(lakehouse.settings)
    assert tables_holding(catalog, ("bronze", "silver", "gold"), {person.email, person.name}) == {}
    assert files_holding(lakehouse.home, {person.email, person.name}) == []
    users = catalog.load_table("bronze.postgres__shopstream__users").scan(selected_fields=("id",)).to_arrow()
    assert person.user_id not in users.column("id").to_pylist()


def test_an_unknown_subject_key_exits_2_naming_it(built: DbtLakehouse) -> None:
    result = built.civiclake("privacy", "erase", "--subject", "customer_email=someone@example.org")
    assert result.exit_code == 2
    assert "customer_email" in result.output and "user_id" in result.output


def test_a_subject_not_found_is_said_and_changes_nothing(built: DbtLakehouse) -> None:
    catalog = open_catalog(built.settings)
    before = {name: snapshots for name, snapshots in table_snapshots(catalog, ("bronze", "silver", "gold")).items()}
    result = built.civiclake("privacy", "erase", "--subject", "user_id=987654321", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "not_found"
    after = table_snapshots(open_catalog(built.settings), ("bronze", "silver", "gold"))
    assert after == before


def _every_email_and_name(lakehouse: DbtLakehouse) -> tuple[set[str], set[str]]:
    catalog = open_catalog(lakehouse.settings)
    users = catalog.load_table("bronze.postgres__shopstream__users").scan().to_arrow()
    emails = {value for value in users.column("email").to_pylist() if value}
    names = {value for value in users.column("full_name").to_pylist() if value and len(value) > 6}
    return emails, names

"""``civiclake privacy erase`` on the cluster profile: bronze in the PostgreSQL (JDBC) catalog, raw files and Iceberg
files in MinIO. ShopStream is synced from the suite's PostgreSQL, one customer erased, then every object of the
bucket is searched for them, everyone else's rows counted, and a sync of the source that still holds them run."""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg2
import pytest

from civiclake.lake.filesystem import lake_storage
from civiclake.servers.stack import ClusterServers
from civiclake.warehouse.catalog import open_catalog
from tests.privacy.traces import Person, bronze_counts_without, objects_holding, pick_person, tables_holding
from tests.servers.cluster import fresh_cluster_lakehouse
from tests.transform.lakehouse import DbtLakehouse, clear_civiclake_environment, shopstream_database

DATABASE = "shopstream_erasure_cluster"


@dataclass
class ClusterErasure:
    cluster: ClusterServers
    lakehouse: DbtLakehouse
    person: Person
    others: dict[str, int]
    summary: dict[str, object]


@pytest.fixture(scope="module")
def erased(cluster: ClusterServers, tmp_path_factory: pytest.TempPathFactory) -> ClusterErasure:
    shopstream_database(cluster.postgres, DATABASE, scale=0.02)
    lakehouse = DbtLakehouse.create(tmp_path_factory.mktemp("cluster-erasure"), **fresh_cluster_lakehouse(cluster))
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)
        lakehouse.sync_shopstream(cluster.postgres, DATABASE)
        person = pick_person(cluster.postgres.database_dsn(DATABASE))
        others = bronze_counts_without(open_catalog(lakehouse.settings), person)
        result = lakehouse.civiclake("privacy", "erase", "--subject", f"user_id={person.user_id}", "--json")
        assert result.exit_code == 0, result.output
        return ClusterErasure(cluster, lakehouse, person, others, json.loads(result.output))


def test_the_bucket_holds_nothing_of_the_person_after_the_erasure(erased: ClusterErasure) -> None:
    person = erased.person
    assert erased.summary["status"] == "erased" and erased.summary["raw_files_rewritten"]
    # The whole bucket: raw files and their manifests, key sets, Iceberg data, manifests and metadata.
    assert objects_holding(lake_storage(erased.lakehouse.settings), {person.email, person.name}) == []
    catalog = open_catalog(erased.lakehouse.settings)
    assert tables_holding(catalog, ("bronze", "meta"), {person.email, person.name}) == {}
    for identifier in catalog.list_tables("bronze"):
        assert len(catalog.load_table(identifier).metadata.snapshots) == 1, identifier


def test_everyone_elses_bronze_rows_are_all_still_there(erased: ClusterErasure) -> None:
    assert bronze_counts_without(open_catalog(erased.lakehouse.settings), erased.person) == erased.others


def test_the_tombstones_keep_the_person_out_of_the_next_sync(erased: ClusterErasure) -> None:
    person, lakehouse = erased.person, erased.lakehouse
    catalog = open_catalog(lakehouse.settings)
    tombstones = catalog.load_table("meta.privacy_tombstones").scan().to_arrow()
    assert tombstones.num_rows == erased.summary["tombstones"]
    assert str(person.user_id) not in tombstones.column("value_pseudonym").to_pylist()
    connection = psycopg2.connect(erased.cluster.postgres.database_dsn(DATABASE))
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("UPDATE users SET plan = 'business', updated_at = now() WHERE id = %s", (person.user_id,))
            cursor.execute("UPDATE events SET updated_at = now() WHERE user_id = %s", (person.user_id,))
    finally:
        connection.close()
    with pytest.MonkeyPatch.context() as patch:
        clear_civiclake_environment(patch)
        lakehouse.sync_shopstream(erased.cluster.postgres, DATABASE)
    catalog = open_catalog(lakehouse.settings)
    users = catalog.load_table("bronze.postgres__shopstream__users").scan(selected_fields=("id",)).to_arrow()
    assert person.user_id not in users.column("id").to_pylist()
    assert objects_holding(lake_storage(lakehouse.settings), {person.email, person.name}) == []

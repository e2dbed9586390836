"""``civiclake transform`` on the cluster profile, for real: ``dbt build --target trino`` on the whole project
against the chart's Trino, first over freshly synced bronze, then incrementally after a second round of source data
(more Olist batches, a ShopStream day with hard deletes, incidents moved on 24 hours). tests/cluster/warehouse.py
syncs and builds; test_same_gold_on_both_engines.py compares the result with DuckDB's, row by row."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from civiclake.servers.stack import ClusterServers
from civiclake.warehouse.catalog import open_catalog
from tests.cluster.warehouse import BuildRound, EngineBuild, canonical_type, merged_tables, warehouse_relations

pytestmark = pytest.mark.integration

# Tables that the second round's sources change: their merge must add an Iceberg snapshot to the existing table.
CHANGED_BY_THE_SECOND_ROUND = (
    "int_olist_orders_merged",
    "int_shopstream_users_merged",
    "int_shopstream_crm_contacts_merged",
    "int_incidents_merged",
    "snap_shopstream__users",
)


def project_nodes(manifest: dict[str, Any]) -> Counter[str]:
    """How many nodes of each kind the project has: what a complete ``dbt build`` runs."""
    kinds: Counter[str] = Counter(
        node["resource_type"]
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed", "snapshot", "test")
    )
    kinds["unit_test"] = len(manifest["unit_tests"])
    return kinds


def assert_every_node_built_and_passed(build: EngineBuild) -> None:
    assert build.result.exit_code == 0, build.result.output[-5000:]
    assert "sources have no bronze table" not in build.result.output
    assert build.run_results["args"]["target"] == "trino"
    results = build.run_results["results"]
    assert {r["unique_id"]: r["status"] for r in results if r["status"] not in ("success", "pass")} == {}
    assert build.results_by_type() == project_nodes(build.manifest)


# --- the first build ---------------------------------------------------------------------------------------------


def test_first_build_on_trino_runs_and_passes_every_model_seed_snapshot_data_test_and_unit_test(
    first_builds: BuildRound,
) -> None:
    build = first_builds.trino
    assert_every_node_built_and_passed(build)
    built = build.results_by_type()
    assert built["model"] >= 70 and built["test"] >= 400
    assert (built["seed"], built["snapshot"], built["unit_test"]) == (4, 1, 12)
    assert "dbt build on trino:" in build.result.output


def test_trino_writes_every_relation_into_the_charts_iceberg_catalog_and_nothing_else(
    first_builds: BuildRound, cluster: ClusterServers
) -> None:
    build = first_builds.trino
    relations = warehouse_relations(build.manifest)
    expected = {
        (node["schema"], node["name"]): "VIEW" if node["config"]["materialized"] == "view" else "BASE TABLE"
        for node in build.manifest["nodes"].values()
        if (node["schema"], node["name"]) in relations
    }
    found = cluster.trino.query(
        "SELECT table_schema, table_name, table_type FROM iceberg.information_schema.tables "
        "WHERE table_schema IN ('silver', 'gold')",
    )
    # No dbt leftovers either: no __dbt_tmp or __dbt_backup table, no unit test fixture table.
    assert {(schema, name): kind for schema, name, kind in found} == expected

    # The tables are Iceberg tables of the chart's catalog, which civiclake (pyiceberg) reads as Trino does,
    # with the YAML descriptions dbt persisted as table and column comments.
    catalog = open_catalog(build.lakehouse.settings)
    gold = sorted(name for schema, name in expected if schema == "gold")
    assert sorted(name for _, name in catalog.list_tables("gold")) == gold
    for name in gold:
        [(count,)] = cluster.trino.query(f"SELECT count(*) FROM iceberg.gold.{name}")
        assert catalog.load_table(("gold", name)).scan().to_arrow().num_rows == count > 0, name
    station = catalog.load_table(("gold", "dim_station"))
    assert station.schema().find_field("station_uic_code").doc == "UIC code of the station (8 digits, text)."
    assert station.properties["comment"].startswith("SNCF stations: one row per UIC code")


def test_seeds_on_trino_have_the_column_types_their_yaml_declares(
    first_builds: BuildRound, cluster: ClusterServers
) -> None:
    seeds = [node for node in first_builds.trino.manifest["nodes"].values() if node["resource_type"] == "seed"]
    assert len(seeds) == 4
    for seed in seeds:
        declared = {column: canonical_type(kind) for column, kind in seed["config"]["column_types"].items()}
        found = cluster.trino.query(
            "SELECT column_name, data_type FROM iceberg.information_schema.columns "
            f"WHERE table_schema = 'silver' AND table_name = '{seed['name']}'",
        )
        assert {column: canonical_type(kind) for column, kind in found} == declared, seed["name"]


# --- the incremental run -----------------------------------------------------------------------------------------


def test_incremental_run_on_trino_runs_and_passes_every_node_again(builds_after_changes: BuildRound) -> None:
    assert_every_node_built_and_passed(builds_after_changes.trino)


def test_incremental_models_merge_into_their_existing_iceberg_tables_on_trino(
    first_builds: BuildRound, builds_after_changes: BuildRound
) -> None:
    manifest = builds_after_changes.trino.manifest
    incremental = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    ]
    assert len(incremental) >= 15
    for node in incremental:
        assert node["config"]["incremental_strategy"] == "merge", node["name"]
        # The first build selects everything; the incremental run keeps only versions newer than the stored ones.
        stored = f'left join "iceberg"."silver"."{node["name"]}" as stored'
        assert stored not in first_builds.trino.compiled_code(node["unique_id"]), node["name"]
        assert stored in builds_after_changes.trino.compiled_code(node["unique_id"]), node["name"]

    # Merged, not rebuilt: each table's history goes on from the first build's snapshots.
    before, after = first_builds.trino_snapshots, builds_after_changes.trino_snapshots
    assert set(before) == set(after) == set(merged_tables(manifest))
    for name, snapshots in before.items():
        assert snapshots and after[name][: len(snapshots)] == snapshots, name
    assert {name: len(after[name]) > len(before[name]) for name in CHANGED_BY_THE_SECOND_ROUND} == dict.fromkeys(
        CHANGED_BY_THE_SECOND_ROUND, True
    )


@pytest.mark.parametrize(
    ("bronze", "bronze_key", "merged", "key"),
    [
        ("bronze.rest__incidents__incident", "sys_id", "silver.int_incidents_merged", "incident_id"),
        ("bronze.postgres__shopstream__orders", "id", "silver.int_shopstream_orders_merged", "order_id"),
    ],
)
def test_incremental_run_on_trino_updates_changed_keys_in_place_and_keeps_one_row_per_key(
    builds_after_changes: BuildRound, cluster: ClusterServers, bronze: str, bronze_key: str, merged: str, key: str
) -> None:
    [(rows, keys, latest_batch)] = cluster.trino.query(
        f"SELECT count(*), count(DISTINCT {bronze_key}), max_by(_batch_id, _ingested_at) FROM {bronze}"
    )
    assert rows > keys  # the second round delivered new versions of keys bronze already held
    [(merged_rows, merged_keys)] = cluster.trino.query(f"SELECT count(*), count(DISTINCT {key}) FROM {merged}")
    assert merged_rows == merged_keys == keys
    # Keys first loaded in round one whose stored version now comes from the second round: updated in place.
    [(updated,)] = cluster.trino.query(
        f"SELECT count(*) FROM {merged} WHERE _batch_id = '{latest_batch}' AND {key} IN "
        f"(SELECT {bronze_key} FROM {bronze} WHERE _batch_id <> '{latest_batch}')",
    )
    assert updated > 0


def test_hard_deleted_accounts_leave_gold_and_close_their_history_on_trino(
    builds_after_changes: BuildRound, cluster: ClusterServers
) -> None:
    deleted = sorted(builds_after_changes.deleted["users"])
    assert deleted, "the day of changes deletes accounts"
    ids = ", ".join(str(user_id) for user_id in deleted)
    assert cluster.trino.query(f"SELECT customer_id FROM iceberg.gold.dim_customers WHERE customer_id IN ({ids})") == []
    tombstones = cluster.trino.query(
        f"SELECT user_id FROM iceberg.silver.int_shopstream_users_merged WHERE is_deleted AND user_id IN ({ids})",
    )
    assert sorted(user_id for (user_id,) in tombstones) == deleted
    history = cluster.trino.query(
        f"SELECT user_id, dbt_valid_to FROM iceberg.silver.snap_shopstream__users WHERE user_id IN ({ids})"
    )
    assert history and all(valid_to is not None for _, valid_to in history)
    [(changed,)] = cluster.trino.query(
        "SELECT count(*) FROM (SELECT user_id FROM iceberg.silver.snap_shopstream__users "
        "GROUP BY user_id HAVING count(*) > 1)",
    )
    assert changed > 0  # accounts updated during the day have a closed and a current version

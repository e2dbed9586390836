"""The same gold on both engines: after the same syncs of the same sources, every silver and gold relation dbt
builds holds the same rows on DuckDB (the local profile) and on Trino (the cluster), after the first build and after
the incremental run (tests/cluster/warehouse.py builds both lakehouses and reads both engines).

Two lakehouses that sync the same sources still differ in what records *their own* ingestion: when and where each
raw file was fetched and loaded. Those columns are left out (``INGESTION_LINEAGE`` for the bronze lineage every
staged row carries, ``DIFFERENCES`` per relation, each with its reason). Every other column of every relation must
hold exactly the same values, with the same types, on both engines.
"""

from __future__ import annotations

import pytest

from tests.cluster.warehouse import BuildRound, differences, differing_columns, warehouse_relations

pytestmark = pytest.mark.integration

# The bronze lineage columns (staging views keep them, merged entities carry some on): they describe the ingestion.
INGESTION_LINEAGE = {
    "_extracted_at": "when this lakehouse's sync fetched the raw file",
    "_ingested_at": "when this lakehouse's sync committed the rows to bronze",
    "_batch_id": "the id of this lakehouse's sync run, made of its start time and a random suffix",
    "_raw_path": "where this lakehouse keeps the raw file: a local path, or an S3 key on the cluster",
    "_raw_sha256": (
        "the digest of the raw file this lakehouse wrote: a ShopStream extraction with tombstones writes the time "
        "of its own snapshot into the file, so two syncs of the same rows write different bytes"
    ),
}

_LOG = "civiclake's ingestion log (meta.ingestions) of this lakehouse: "
_DATASETS = "civiclake's catalogue snapshots (meta.datasets) of this lakehouse: "
_TOMBSTONE = (
    "a hard-deleted ShopStream row's tombstone is stamped with the time of the snapshot of the sync that saw the "
    "row gone, one sync per lakehouse"
)
# Relation -> column -> why the column legitimately differs between the two lakehouses. Each entry must differ in
# at least one round (test_the_listed_differences_are_real), so the list cannot outlive its reasons.
DIFFERENCES: dict[str, dict[str, str]] = {
    "stg_meta__ingestions": {
        "batch_id": _LOG + "the sync run",
        "raw_path": _LOG + "where the raw file is kept",
        "raw_sha256": _LOG + "the raw file's digest (see _raw_sha256)",
        "download_seconds": _LOG + "measured durations",
        "load_seconds": _LOG + "measured durations",
        "extracted_at": _LOG + "when the file was fetched",
        "started_at": _LOG + "when the load started",
        "finished_at": _LOG + "when the load finished",
    },
    "fct_ingestions": {
        "ingestion_id": _LOG + "the key hashes the sync run, raw digest and start time",
        "batch_id": _LOG + "the sync run",
        "raw_path": _LOG + "where the raw file is kept",
        "raw_sha256": _LOG + "the raw file's digest (see _raw_sha256)",
        "download_seconds": _LOG + "measured durations",
        "load_seconds": _LOG + "measured durations",
        "duration_seconds": _LOG + "measured durations",
        "extracted_at": _LOG + "when the file was fetched",
        "started_at": _LOG + "when the load started",
        "finished_at": _LOG + "when the load finished",
    },
    "stg_meta__datasets": {
        "batch_id": _DATASETS + "the sync run",
        "synced_at": _DATASETS + "when the sync ran",
        "dataset_title": _DATASETS + "the Olist landing zone is named after this lakehouse's own folder",
        "page_url": _DATASETS + "the Olist landing zone is this lakehouse's own folder",
    },
    "mart_dataset_sync_status": {
        "dataset_title": _DATASETS + "the Olist landing zone is named after this lakehouse's own folder",
        "last_loaded_at": _LOG + "when the last load finished",
        "last_success_at": _LOG + "when the last load finished",
        "freshness_lag_hours": "hours from the last load to the build's clock: two loads, two builds",
    },
    "stg_shopstream__users": {"updated_at": _TOMBSTONE},
    "stg_shopstream__crm_contacts": {"updated_at": _TOMBSTONE},
    "int_shopstream_users_merged": {"updated_at": _TOMBSTONE},
    "int_shopstream_crm_contacts_merged": {"updated_at": _TOMBSTONE},
    "snap_shopstream__users": {
        "dbt_valid_to": "a deleted account's version is closed at the time its snapshot ran, one run per engine",
        # The one difference that comes from the engines themselves. dbt's snapshot key is md5(user_id || '|' ||
        # cast(updated_at as varchar)), and the engines write a timestamp as text differently: Trino always with six
        # fractional digits, DuckDB without trailing zeros ("11:33:06.67211"), so versions whose updated_at ends in a
        # zero get another key. The key is dbt's own (snapshot_hash_arguments), opaque, unique on each engine and
        # joined to nothing; the project's own keys go through timestamp_text and are the same on both engines.
        "dbt_scd_id": "engine: dbt hashes each engine's own text of updated_at",
    },
}
STAGES = ("first_builds", "builds_after_changes")


def excluded_columns(name: str) -> set[str]:
    return set(INGESTION_LINEAGE) | set(DIFFERENCES.get(name, {}))


def test_both_engines_build_the_same_silver_and_gold_relations(first_builds: BuildRound) -> None:
    relations = warehouse_relations(first_builds.duckdb.manifest)
    assert relations == warehouse_relations(first_builds.trino.manifest)
    assert first_builds.captured.relations == relations
    assert len([name for schema, name in relations if schema == "gold"]) >= 20
    assert len([name for schema, name in relations if schema == "silver"]) >= 50


@pytest.mark.parametrize("stage", STAGES)
def test_every_relation_holds_the_same_rows_of_the_same_types_on_duckdb_and_trino(
    stage: str, request: pytest.FixtureRequest
) -> None:
    built: BuildRound = request.getfixturevalue(stage)
    assert built.duckdb.result.exit_code == 0 and built.trino.result.exit_code == 0
    problems, compared = {}, {}
    for schema, name in built.captured.relations:
        excluded = excluded_columns(name)
        duckdb_rows = built.captured.rows("duckdb", schema, name).without(excluded)
        trino_rows = built.captured.rows("trino", schema, name).without(excluded)
        if found := differences(duckdb_rows, trino_rows):
            problems[f"{schema}.{name}"] = found
        compared[f"{schema}.{name}"] = (duckdb_rows.count, len(duckdb_rows.columns))
    assert problems == {}
    # Not a comparison of nothing: every gold relation has rows, and every relation keeps columns to compare (the
    # semantic layer's time spine has one: its day).
    assert [relation for relation, (rows, _) in compared.items() if relation.startswith("gold.") and not rows] == []
    assert [relation for relation, (_, columns) in compared.items() if not columns] == []


def test_the_listed_differences_are_real(first_builds: BuildRound, builds_after_changes: BuildRound) -> None:
    """Each column left out differs between the engines in at least one round, so the lists hold nothing that
    would hide a mismatch they do not need to."""
    differing: dict[str, set[str]] = {}
    for built in (first_builds, builds_after_changes):
        for schema, name in built.captured.relations:
            duckdb_rows = built.captured.rows("duckdb", schema, name)
            trino_rows = built.captured.rows("trino", schema, name)
            differing.setdefault(name, set()).update(differing_columns(duckdb_rows, trino_rows))
    assert {name: set(columns) - differing.get(name, set()) for name, columns in DIFFERENCES.items()} == {
        name: set() for name in DIFFERENCES
    }
    lineage_seen = set().union(*differing.values()) & set(INGESTION_LINEAGE)
    assert lineage_seen == set(INGESTION_LINEAGE)

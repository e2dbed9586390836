"""The dbt warehouse on DuckDB, for real: bronze from the four connectors, ``civiclake transform``, Iceberg gold."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from civiclake.demo.incidents.store import CALLERS_LOGINS
from civiclake.warehouse.catalog import open_catalog
from tests.transform.conftest import Sources, WarehouseRun, read_run_results

pytestmark = pytest.mark.integration

GOLD = {
    # open data
    "dim_station",
    "dim_commune",
    "dim_year",
    "fct_station_ridership",
    "fct_ingestions",
    "mart_dataset_sync_status",
    # Olist
    "gold_daily_sales",
    "gold_seller_performance",
    "gold_customer_rfm",
    "gold_product_analytics",
    "gold_delivery_performance",
    # ShopStream
    "dim_customers",
    "dim_products",
    "fct_order_items",
    "mart_sales_overview",
    "mart_product_performance",
    "mart_customer_ltv",
    # incidents
    "fct_incidents",
    "dim_incident_priority",
    "dim_incident_category",
    "dim_assignment_group",
    "dim_date",
    "mart_incident_resolution_24h",
}
OLIST_GOLD_COLUMNS = {
    "gold_daily_sales": ["order_date", "total_orders", "total_revenue", "avg_order_value", "total_items"],
    "gold_seller_performance": [
        "seller_id",
        "seller_city",
        "total_orders",
        "total_revenue",
        "avg_review_score",
        "avg_delivery_days",
    ],
    "gold_customer_rfm": ["customer_unique_id", "recency_days", "frequency", "monetary", "rfm_segment"],
    "gold_product_analytics": ["product_category", "total_sold", "total_revenue", "avg_price", "avg_review_score"],
    "gold_delivery_performance": [
        "seller_state",
        "customer_state",
        "total_deliveries",
        "avg_delivery_days",
        "on_time_rate",
        "late_rate",
    ],
}
# The latest state of every Olist order, computed here from bronze in one pass, independently of the models.
LATEST_OLIST_ORDERS = """
select order_id, order_status
from (
    select
        order_id,
        order_status,
        row_number() over (
            partition by order_id
            order by greatest(order_purchase_timestamp, order_approved_at, order_delivered_carrier_date,
                              order_delivered_customer_date) desc nulls last,
                     _extracted_at desc, _ingested_at desc, _row_number desc
        ) as version
    from bronze.files__olist__orders
)
where version = 1
"""
LATEST_OLIST_ITEMS = """
select order_id, order_item_id, price, freight_value
from (
    select *, row_number() over (
        partition by order_id, order_item_id order by shipping_limit_date desc nulls last, _extracted_at desc,
        _ingested_at desc, _row_number desc
    ) as version
    from bronze.files__olist__order_items
)
where version = 1
"""


def test_transform_builds_and_tests_every_model_of_the_four_sources(warehouse: WarehouseRun) -> None:
    assert warehouse.result.exit_code == 0, warehouse.result.output[-5000:]
    assert "sources have no bronze table" not in warehouse.result.output
    results = warehouse.run_results["results"]
    failed = [r["unique_id"] for r in results if r["status"] not in ("success", "pass")]
    assert failed == []
    kinds = [r["unique_id"].split(".", 1)[0] for r in results]
    assert kinds.count("model") >= 60
    assert kinds.count("test") >= 350
    assert kinds.count("unit_test") == 12
    assert kinds.count("snapshot") == 1


def test_silver_and_gold_are_published_as_iceberg_tables(warehouse: WarehouseRun) -> None:
    catalog = open_catalog(warehouse.lakehouse.settings)
    gold = {name for _, name in catalog.list_tables("gold")}
    assert gold >= GOLD
    for name in GOLD:
        table = catalog.load_table(("gold", name))
        assert table.scan().to_arrow().num_rows > 0, name
        assert table.properties["civiclake.dbt-node"] == f"model.civiclake.{name}"
    silver = {name for _, name in catalog.list_tables("silver")}
    assert {"stg_datagouv__stations", "int_olist_orders_merged", "snap_shopstream__users"} <= silver
    # column descriptions travel with the tables, for Trino and any catalogue browser
    field = catalog.load_table(("gold", "dim_station")).schema().find_field("station_uic_code")
    assert field.doc == "UIC code of the station (8 digits, text)."


def test_olist_gold_tables_have_exactly_the_agreed_columns(warehouse: WarehouseRun) -> None:
    catalog = open_catalog(warehouse.lakehouse.settings)
    for name, columns in OLIST_GOLD_COLUMNS.items():
        assert [field.name for field in catalog.load_table(("gold", name)).schema().fields] == columns


def test_station_ridership_holds_the_real_files_figures(warehouse: WarehouseRun) -> None:
    rows = warehouse.sql(
        "select calendar_year, travellers, travellers_and_non_travellers from gold.fct_station_ridership "
        "where station_uic_code = '87686006' order by calendar_year"
    )
    # Paris Gare de Lyon in SNCF's "Fréquentation en gares" file
    assert len(rows) == 8
    assert rows[0] == {"calendar_year": 2015, "travellers": 111506043, "travellers_and_non_travellers": 138936295}
    assert rows[-1] == {"calendar_year": 2022, "travellers": 102024783, "travellers_and_non_travellers": 129335965}
    [station] = warehouse.sql("select * from gold.dim_station where station_uic_code = '87686006'")
    assert (station["commune_insee_code"], station["commune_name"], station["commune_match"]) == (
        "75112",
        "PARIS 12",
        "postal_code",
    )
    [commune] = warehouse.sql("select * from gold.dim_commune where commune_insee_code = '2A004'")
    assert (commune["commune_name"], commune["department_name"], commune["postal_codes"]) == (
        "AJACCIO",
        "Corse-du-Sud",
        "20000, 20090, 20167",
    )
    [placed] = warehouse.sql(
        "select count(*) filter (where commune_insee_code is not null) * 1.0 / count(*) as share from gold.dim_station"
    )
    assert placed["share"] > 0.9


def test_sync_status_has_a_row_per_loaded_resource_and_one_for_a_dataset_without_any(
    warehouse: WarehouseRun,
) -> None:
    rows = warehouse.sql("select * from gold.mart_dataset_sync_status")
    by_source = {row["source"] for row in rows}
    assert by_source == {"datagouv", "files", "postgres", "rest"}
    [ban] = [row for row in rows if row["dataset_id"] == "5530fbacc751df5ff937dddb"]  # only web pages to load
    assert (ban["resource_id"], ban["is_late"], ban["loaded_rows"]) == (None, None, 0)
    assert ban["last_status"] == "skipped"  # its dataset-level row in meta.ingestions: nothing to load
    [gares] = [row for row in rows if row["dataset_title"] == "Liste des gares"]
    assert (gares["organization_name"], gares["declared_frequency"], gares["loaded_rows"]) == (
        "SNCF Réseau",
        "quarterly",
        3819,
    )
    assert gares["is_late"] is False and gares["last_status"] == "loaded"
    loads = warehouse.sql("select count(*) as n from gold.fct_ingestions")[0]["n"]
    assert loads == warehouse.sql("select count(*) as n from meta.ingestions")[0]["n"]


def test_olist_revenue_in_gold_equals_the_revenue_recomputed_from_bronze(warehouse: WarehouseRun) -> None:
    [expected] = warehouse.sql(
        f"select sum(i.price + i.freight_value) as revenue from ({LATEST_OLIST_ITEMS}) as i "
        f"join ({LATEST_OLIST_ORDERS}) as o using (order_id) where o.order_status not in ('canceled', 'unavailable')"
    )
    for model in ("gold_daily_sales", "gold_seller_performance", "gold_product_analytics"):
        [gold] = warehouse.sql(f"select sum(total_revenue) as revenue from gold.{model}")
        assert Decimal(str(gold["revenue"])) == Decimal(str(expected["revenue"])).quantize(Decimal("0.01")), model


def test_the_run_pushed_its_dbt_metrics_to_the_pushgateway(warehouse: WarehouseRun, pushgateway: str) -> None:
    pushed = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(httpx.get(f"{pushgateway}/metrics", timeout=5).text)
        for sample in family.samples
        if sample.labels.get("job") == "civiclake-dbt"
    }
    group = {"command": "build", "instance": "", "job": "civiclake-dbt"}
    models = ("civiclake_dbt_nodes", tuple(sorted({**group, "resource_type": "model", "status": "success"}.items())))
    assert pushed[models] >= 60
    durations = [key for key in pushed if key[0] == "civiclake_dbt_model_duration_seconds"]
    assert ("model", "gold_daily_sales") in {label for _, labels in durations for label in labels}


# --- the second run: new source data, incremental models, tombstones, snapshot ---


def test_incremental_run_merges_late_and_duplicate_records_like_a_rebuild(
    warehouse_after_changes: WarehouseRun,
) -> None:
    run = warehouse_after_changes
    assert run.result.exit_code == 0, run.result.output[-5000:]
    incremental = [r for r in run.run_results["results"] if r["unique_id"].endswith("int_olist_orders_merged")]
    assert incremental and incremental[0]["status"] == "success"
    [bronze] = run.sql("select count(*) as rows, count(distinct order_id) as orders from bronze.files__olist__orders")
    assert bronze["rows"] > bronze["orders"]  # late states and duplicates were delivered
    silver = {(r["order_id"], r["order_status"]) for r in run.sql("select * from silver.int_olist_orders_merged")}
    expected = {(r["order_id"], r["order_status"]) for r in run.sql(LATEST_OLIST_ORDERS)}
    assert silver == expected
    assert len(silver) == bronze["orders"]


def test_deleted_shopstream_users_leave_gold_and_close_their_history(warehouse_after_changes: WarehouseRun) -> None:
    run = warehouse_after_changes
    deleted = sorted(run.deleted["users"])
    assert deleted, "the day of changes deletes accounts"
    ids = ", ".join(str(user_id) for user_id in deleted)
    assert run.sql(f"select * from gold.dim_customers where customer_id in ({ids})") == []
    tombstones = run.sql(f"select user_id, is_deleted from silver.int_shopstream_users_merged where user_id in ({ids})")
    assert {row["user_id"] for row in tombstones if row["is_deleted"]} == set(deleted)
    history = run.sql(f"select user_id, dbt_valid_to from silver.snap_shopstream__users where user_id in ({ids})")
    assert history and all(row["dbt_valid_to"] is not None for row in history)
    [changed] = run.sql(
        "select count(*) as users from (select user_id from silver.snap_shopstream__users "
        "group by user_id having count(*) > 1)"
    )
    assert changed["users"] > 0  # accounts updated during the day have two versions


def test_the_24h_metric_adds_up_from_the_incident_facts(warehouse_after_changes: WarehouseRun) -> None:
    _assert_the_24h_metric_adds_up(warehouse_after_changes)


def _assert_the_24h_metric_adds_up(run: WarehouseRun) -> None:
    [from_facts] = run.sql(
        "select count(*) filter (where is_resolved_within_24h) as resolved, "
        "count(*) filter (where is_24h_measurable) as measurable, count(*) as opened from gold.fct_incidents"
    )
    [from_metric] = run.sql(
        "select sum(incidents_resolved_within_24h) as resolved, sum(incidents_measurable) as measurable, "
        "sum(incidents_opened) as opened from gold.mart_incident_resolution_24h"
    )
    assert from_metric == from_facts
    assert 0 < from_facts["resolved"] < from_facts["measurable"] <= from_facts["opened"]
    [incidents] = run.sql("select count(distinct sys_id) as n from bronze.rest__incidents__incident")
    assert from_facts["opened"] == incidents["n"]


def test_every_column_of_every_silver_and_gold_model_is_described(warehouse: WarehouseRun) -> None:
    """dbt docs is the data catalogue: each column the warehouse holds (catalog.json, from the built relations) has
    a description in the project (manifest.json), the generated staging models included."""
    result = warehouse.lakehouse.civiclake("docs", "--no-serve")
    assert result.exit_code == 0, result.output[-3000:]
    docs = warehouse.lakehouse.home / "dbt" / "docs"
    manifest = json.loads((docs / "manifest.json").read_text())
    catalog = json.loads((docs / "catalog.json").read_text())
    models = {
        key: node
        for key, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["schema"] in ("silver", "gold")
    }
    assert {key for key in models if key in catalog["nodes"]} == set(models), "models not built"
    undescribed = []
    for key, node in models.items():
        described = {name.lower() for name, column in node["columns"].items() if column.get("description", "").strip()}
        for column in catalog["nodes"][key]["columns"]:
            if column.lower() not in described:
                undescribed.append(f"{node['name']}.{column}")
    assert not undescribed, f"{len(undescribed)} columns without a description: {', '.join(sorted(undescribed))}"


# --- the runs after: only what changed since the last successful build is built ---


def test_a_transform_with_no_bronze_change_builds_nothing(warehouse_after_changes: WarehouseRun) -> None:
    lakehouse = warehouse_after_changes.lakehouse
    result = lakehouse.civiclake("transform")
    assert result.exit_code == 0, result.output[-5000:]
    assert "nothing to build: no bronze table changed since the last successful build" in result.output
    assert "dbt build on duckdb: nothing built" in result.output
    # dbt was not asked to build: no run results, no node
    assert not (lakehouse.home / "dbt" / "target" / "run_results.json").exists()


def test_after_one_source_changed_only_what_reads_it_is_built_and_gold_is_still_right(
    warehouse_after_changes: WarehouseRun, sources: Sources
) -> None:
    lakehouse = warehouse_after_changes.lakehouse
    sources.incidents.advance(hours=24)
    lakehouse.sync_incidents(sources.incidents)
    result = lakehouse.civiclake("transform")
    assert result.exit_code == 0, result.output[-5000:]
    assert "1 bronze table changed: incidents.incident" in result.output
    run = WarehouseRun(lakehouse, result, read_run_results(lakehouse))
    manifest = json.loads((lakehouse.home / "dbt" / "target" / "manifest.json").read_text())
    downstream = _descendants(manifest, "source.civiclake.incidents.incident")
    built = {r["unique_id"] for r in run.run_results["results"]}
    assert "model.civiclake.fct_incidents" in built and "model.civiclake.mart_incident_resolution_24h" in built
    assert built <= downstream, sorted(built - downstream)
    assert not any(".olist" in node or "datagouv" in node or "shopstream" in node for node in built)
    _assert_the_24h_metric_adds_up(run)


def _descendants(manifest: dict[str, Any], node: str) -> set[str]:
    found: set[str] = set()
    pending = [node]
    while pending:
        for child in manifest["child_map"].get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def test_incident_summaries_in_silver_and_gold_name_no_callers_login(warehouse: WarehouseRun) -> None:
    naming_a_caller = "regexp_matches(short_description, '{}')".format("|".join(CALLERS_LOGINS).replace(".", "\\."))
    [bronze] = warehouse.sql(f"select count(*) as n from bronze.rest__incidents__incident where {naming_a_caller}")
    assert bronze["n"] > 0, "the generated incidents name no caller: nothing to take out"
    for table in ("silver.int_incidents_merged", "gold.fct_incidents"):
        [named] = warehouse.sql(f"select count(*) as n from {table} where {naming_a_caller}")
        assert named["n"] == 0, f"{table} still names callers"
    password_resets = warehouse.sql(
        "select distinct short_description from gold.fct_incidents where short_description like 'Password reset%'"
    )
    assert password_resets == [{"short_description": "Password reset for [login]"}]

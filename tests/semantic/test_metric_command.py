"""`civiclake metric list` and `civiclake metric query`: descriptions, the compiled SQL, and names checked."""

from __future__ import annotations

import json

from tests.semantic.conftest import MetricLakehouse


def test_metric_list_describes_every_metric_with_what_it_groups_by(built: MetricLakehouse) -> None:
    answer = built.lakehouse.civiclake("metric", "list", "--json")
    assert answer.exit_code == 0, answer.output
    metrics = {metric["name"]: metric for metric in json.loads(answer.stdout)}
    for name in (
        "incident_resolution_rate_24h",
        "shopstream_revenue",
        "shopstream_orders",
        "shopstream_average_order_value",
        "shopstream_visit_to_signup_rate",
        "shopstream_signup_to_order_rate",
        "shopstream_customer_lifetime_value",
        "olist_on_time_delivery_rate",
        "datagouv_freshness_lag_hours",
    ):
        assert metrics[name]["description"], name
    assert metrics["incident_resolution_rate_24h"]["kind"] == "ratio"
    assert {"metric_time", "incident__priority", "incident__assignment_group", "incident__category"} <= set(
        metrics["incident_resolution_rate_24h"]["group_bys"]
    )
    assert {"order_item__shipping_country", "product__category"} <= set(metrics["shopstream_revenue"]["group_bys"])
    table = built.lakehouse.civiclake("metric", "list")
    assert "incident_resolution_rate_24h" in table.output and "ratio" in table.output


def test_explain_prints_the_duckdb_sql_reading_the_gold_tables(built: MetricLakehouse) -> None:
    answer = built.lakehouse.civiclake(
        "metric", "query", "--metrics", "incident_resolution_rate_24h", "--group-by", "metric_time__week", "--explain"
    )
    assert answer.exit_code == 0, answer.output
    assert "gold.fct_incidents" in answer.stdout
    assert "DATE_TRUNC('week'" in answer.stdout


def test_an_unknown_metric_exits_2_naming_it_and_the_available_ones(built: MetricLakehouse) -> None:
    answer = built.lakehouse.civiclake("metric", "query", "--metrics", "revenue_typo")
    assert answer.exit_code == 2
    assert "revenue_typo" in answer.output
    assert "shopstream_revenue" in answer.output and "incident_resolution_rate_24h" in answer.output


def test_an_unknown_dimension_exits_2_naming_it_and_the_metrics_dimensions(built: MetricLakehouse) -> None:
    answer = built.lakehouse.civiclake(
        "metric", "query", "--metrics", "incident_resolution_rate_24h", "--group-by", "incident__colour"
    )
    assert answer.exit_code == 2
    assert "incident__colour" in answer.output
    assert "incident__priority" in answer.output


def test_a_dimension_of_another_domain_exits_2(built: MetricLakehouse) -> None:
    answer = built.lakehouse.civiclake(
        "metric", "query", "--metrics", "olist_revenue", "--group-by", "incident__priority"
    )
    assert answer.exit_code == 2
    assert "incident__priority" in answer.output and "olist_order__customer_state" in answer.output


def test_a_filter_on_an_unknown_dimension_exits_2_naming_it(built: MetricLakehouse) -> None:
    answer = built.lakehouse.civiclake(
        "metric",
        "query",
        "--metrics",
        "incident_resolution_rate_24h",
        "--where",
        "{{ Dimension('incident__nope') }} = 1",
    )
    assert answer.exit_code == 2
    assert "incident__nope" in answer.output and "incident__priority" in answer.output

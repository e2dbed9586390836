"""Each metric is defined once, in dbt's semantic layer: at a mart's own grain, `civiclake metric query` gives
the mart's numbers, and a rate over several days is numerator / denominator summed, never a mean of daily rates."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from tests.semantic.conftest import MetricLakehouse


def day(value: Any) -> str:
    """A day from either engine's rendering of a date or a timestamp at midnight."""
    return str(value)[:10]


def number(value: Any) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def test_the_24h_resolution_rate_equals_the_mart_per_day_priority_and_group(built: MetricLakehouse) -> None:
    mart = built.sql("select * from gold.mart_incident_resolution_24h")
    rows = built.metric(
        "--metrics",
        "incidents_opened,incidents_measurable,incidents_resolved_within_24h,incident_resolution_rate_24h",
        "--group-by",
        "incident__opened_date__day,incident__priority,incident__assignment_group",
    )
    assert len(mart) > 20
    expected = {
        (day(row["opened_date"]), row["priority"], row["assignment_group"]): (
            row["incidents_opened"],
            row["incidents_measurable"],
            row["incidents_resolved_within_24h"],
            row["resolved_within_24h_rate"],
        )
        for row in mart
    }
    actual = {
        (day(row["incident__opened_date__day"]), row["incident__priority"], row["incident__assignment_group"]): (
            row["incidents_opened"],
            row["incidents_measurable"],
            row["incidents_resolved_within_24h"],
            row["incident_resolution_rate_24h"],
        )
        for row in rows
    }
    assert actual.keys() == expected.keys()
    for key, (opened, measurable, resolved, rate) in expected.items():
        assert actual[key][:3] == (opened, measurable, resolved), key
        assert actual[key][3] == (None if rate is None else pytest.approx(rate, rel=1e-12)), key


def test_a_rate_over_several_days_is_the_sum_over_the_sum_not_the_mean_of_daily_rates(built: MetricLakehouse) -> None:
    daily = built.sql(
        "select opened_date, sum(incidents_measurable) as measurable, sum(incidents_resolved_within_24h) as resolved "
        "from gold.mart_incident_resolution_24h group by opened_date having sum(incidents_measurable) > 0"
    )
    # Two days whose rates and measurable counts both differ: there the mean of the two rates is not the rate.
    first, second = next(
        (a, b)
        for a in daily
        for b in daily
        if a["measurable"] != b["measurable"] and a["resolved"] * b["measurable"] != b["resolved"] * a["measurable"]
    )
    days = (day(first["opened_date"]), day(second["opened_date"]))
    sum_over_sum = (first["resolved"] + second["resolved"]) / (first["measurable"] + second["measurable"])
    mean_of_rates = (first["resolved"] / first["measurable"] + second["resolved"] / second["measurable"]) / 2
    assert sum_over_sum != pytest.approx(mean_of_rates)

    where = f"{{{{ TimeDimension('incident__opened_date', 'day') }}}} in ('{days[0]}', '{days[1]}')"
    [row] = built.metric("--metrics", "incident_resolution_rate_24h", "--where", where)
    assert row["incident_resolution_rate_24h"] == pytest.approx(sum_over_sum, rel=1e-12)
    # And over the same two days grouped by week or month when they share one: still the sum over the sum.
    by_day = built.metric(
        "--metrics", "incident_resolution_rate_24h", "--group-by", "metric_time__day", "--where", where
    )
    assert sorted(day(row["metric_time__day"]) for row in by_day) == sorted(days)


def test_olist_daily_sales_equal_gold_daily_sales(built: MetricLakehouse) -> None:
    mart = {day(row["order_date"]): row for row in built.sql("select * from gold.gold_daily_sales")}
    rows = built.metric(
        "--metrics",
        "olist_orders,olist_revenue,olist_items,olist_average_order_value",
        "--group-by",
        "olist_order__order_date__day",
    )
    actual = {day(row["olist_order__order_date__day"]): row for row in rows}
    assert len(mart) > 20
    assert actual.keys() == mart.keys()
    for order_date, expected in mart.items():
        got = actual[order_date]
        assert got["olist_orders"] == expected["total_orders"], order_date
        assert got["olist_items"] == expected["total_items"], order_date
        assert round(number(got["olist_revenue"]) or 0, 2) == number(expected["total_revenue"]), order_date
        # The mart rounds the average to the cent, half a cent up; the metric keeps the exact ratio.
        assert abs(number(got["olist_average_order_value"]) - number(expected["avg_order_value"])) <= 0.005 + 1e-9


def test_olist_rfm_inputs_equal_gold_customer_rfm(built: MetricLakehouse) -> None:
    mart = {row["customer_unique_id"]: row for row in built.sql("select * from gold.gold_customer_rfm")}
    rows = built.metric("--metrics", "olist_orders,olist_revenue", "--group-by", "olist_customer")
    actual = {row["olist_customer"]: row for row in rows if row["olist_customer"] is not None}
    assert len(mart) > 50
    assert actual.keys() == mart.keys()
    for customer, expected in mart.items():
        assert actual[customer]["olist_orders"] == expected["frequency"], customer
        assert round(number(actual[customer]["olist_revenue"]) or 0, 2) == number(expected["monetary"]), customer


def test_olist_on_time_delivery_rate_is_on_time_over_delivered_orders(built: MetricLakehouse) -> None:
    [expected] = built.sql(
        "select sum(case when is_delivered and is_delivered_on_time then 1 else 0 end) as on_time, "
        "sum(case when is_delivered then 1 else 0 end) as delivered from silver.int_olist_orders_enriched"
    )
    [row] = built.metric("--metrics", "olist_on_time_delivery_rate,olist_delivered_orders")
    assert expected["delivered"] > 0
    assert row["olist_delivered_orders"] == expected["delivered"]
    assert row["olist_on_time_delivery_rate"] == pytest.approx(expected["on_time"] / expected["delivered"])


def test_shopstream_revenue_and_orders_equal_the_sales_overview_by_day_country_and_category(
    built: MetricLakehouse,
) -> None:
    mart: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for row in built.sql("select * from gold.mart_sales_overview"):
        # The mart's grain adds the customer's segment; an order has one customer, so orders add up over it.
        key = (day(row["order_date"]), row["shipping_country"], row["category"])
        mart[key][0] += row["orders"]
        mart[key][1] += number(row["revenue_eur"]) or 0
    rows = built.metric(
        "--metrics",
        "shopstream_orders,shopstream_revenue",
        "--group-by",
        "order_item__order_date__day,order_item__shipping_country,product__category",
    )
    actual = {
        (
            day(row["order_item__order_date__day"]),
            row["order_item__shipping_country"],
            row["product__category"] or "unknown",
        ): row
        for row in rows
    }
    assert len(mart) > 20
    assert actual.keys() == mart.keys()
    for key, (orders, revenue) in mart.items():
        assert actual[key]["shopstream_orders"] == orders, key
        assert number(actual[key]["shopstream_revenue"]) == pytest.approx(revenue, abs=0.01), key


def test_shopstream_customer_lifetime_value_is_the_mean_of_the_ltv_mart_per_country(built: MetricLakehouse) -> None:
    mart = {
        row["country_code"]: row
        for row in built.sql(
            "select country_code, avg(lifetime_value_eur) as ltv, count(*) as buyers from gold.mart_customer_ltv "
            "where order_count > 0 group by country_code"
        )
    }
    rows = built.metric(
        "--metrics",
        "shopstream_customer_lifetime_value,shopstream_signups_with_order",
        "--group-by",
        "customer__country_code",
    )
    actual = {row["customer__country_code"]: row for row in rows if row["shopstream_signups_with_order"]}
    assert len(mart) > 1
    assert actual.keys() == mart.keys()
    for country, expected in mart.items():
        assert actual[country]["shopstream_signups_with_order"] == expected["buyers"], country
        assert number(actual[country]["shopstream_customer_lifetime_value"]) == pytest.approx(number(expected["ltv"]))


def test_shopstream_funnel_rates_are_the_steps_divided(built: MetricLakehouse) -> None:
    rows = built.metric(
        "--metrics",
        "shopstream_visits,shopstream_signups,shopstream_orders,shopstream_visit_to_signup_rate,"
        "shopstream_visit_to_order_rate",
        "--group-by",
        "metric_time__month",
    )
    both = [row for row in rows if row["shopstream_visits"] and row["shopstream_signups"] and row["shopstream_orders"]]
    assert both
    for row in both:
        assert row["shopstream_visit_to_signup_rate"] == pytest.approx(
            row["shopstream_signups"] / row["shopstream_visits"]
        )
        assert row["shopstream_visit_to_order_rate"] == pytest.approx(
            row["shopstream_orders"] / row["shopstream_visits"]
        )


def test_catalogue_late_share_counts_the_sync_status_mart(built: MetricLakehouse) -> None:
    [expected] = built.sql(
        "select count(*) filter (where resource_id is not null) as resources, "
        "count(*) filter (where is_late) as late, count(*) filter (where is_late is not null) as scheduled "
        "from gold.mart_dataset_sync_status where source = 'datagouv'"
    )
    [row] = built.metric(
        "--metrics", "datagouv_resources,datagouv_late_resources,datagouv_scheduled_resources,datagouv_late_share"
    )
    assert expected["resources"] > 0
    assert row["datagouv_resources"] == expected["resources"]
    assert row["datagouv_late_resources"] == expected["late"]
    assert row["datagouv_scheduled_resources"] == expected["scheduled"]
    late_share = None if not expected["scheduled"] else expected["late"] / expected["scheduled"]
    assert row["datagouv_late_share"] == (None if late_share is None else pytest.approx(late_share))

"""Who reads what on the chart's Trino, for real: the suite's Trino runs the access control rules and group file the
chart renders from its ``access`` values (tests/conftest.py ``cluster``), over the gold tables ``civiclake transform``
built on it (tests/cluster/warehouse.py). One user per role, taken from the chart's group file, queries the same
tables as an admin; each result is checked against what the admin sees."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from trino.exceptions import TrinoQueryError

from civiclake.servers import chart
from civiclake.servers.stack import ClusterServers
from tests.cluster.warehouse import BuildRound

pytestmark = pytest.mark.integration

# ShopStream's countries in Europe, and the ones outside it (src/civiclake/demo/shopstream/reference.py).
EUROPEAN = ("FR", "BE", "CH", "LU", "DE", "ES", "IT", "GB")
OUTSIDE_EUROPE = ("CA", "US")
AMOUNTS = ("unit_price", "discount_amount", "gross_amount", "net_amount", "net_amount_eur", "cost_eur", "margin_eur")
MERCHANT = 1


def user_of(group: str) -> str:
    """The first user the chart's group file puts in ``group``."""
    users = chart.chart_values()["access"]["groups"][group]
    assert users, f"the chart's access.groups.{group} has no user"
    return str(users[0])


def query(cluster: ClusterServers, user: str, statement: str) -> list[tuple[Any, ...]]:
    return cluster.trino.query(statement, user=user)


def in_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


@pytest.fixture(scope="module")
def gold(first_builds: BuildRound) -> BuildRound:
    """The warehouse after the first build on Trino, which must have succeeded for these checks to mean anything."""
    assert first_builds.trino.result.exit_code == 0, first_builds.trino.result.output[-3000:]
    return first_builds


def test_civiclakes_own_users_are_admins_of_every_table(cluster: ClusterServers, gold: BuildRound) -> None:
    for user in ("civiclake", "civiclake-dbt"):
        [(customers,)] = query(cluster, user, "SELECT count(*) FROM iceberg.gold.dim_customers")
        assert customers > 0
        [(bronze,)] = query(cluster, user, "SELECT count(*) FROM iceberg.bronze.postgres__shopstream__users")
        assert bronze > 0


def test_the_marketing_user_sees_only_european_customers_and_their_orders(
    cluster: ClusterServers, gold: BuildRound
) -> None:
    admin = "civiclake"
    [(outside,)] = query(
        cluster,
        admin,
        f"SELECT count(*) FROM iceberg.gold.dim_customers WHERE country_code IN ({in_list(OUTSIDE_EUROPE)})",
    )
    assert outside > 0, "the sample has no customer outside Europe: the filter would prove nothing"
    expected = dict(
        query(
            cluster,
            admin,
            "SELECT country_code, count(*) FROM iceberg.gold.dim_customers "
            f"WHERE country_code IN ({in_list(EUROPEAN)}) GROUP BY country_code",
        )
    )
    seen = dict(
        query(cluster, user_of("marketing"), "SELECT country_code, count(*) FROM iceberg.gold.dim_customers GROUP BY 1")
    )
    assert seen == expected

    expected_orders = dict(
        query(
            cluster,
            admin,
            "SELECT shipping_country, count(*) FROM iceberg.gold.fct_order_items "
            f"WHERE shipping_country IN ({in_list(EUROPEAN)}) GROUP BY 1",
        )
    )
    seen_orders = dict(
        query(
            cluster,
            user_of("marketing"),
            "SELECT shipping_country, count(*) FROM iceberg.gold.fct_order_items GROUP BY 1",
        )
    )
    assert seen_orders == expected_orders
    assert not set(seen_orders) & set(OUTSIDE_EUROPE)


def test_the_junior_analyst_sees_every_order_line_with_every_amount_masked(
    cluster: ClusterServers, gold: BuildRound
) -> None:
    columns = ", ".join(AMOUNTS)
    statement = f"SELECT order_item_id, quantity, {columns} FROM iceberg.gold.fct_order_items ORDER BY order_item_id"
    admin_rows = query(cluster, "civiclake", statement)
    junior_rows = query(cluster, user_of("analyst_junior"), statement)

    assert len(junior_rows) == len(admin_rows) > 0
    # Same lines, same quantities: only the amounts are hidden.
    assert [row[:2] for row in junior_rows] == [row[:2] for row in admin_rows]
    assert {row[2:] for row in junior_rows} == {(None,) * len(AMOUNTS)}
    assert any(isinstance(value, Decimal) and value != 0 for row in admin_rows for value in row[2:])

    [(value, margin)] = query(
        cluster,
        user_of("analyst_junior"),
        "SELECT max(lifetime_value_eur), max(lifetime_margin_eur) FROM iceberg.gold.dim_customers",
    )
    assert (value, margin) == (None, None)


def test_the_merchant_user_sees_only_its_own_products_and_their_sales(
    cluster: ClusterServers, gold: BuildRound
) -> None:
    merchant = user_of(f"merchant_{MERCHANT}")
    for table in ("fct_order_items", "dim_products"):
        everyone = dict(
            query(cluster, "civiclake", f"SELECT merchant_id, count(*) FROM iceberg.gold.{table} GROUP BY 1")
        )
        assert len(everyone) > 1, f"gold.{table} has one merchant only: the filter would prove nothing"
        seen = dict(query(cluster, merchant, f"SELECT merchant_id, count(*) FROM iceberg.gold.{table} GROUP BY 1"))
        assert seen == {MERCHANT: everyone[MERCHANT]}, table


@pytest.mark.parametrize(
    ("group", "table"),
    [
        ("marketing", "gold.dim_products"),
        ("marketing", "bronze.postgres__shopstream__users"),
        (f"merchant_{MERCHANT}", "gold.dim_customers"),
        ("analyst_junior", "gold.mart_customer_ltv"),
        ("analyst_junior", "silver.int_shopstream_order_items_enriched"),
        ("analyst", "bronze.postgres__shopstream__users"),
    ],
)
def test_a_table_no_grant_gives_the_users_group_is_access_denied(
    cluster: ClusterServers, gold: BuildRound, group: str, table: str
) -> None:
    with pytest.raises(TrinoQueryError) as denied:
        query(cluster, user_of(group), f"SELECT count(*) FROM iceberg.{table}")
    assert "Access Denied" in str(denied.value), denied.value


def test_a_user_in_no_group_reads_nothing_and_writes_nothing(cluster: ClusterServers, gold: BuildRound) -> None:
    for statement in (
        "SELECT count(*) FROM iceberg.gold.dim_customers",
        "CREATE SCHEMA iceberg.intruder_schema",
    ):
        with pytest.raises(TrinoQueryError) as denied:
            query(cluster, "someone-unknown", statement)
        assert "Access Denied" in str(denied.value), denied.value


def test_the_analyst_reads_gold_and_silver_but_cannot_write(cluster: ClusterServers, gold: BuildRound) -> None:
    analyst = user_of("analyst")
    [(gold_rows,)] = query(cluster, analyst, "SELECT count(*) FROM iceberg.gold.dim_customers")
    [(admin_rows,)] = query(cluster, "civiclake", "SELECT count(*) FROM iceberg.gold.dim_customers")
    assert gold_rows == admin_rows > 0
    [(silver_rows,)] = query(cluster, analyst, "SELECT count(*) FROM iceberg.silver.int_shopstream_orders_merged")
    assert silver_rows > 0
    with pytest.raises(TrinoQueryError) as denied:
        query(cluster, analyst, "DELETE FROM iceberg.gold.dim_customers")
    assert "Access Denied" in str(denied.value), denied.value


def test_a_non_admin_sees_its_own_queries_and_never_the_text_of_anyone_elses(cluster: ClusterServers) -> None:
    # dbt's statements carry the pseudonymisation key: Trino's query list must not show them to other users.
    admins_marker, own_marker = f"admin-{uuid.uuid4().hex}", f"own-{uuid.uuid4().hex}"
    query(cluster, "civiclake", f"SELECT '{admins_marker}'")
    marketing = user_of("marketing")
    query(cluster, marketing, f"SELECT '{own_marker}'")

    def listed_by(user: str) -> str:
        response = httpx.get(f"{cluster.trino.url}/v1/query", headers={"X-Trino-User": user}, timeout=30)
        response.raise_for_status()
        return response.text

    assert admins_marker in listed_by("civiclake") and own_marker in listed_by("civiclake")
    seen_by_marketing = listed_by(marketing)
    assert own_marker in seen_by_marketing
    assert admins_marker not in seen_by_marketing

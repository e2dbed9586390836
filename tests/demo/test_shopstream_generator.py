"""The ShopStream generator against a real PostgreSQL: determinism, volumes, integrity, plausible values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg2
import pytest
from click.testing import CliRunner
from psycopg2.extensions import connection as Connection
from tests.servers.postgres import PostgresServer

from civiclake.cli.main import cli
from civiclake.demo.shopstream import (
    DEFAULT_AS_OF,
    TABLES,
    ShopstreamCounts,
    apply_day_of_changes,
    create_schema,
    generate_shopstream,
    table_fingerprints,
)
from civiclake.errors import SourceError

pytestmark = pytest.mark.integration


def _query(connection: Connection, statement: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement)
        rows = cursor.fetchall()
    connection.rollback()
    return rows


def _fresh(server: PostgresServer, name: str) -> Connection:
    server.create_database(name)
    return psycopg2.connect(server.database_dsn(name))


def test_the_same_seed_gives_the_same_tables_and_another_seed_does_not(postgres_server: PostgresServer) -> None:
    first, second, other = (_fresh(postgres_server, name) for name in ("gen_a", "gen_b", "gen_c"))
    try:
        counts = generate_shopstream(first, scale=0.2, seed=7)
        assert generate_shopstream(second, scale=0.2, seed=7) == counts
        generate_shopstream(other, scale=0.2, seed=8)
        assert table_fingerprints(first) == table_fingerprints(second)
        differing = table_fingerprints(first).items() ^ table_fingerprints(other).items()
        assert {table for table, _ in differing} == set(TABLES)

        # A day of changes is seeded too: both copies move the same way.
        assert apply_day_of_changes(first, seed=7) == apply_day_of_changes(second, seed=7)
        assert table_fingerprints(first) == table_fingerprints(second)
    finally:
        for connection in (first, second, other):
            connection.close()


def test_scale_one_has_the_contracted_volumes(connection: Connection) -> None:
    counts = generate_shopstream(connection, scale=1)
    assert ShopstreamCounts.for_scale(1) == ShopstreamCounts(1000, 200, 5000, 15000, 800)
    assert {table: counts[table] for table in ("users", "products", "orders", "events", "crm_contacts")} == {
        "users": 1000,
        "products": 200,
        "orders": 5000,
        "events": 15000,
        "crm_contacts": 800,
    }
    assert 5000 <= counts["order_items"] <= 5 * 5000
    actual = {table: _query(connection, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}
    assert actual == counts
    [(minimum, maximum)] = _query(
        connection, "SELECT min(n), max(n) FROM (SELECT count(*) n FROM order_items GROUP BY order_id) t"
    )
    assert (minimum, maximum) == (1, 5)


def test_foreign_keys_totals_and_timestamps_hold(connection: Connection) -> None:
    generate_shopstream(connection, scale=1)
    foreign_keys = _query(
        connection,
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
        "WHERE contype = 'f' ORDER BY 1, 2",
    )
    assert foreign_keys == [
        ("crm_contacts", "users"),
        ("events", "users"),
        ("order_items", "orders"),
        ("order_items", "products"),
        ("orders", "users"),
    ]
    orphans = _query(
        connection,
        """
        SELECT (SELECT count(*) FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL),
               (SELECT count(*) FROM order_items i LEFT JOIN orders o ON o.id = i.order_id WHERE o.id IS NULL),
               (SELECT count(*) FROM order_items i LEFT JOIN products p ON p.id = i.product_id WHERE p.id IS NULL),
               (SELECT count(*) FROM events e LEFT JOIN users u ON u.id = e.user_id
                 WHERE e.user_id IS NOT NULL AND u.id IS NULL)
        """,
    )
    assert orphans == [(0, 0, 0, 0)]
    wrong_totals = _query(
        connection,
        """
        SELECT count(*) FROM orders o
        JOIN (SELECT order_id, sum(quantity * unit_price - discount_amount) AS total FROM order_items GROUP BY 1) i
          ON i.order_id = o.id
        WHERE o.total_amount <> i.total
        """,
    )
    assert wrong_totals == [(0,)]
    for table in TABLES:
        [(backwards, earliest, latest)] = _query(
            connection,
            f"SELECT count(*) FILTER (WHERE updated_at < created_at), min(created_at), max(updated_at) FROM {table}",
        )
        assert backwards == 0
        assert latest <= DEFAULT_AS_OF
        assert earliest >= DEFAULT_AS_OF - timedelta(days=548 + 60)
    # Orders are placed by users who had signed up, and items sold by products that existed.
    assert _query(
        connection, "SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE o.ordered_at < u.created_at"
    ) == [(0,)]
    assert _query(
        connection,
        "SELECT count(*) FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.created_at < p.created_at",
    ) == [(0,)]


def test_values_look_like_a_french_shop(connection: Connection) -> None:
    generate_shopstream(connection, scale=1)
    countries = dict(_query(connection, "SELECT country, count(*) FROM users GROUP BY 1"))
    assert countries["FR"] / 1000 > 0.6
    currencies = dict(_query(connection, "SELECT currency, count(*) FROM orders GROUP BY 1"))
    assert currencies["EUR"] / 5000 > 0.85
    statuses = dict(_query(connection, "SELECT status, count(*) FROM orders GROUP BY 1"))
    assert set(statuses) == {"pending", "paid", "shipped", "delivered", "cancelled", "refunded"}
    assert statuses["delivered"] == max(statuses.values())
    assert {row[0] for row in _query(connection, "SELECT DISTINCT event_type FROM events")} == {
        "page_view", "search", "add_to_cart", "checkout", "purchase", "login",
    }  # fmt: skip
    [(low, high)] = _query(connection, "SELECT min(unit_price), max(unit_price) FROM products")
    assert Decimal("4") <= low < high <= Decimal("900")
    assert _query(connection, "SELECT count(*) FROM products WHERE unit_cost >= unit_price") == [(0,)]
    [(paris,)] = _query(connection, "SELECT count(*) FROM users WHERE city = 'Paris'")
    assert paris > 100
    # jsonb metadata carries what the event is about
    [(metadata,)] = _query(connection, "SELECT metadata FROM events WHERE event_type = 'search' ORDER BY id LIMIT 1")
    assert set(metadata) >= {"query", "device"}


def test_a_day_of_changes_moves_updated_at_into_the_next_day_only(connection: Connection) -> None:
    generate_shopstream(connection, scale=1)
    before = {table: dict(_query(connection, f"SELECT id, updated_at FROM {table}")) for table in TABLES}
    changes = apply_day_of_changes(connection)
    assert changes.day == DEFAULT_AS_OF.date()  # the day right after the generated history
    day_start = datetime(changes.day.year, changes.day.month, changes.day.day, tzinfo=UTC)
    for table in TABLES:
        after = dict(_query(connection, f"SELECT id, updated_at FROM {table}"))
        moved = {key for key, value in after.items() if before[table].get(key) != value}
        assert moved == changes.changed[table], table
        assert all(day_start <= after[key] < day_start + timedelta(days=1) for key in moved)
        assert set(before[table]) - set(after) == changes.deleted[table], table
    assert changes.changed["users"] and changes.changed["orders"] and changes.changed["order_items"]
    assert changes.changed["events"] and changes.changed["crm_contacts"]
    assert changes.deleted["crm_contacts"] and changes.deleted["users"]
    # The next day follows on.
    assert apply_day_of_changes(connection).day == changes.day + timedelta(days=1)


def test_generating_over_existing_rows_is_refused_unless_replacing(connection: Connection) -> None:
    generate_shopstream(connection, scale=0.05)
    with pytest.raises(SourceError, match=r"already holds ShopStream rows in users \(50\).*--replace"):
        generate_shopstream(connection, scale=0.05)
    assert generate_shopstream(connection, scale=0.05, replace=True)["users"] == 50
    create_schema(connection, "empty")
    connection.commit()
    with pytest.raises(SourceError, match="holds no ShopStream rows: generate it first"):
        apply_day_of_changes(connection, schema="empty")


def test_cli_generates_then_applies_changes_without_printing_credentials(
    postgres_server: PostgresServer, database: str, connection: Connection
) -> None:
    dsn = f"postgresql://postgres:not-a-secret-pw@{postgres_server.host}:{postgres_server.port}/{database}"
    runner = CliRunner()
    generated = runner.invoke(cli, ["generate", "shopstream", "--dsn", dsn, "--scale", "0.05", "--seed", "3"], obj={})
    assert generated.exit_code == 0, generated.output
    assert "users 50, products 10, orders 250" in generated.output
    changed = runner.invoke(cli, ["generate", "shopstream", "--dsn", dsn, "--changes", "--seed", "3"], obj={})
    assert changed.exit_code == 0, changed.output
    assert "applied the day of changes 2026-11-01" in changed.output
    again = runner.invoke(cli, ["generate", "shopstream", "--dsn", dsn, "--scale", "0.05"], obj={})
    assert again.exit_code == 1 and "--replace" in again.output
    down = runner.invoke(
        cli, ["generate", "shopstream", "--dsn", "postgresql://u:not-a-secret-pw@127.0.0.1:1/x"], obj={}
    )
    assert down.exit_code == 1 and "cannot connect to PostgreSQL at 127.0.0.1:1/x" in down.output
    for result in (generated, changed, again, down):
        assert "not-a-secret-pw" not in result.output

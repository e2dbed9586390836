"""The ShopStream OLTP schema: a contract shared with the dbt models (names and types must not drift).

Every table has a bigint ``id`` key and ``created_at``/``updated_at``; ``updated_at`` moves on every change, which
is what incremental extraction follows. Indexes cover the foreign keys and ``(updated_at, id)``, the extraction
cursor's order.
"""

from __future__ import annotations

from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from civiclake.demo.shopstream.reference import (
    EVENT_TYPES,
    LIFECYCLE_STAGES,
    ORDER_STATUSES,
    PLANS,
    SIGNUP_CHANNELS,
    USER_STATUSES,
)

# Parents first: the order tables are created, loaded and extracted in.
TABLES = ("users", "products", "orders", "order_items", "events", "crm_contacts")


def _one_of(values: tuple[str, ...] | tuple[tuple[str, int], ...]) -> str:
    names = [value if isinstance(value, str) else value[0] for value in values]
    return "(" + ", ".join(f"'{name}'" for name in names) + ")"


_TIMESTAMPS = """
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (updated_at >= created_at)"""

DDL = f"""
CREATE TABLE IF NOT EXISTS {{schema}}.users (
    id bigint PRIMARY KEY,
    email text NOT NULL UNIQUE,
    full_name text,
    country char(2),
    city text,
    signup_channel text CHECK (signup_channel IN {_one_of(SIGNUP_CHANNELS)}),
    plan text CHECK (plan IN {_one_of(PLANS)}),
    status text CHECK (status IN {_one_of(USER_STATUSES)}),{_TIMESTAMPS}
);
CREATE TABLE IF NOT EXISTS {{schema}}.products (
    id bigint PRIMARY KEY,
    sku text UNIQUE,
    name text,
    category text,
    brand text,
    merchant_id int NOT NULL,
    unit_price numeric(10,2) CHECK (unit_price >= 0),
    unit_cost numeric(10,2) CHECK (unit_cost >= 0),
    active boolean,{_TIMESTAMPS}
);
CREATE TABLE IF NOT EXISTS {{schema}}.orders (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES {{schema}}.users (id),
    status text CHECK (status IN {_one_of(ORDER_STATUSES)}),
    currency char(3),
    shipping_country char(2),
    total_amount numeric(12,2),
    ordered_at timestamptz,{_TIMESTAMPS}
);
CREATE TABLE IF NOT EXISTS {{schema}}.order_items (
    id bigint PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES {{schema}}.orders (id),
    product_id bigint NOT NULL REFERENCES {{schema}}.products (id),
    quantity int CHECK (quantity BETWEEN 1 AND 5),
    unit_price numeric(10,2),
    discount_amount numeric(10,2) CHECK (discount_amount >= 0),{_TIMESTAMPS}
);
CREATE TABLE IF NOT EXISTS {{schema}}.events (
    id bigint PRIMARY KEY,
    user_id bigint REFERENCES {{schema}}.users (id),
    session_id uuid,
    event_type text CHECK (event_type IN {_one_of(EVENT_TYPES)}),
    metadata jsonb,
    occurred_at timestamptz,{_TIMESTAMPS}
);
CREATE TABLE IF NOT EXISTS {{schema}}.crm_contacts (
    id bigint PRIMARY KEY,
    user_id bigint REFERENCES {{schema}}.users (id),
    email text,
    company text,
    job_title text,
    lifecycle_stage text CHECK (lifecycle_stage IN {_one_of(LIFECYCLE_STAGES)}),
    owner text,{_TIMESTAMPS}
);
CREATE INDEX IF NOT EXISTS orders_user_id_idx ON {{schema}}.orders (user_id);
CREATE INDEX IF NOT EXISTS order_items_order_id_idx ON {{schema}}.order_items (order_id);
CREATE INDEX IF NOT EXISTS order_items_product_id_idx ON {{schema}}.order_items (product_id);
CREATE INDEX IF NOT EXISTS events_user_id_idx ON {{schema}}.events (user_id);
CREATE INDEX IF NOT EXISTS crm_contacts_user_id_idx ON {{schema}}.crm_contacts (user_id);
""" + "".join(
    f"CREATE INDEX IF NOT EXISTS {table}_updated_at_idx ON {{schema}}.{table} (updated_at, id);\n" for table in TABLES
)


def create_schema(connection: Connection, schema: str = "public") -> None:
    """Create the schema and its tables and indexes where missing (in the caller's transaction)."""
    identifier = sql.Identifier(schema)
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(identifier))
        cursor.execute(sql.SQL(DDL).format(schema=identifier))

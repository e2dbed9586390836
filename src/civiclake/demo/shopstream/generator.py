"""ShopStream: a seeded, realistic e-commerce OLTP database, and one day of changes at a time.

``generate_shopstream`` fills the six tables (scale 1: 1,000 users, 200 products, 5,000 orders of 1-5 items,
15,000 events, 800 CRM contacts) with values spread over the ~18 months before ``as_of``. The same seed, scale
and ``as_of`` give byte-identical tables: every table draws from its own seeded generator, ids follow creation
time, and nothing reads the clock. Rows go in with batched COPY, streamed, so memory stays small.

``apply_day_of_changes`` then plays the next day of activity after the latest ``updated_at`` in the database:
sign-ups, new orders and their items, order status progressions, plan and status changes, browsing events, CRM
updates, hard-deleted CRM contacts and erased accounts. Every change sets ``updated_at`` inside that day, so an
incremental extraction from the previous high-water mark finds exactly these rows.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import json
import math
import random
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from psycopg2 import sql
from psycopg2.extensions import connection as Connection
from psycopg2.extras import execute_values

from civiclake.demo.shopstream import reference as ref
from civiclake.demo.shopstream.schema import TABLES, create_schema
from civiclake.errors import SourceError

DEFAULT_SEED = 42
# A fixed date rather than the clock: the same seed and scale must give the same bytes on any day.
DEFAULT_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
HISTORY = timedelta(days=548)  # about 18 months
COPY_BATCH_ROWS = 10_000
CENT = Decimal("0.01")
_T = TypeVar("_T")

COLUMNS = {
    "users": ("id", "email", "full_name", "country", "city", "signup_channel", "plan", "status", "created_at",
              "updated_at"),
    "products": ("id", "sku", "name", "category", "brand", "merchant_id", "unit_price", "unit_cost", "active",
                 "created_at", "updated_at"),
    "orders": ("id", "user_id", "status", "currency", "shipping_country", "total_amount", "ordered_at",
               "created_at", "updated_at"),
    "order_items": ("id", "order_id", "product_id", "quantity", "unit_price", "discount_amount", "created_at",
                    "updated_at"),
    "events": ("id", "user_id", "session_id", "event_type", "metadata", "occurred_at", "created_at", "updated_at"),
    "crm_contacts": ("id", "user_id", "email", "company", "job_title", "lifecycle_stage", "owner", "created_at",
                     "updated_at"),
}  # fmt: skip


@dataclass(frozen=True)
class ShopstreamCounts:
    users: int
    products: int
    orders: int
    events: int
    crm_contacts: int

    @classmethod
    def for_scale(cls, scale: float) -> ShopstreamCounts:
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")

        def scaled(base: int) -> int:
            return max(1, round(base * scale))

        return cls(scaled(1000), scaled(200), scaled(5000), scaled(15000), scaled(800))


@dataclass
class DayOfChanges:
    """What one day of activity did: per table, the ids inserted or updated, and the ids hard-deleted."""

    day: date
    changed: dict[str, set[int]] = field(default_factory=lambda: {table: set() for table in TABLES})
    deleted: dict[str, set[int]] = field(default_factory=lambda: {table: set() for table in TABLES})

    def summary(self) -> str:
        parts = [f"{table} +{len(self.changed[table])}/-{len(self.deleted[table])}" for table in TABLES]
        return f"{self.day}: " + ", ".join(parts)


class _Weighted:
    """A weighted choice with its cumulative weights computed once (rng.choices recomputes them every call)."""

    def __init__(self, pairs: Iterable[tuple[Any, float]]) -> None:
        items = list(pairs)
        self.values = [value for value, _ in items]
        self.cumulative: list[float] = []
        total = 0.0
        for _, weight in items:
            total += weight
            self.cumulative.append(total)

    def pick(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


_COUNTRIES = _Weighted((country, weight) for country, (weight, _) in ref.COUNTRIES.items())
_CITIES = {country: _Weighted(cities) for country, (_, cities) in ref.COUNTRIES.items()}
_CURRENCIES = {country: _Weighted(pairs) for country, pairs in ref.CURRENCIES.items()}
_DOMAINS = _Weighted(ref.EMAIL_DOMAINS)
_CHANNELS = _Weighted(ref.SIGNUP_CHANNELS)
_PLANS = _Weighted(ref.PLANS)
_USER_STATUSES = _Weighted(ref.USER_STATUSES)
_CATEGORIES = _Weighted(ref.CATEGORY_WEIGHTS.items())
_ITEMS = _Weighted(ref.ITEMS_PER_ORDER)
_QUANTITIES = _Weighted(ref.QUANTITIES)
_DISCOUNTS = _Weighted(ref.DISCOUNT_RATES)
_REFERRERS = _Weighted(ref.REFERRERS)
_DEVICES = _Weighted(ref.DEVICES)
_PAYMENTS = _Weighted(ref.PAYMENT_METHODS)
_LOGINS = _Weighted(ref.LOGIN_METHODS)
_OWNERS = _Weighted(ref.SALES_OWNERS)
_SESSION_LENGTHS = _Weighted([(1, 18), (2, 20), (3, 18), (4, 14), (5, 10), (6, 8), (7, 6), (8, 6)])


@dataclass(frozen=True)
class _User:
    id: int
    email: str
    country: str
    created_at: datetime
    weight: float  # how often this customer shops and browses


@dataclass(frozen=True)
class _Product:
    id: int
    sku: str
    unit_price: Decimal
    created_at: datetime


class _CopyWriter:
    """Rows to a table through COPY ... FROM STDIN (CSV), one COPY per batch of rows."""

    def __init__(
        self,
        connection: Connection,
        schema: str,
        table: str,
        batch_rows: int = COPY_BATCH_ROWS,
        parent: _CopyWriter | None = None,
    ) -> None:
        self.connection = connection
        self.parent = parent  # flushed first, so the rows that foreign keys point at are there
        self.statement = (
            sql.SQL("COPY {}.{} ({}) FROM STDIN WITH (FORMAT csv)")
            .format(
                sql.Identifier(schema),
                sql.Identifier(table),
                sql.SQL(", ").join(sql.Identifier(column) for column in COLUMNS[table]),
            )
            .as_string(connection)
        )
        self.batch_rows = batch_rows
        self.rows = 0
        self._pending = 0
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\n")

    def write(self, row: Sequence[Any]) -> None:
        self._csv.writerow([_csv_value(value) for value in row])
        self._pending += 1
        if self._pending >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        if self.parent is not None:
            self.parent.flush()
        self._buffer.seek(0)
        with self.connection.cursor() as cursor:
            cursor.copy_expert(self.statement, self._buffer)
        self.rows += self._pending
        self._pending = 0
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\n")


def _csv_value(value: Any) -> Any:
    # CSV COPY reads an unquoted empty field as NULL; the generator never produces empty strings.
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def generate_shopstream(
    connection: Connection,
    *,
    scale: float = 1.0,
    seed: int = DEFAULT_SEED,
    as_of: datetime = DEFAULT_AS_OF,
    schema: str = "public",
    replace: bool = False,
) -> dict[str, int]:
    """Create the ShopStream tables if missing and fill them; returns the rows written per table.

    Refuses to write into tables that already hold rows unless ``replace`` (which empties them first). One
    transaction: a failure leaves the database as it was.
    """
    counts = ShopstreamCounts.for_scale(scale)
    as_of = as_of.astimezone(UTC)
    try:
        create_schema(connection, schema)
        existing = _row_counts(connection, schema)
        if any(existing.values()):
            if not replace:
                filled = ", ".join(f"{table} ({rows})" for table, rows in existing.items() if rows)
                raise SourceError(
                    f"schema {schema!r} already holds ShopStream rows in {filled}: apply a day of changes instead "
                    "(--changes), or regenerate with --replace"
                )
            with connection.cursor() as cursor:
                tables = sql.SQL(", ").join(sql.Identifier(schema, table) for table in TABLES)
                cursor.execute(sql.SQL("TRUNCATE {}").format(tables))
        written = _generate(connection, schema, counts, seed, as_of)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return written


def _generate(
    connection: Connection, schema: str, counts: ShopstreamCounts, seed: int, as_of: datetime
) -> dict[str, int]:
    start = as_of - HISTORY
    # Everything happens strictly before as_of, so the first day of changes is as_of's own day.
    as_of -= timedelta(microseconds=1)
    users = _generate_users(_rng(seed, "users"), _CopyWriter(connection, schema, "users"), counts.users, start, as_of)
    products = _generate_products(
        _rng(seed, "products"), _CopyWriter(connection, schema, "products"), counts.products, start, as_of
    )
    orders_writer = _CopyWriter(connection, schema, "orders")
    items_writer = _CopyWriter(connection, schema, "order_items", parent=orders_writer)
    customers = _generate_orders(
        _rng(seed, "orders"), orders_writer, items_writer, counts.orders, users, products, as_of
    )
    events_writer = _CopyWriter(connection, schema, "events")
    _generate_events(_rng(seed, "events"), events_writer, counts.events, users, products, start, as_of)
    crm_writer = _CopyWriter(connection, schema, "crm_contacts")
    _generate_crm_contacts(_rng(seed, "crm_contacts"), crm_writer, counts.crm_contacts, users, customers, start, as_of)
    return {
        "users": len(users),
        "products": len(products),
        "orders": orders_writer.rows,
        "order_items": items_writer.rows,
        "events": events_writer.rows,
        "crm_contacts": crm_writer.rows,
    }


def _rng(seed: int, stream: str) -> random.Random:
    # One generator per table: a table's content does not depend on how many draws another table made.
    return random.Random(f"shopstream:{seed}:{stream}")


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rng.random()


def _growing(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A time between start and end, more often late: the shop grows."""
    return start + (end - start) * math.sqrt(rng.random())


def _later(rng: random.Random, moment: datetime, at_most: timedelta, cap: datetime) -> datetime:
    return min(cap, moment + at_most * rng.random())


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return "".join(character if character.isalnum() else "-" for character in folded).strip("-")


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(ref.FIRST_NAMES), rng.choice(ref.LAST_NAMES)


def _user_row(
    rng: random.Random, user_id: int, created_at: datetime, as_of: datetime, taken_emails: set[str]
) -> tuple[list[Any], _User]:
    first, last = _person(rng)
    country = _COUNTRIES.pick(rng)
    domain = _DOMAINS.pick(rng)
    email = f"{_ascii(first)}.{_ascii(last)}@{domain}"
    if email in taken_emails:
        email = f"{_ascii(first)}.{_ascii(last)}{user_id}@{domain}"
    taken_emails.add(email)
    status = _USER_STATUSES.pick(rng)
    changed = status != "active" or rng.random() < 0.4  # plan changes, profile edits, suspensions
    updated_at = _between(rng, created_at, as_of) if changed else created_at
    row = [
        user_id,
        email,
        f"{first} {last}",
        country,
        _CITIES[country].pick(rng),
        _CHANNELS.pick(rng),
        _PLANS.pick(rng),
        status,
        created_at,
        updated_at,
    ]
    return row, _User(user_id, email, country, created_at, rng.paretovariate(1.6))


def _generate_users(
    rng: random.Random, writer: _CopyWriter, count: int, start: datetime, as_of: datetime
) -> list[_User]:
    signups = sorted(_growing(rng, start, as_of - timedelta(hours=1)) for _ in range(count))
    users, emails = [], set[str]()
    for user_id, created_at in enumerate(signups, start=1):
        row, user = _user_row(rng, user_id, created_at, as_of, emails)
        writer.write(row)
        users.append(user)
    writer.flush()
    return users


def _price(rng: random.Random, low: int, high: int) -> Decimal:
    """Shop prices: log-uniform between the category's bounds, ending in .99, .90, .50 or .00."""
    euros = int(math.exp(rng.uniform(math.log(low), math.log(high))))
    cents = rng.choice((Decimal("0.99"), Decimal("0.99"), Decimal("0.90"), Decimal("0.50"), Decimal("0.00")))
    return max(Decimal(low), Decimal(euros) + cents)


def _generate_products(
    rng: random.Random, writer: _CopyWriter, count: int, start: datetime, as_of: datetime
) -> list[_Product]:
    # Most of the catalogue exists before the first customer; new arrivals come later.
    launches = sorted(
        _between(rng, start - timedelta(days=60), start)
        if index == 0 or rng.random() < 0.85
        else _between(rng, start, as_of - timedelta(days=7))
        for index in range(count)
    )
    products = []
    for product_id, created_at in enumerate(launches, start=1):
        category = _CATEGORIES.pick(rng)
        prefix, (low, high), brands, nouns = ref.CATEGORIES[category]
        variant = rng.choice(ref.PRODUCT_VARIANTS)
        unit_price = _price(rng, low, high)
        unit_cost = (unit_price * Decimal(str(round(rng.uniform(0.35, 0.72), 2)))).quantize(CENT)
        active = rng.random() < 0.92
        changed = not active or rng.random() < 0.3  # delisted, repriced, renamed
        updated_at = _between(rng, created_at, as_of) if changed else created_at
        sku = f"{prefix}-{product_id:06d}"
        name = f"{rng.choice(nouns)} {variant}".strip()
        brand = rng.choice(brands)
        merchant_id = ref.merchant_for_brand(brand)
        writer.write(
            [product_id, sku, name, category, brand, merchant_id, unit_price, unit_cost, active, created_at, updated_at]
        )
        products.append(_Product(product_id, sku, unit_price, created_at))
    writer.flush()
    return products


# Where an order stands depends on its age: recent ones are still moving, old ones are settled.
_STATUS_BY_AGE = (
    (timedelta(hours=1), _Weighted([("pending", 70), ("paid", 25), ("cancelled", 5)])),
    (timedelta(days=1), _Weighted([("pending", 8), ("paid", 82), ("cancelled", 10)])),
    (timedelta(days=4), _Weighted([("paid", 15), ("shipped", 75), ("delivered", 3), ("cancelled", 7)])),
    (timedelta(days=14), _Weighted([("shipped", 20), ("delivered", 72), ("cancelled", 5), ("refunded", 3)])),
    (timedelta.max, _Weighted([("delivered", 88), ("cancelled", 7), ("refunded", 5)])),
)
# How long after the order its current status was reached (at most).
_STATUS_DELAY = {
    "pending": timedelta(0),
    "paid": timedelta(minutes=20),
    "shipped": timedelta(days=3),
    "delivered": timedelta(days=7),
    "cancelled": timedelta(days=2),
    "refunded": timedelta(days=40),
}


def _status_for_age(rng: random.Random, age: timedelta) -> str:
    for limit, statuses in _STATUS_BY_AGE:
        if age < limit:
            return str(statuses.pick(rng))
    raise AssertionError("unreachable: the last age bracket has no limit")


class _ProductPicker:
    """Popular products sell more; a product is only sold once it exists."""

    def __init__(self, rng: random.Random, products: Sequence[_Product]) -> None:
        self.products = products
        self.popularity = _Weighted((product, rng.paretovariate(1.2)) for product in products)

    def pick(self, rng: random.Random, when: datetime, exclude: set[int]) -> _Product:
        for _ in range(8):
            product: _Product = self.popularity.pick(rng)
            if product.created_at <= when and product.id not in exclude:
                return product
        return self.products[0]  # the first product predates every order


def _order_lines(rng: random.Random, picker: _ProductPicker, when: datetime) -> list[tuple[_Product, int, Decimal]]:
    lines: list[tuple[_Product, int, Decimal]] = []
    chosen: set[int] = set()
    for _ in range(_ITEMS.pick(rng)):
        product = picker.pick(rng, when, chosen)
        chosen.add(product.id)
        quantity = int(_QUANTITIES.pick(rng))
        discount = (product.unit_price * quantity * _DISCOUNTS.pick(rng)).quantize(CENT)
        lines.append((product, quantity, discount))
    return lines


def _order_total(lines: list[tuple[_Product, int, Decimal]]) -> Decimal:
    return sum((product.unit_price * quantity - discount for product, quantity, discount in lines), Decimal("0.00"))


def _shipping(rng: random.Random, user: _User) -> tuple[str, str]:
    country = user.country if rng.random() < 0.95 else "FR"
    currencies = _CURRENCIES.get(country)
    return country, (str(currencies.pick(rng)) if currencies else "EUR")


def _generate_orders(
    rng: random.Random,
    orders: _CopyWriter,
    items: _CopyWriter,
    count: int,
    users: Sequence[_User],
    products: Sequence[_Product],
    as_of: datetime,
) -> set[int]:
    """Orders and their items; returns the ids of users who ordered at least once."""
    shoppers = _Weighted((user, user.weight) for user in users)
    picker = _ProductPicker(rng, products)
    placed = []
    for _ in range(count):
        user: _User = shoppers.pick(rng)
        placed.append((_between(rng, user.created_at, as_of), user.id))
    placed.sort()
    customers: set[int] = set()
    item_id = 0
    for order_id, (ordered_at, user_id) in enumerate(placed, start=1):
        user = users[user_id - 1]
        customers.add(user_id)
        status = _status_for_age(rng, as_of - ordered_at)
        updated_at = _later(rng, ordered_at, _STATUS_DELAY[status], as_of)
        lines = _order_lines(rng, picker, ordered_at)
        country, currency = _shipping(rng, user)
        orders.write(
            [order_id, user_id, status, currency, country, _order_total(lines), ordered_at, ordered_at, updated_at]
        )
        for product, quantity, discount in lines:
            item_id += 1
            items.write([item_id, order_id, product.id, quantity, product.unit_price, discount, ordered_at, ordered_at])
    orders.flush()
    items.flush()
    return customers


# What a visitor does next, given what they just did.
_NEXT_EVENT = {
    "page_view": _Weighted([("page_view", 45), ("search", 20), ("add_to_cart", 25), ("checkout", 10)]),
    "search": _Weighted([("page_view", 60), ("search", 15), ("add_to_cart", 20), ("checkout", 5)]),
    "login": _Weighted([("page_view", 70), ("search", 30)]),
    "add_to_cart": _Weighted([("page_view", 40), ("add_to_cart", 20), ("checkout", 40)]),
    "checkout": _Weighted([("purchase", 65), ("page_view", 35)]),
    "purchase": _Weighted([("page_view", 1)]),
}


class _Session:
    """One visit: a device, maybe a signed-in user, a cart, and the next likely action."""

    def __init__(self, rng: random.Random, user: _User | None, picker: _ProductPicker) -> None:
        self.rng = rng
        self.user = user
        self.picker = picker
        self.id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.device = _DEVICES.pick(rng)
        self.cart = Decimal("0.00")
        self.cart_items = 0
        self.previous: str | None = None

    def next_event(self, when: datetime) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        if self.previous is None:
            kind = "login" if self.user is not None and rng.random() < 0.3 else "page_view"
        else:
            kind = _NEXT_EVENT[self.previous].pick(rng)
            if kind in ("checkout", "purchase") and not self.cart_items:
                kind = "page_view"
        self.previous = kind
        metadata: dict[str, Any] = {"device": self.device}
        if kind == "page_view":
            product = self.picker.pick(rng, when, set())
            metadata["path"] = rng.choice(("/", f"/produits/{product.sku.lower()}", "/nouveautes", "/promotions"))
            metadata["referrer"] = _REFERRERS.pick(rng)
        elif kind == "search":
            metadata["query"] = rng.choice(ref.SEARCH_QUERIES)
            metadata["results"] = rng.randint(0, 120)
        elif kind == "add_to_cart":
            product = self.picker.pick(rng, when, set())
            quantity = int(_QUANTITIES.pick(rng))
            self.cart += product.unit_price * quantity
            self.cart_items += quantity
            metadata.update(product_id=product.id, quantity=quantity, price=str(product.unit_price))
        elif kind == "checkout":
            metadata.update(cart_items=self.cart_items, cart_value=str(self.cart))
        elif kind == "purchase":
            metadata.update(amount=str(self.cart), payment_method=_PAYMENTS.pick(rng))
        else:
            metadata["method"] = _LOGINS.pick(rng)
        return kind, metadata


def _session_lengths(rng: random.Random, count: int) -> list[int]:
    lengths, total = [], 0
    while total < count:
        length = min(int(_SESSION_LENGTHS.pick(rng)), count - total)
        lengths.append(length)
        total += length
    return lengths


def _generate_events(
    rng: random.Random,
    writer: _CopyWriter,
    count: int,
    users: Sequence[_User],
    products: Sequence[_Product],
    start: datetime,
    as_of: datetime,
    first_id: int = 1,
    signed_in_share: float = 0.7,
) -> list[int]:
    visitors = _Weighted((user, user.weight) for user in users)
    picker = _ProductPicker(rng, products)
    lengths = _session_lengths(rng, count)
    starts = sorted(_growing(rng, start, as_of - timedelta(minutes=30)) for _ in lengths)
    event_id = first_id - 1
    for length, started in zip(lengths, starts, strict=True):
        user: _User | None = visitors.pick(rng) if rng.random() < signed_in_share else None
        if user is not None and user.created_at > started:
            user = None  # not signed up yet: an anonymous visit
        session = _Session(rng, user, picker)
        when = started
        for _ in range(length):
            kind, metadata = session.next_event(when)
            event_id += 1
            created_at = when + timedelta(milliseconds=rng.randint(5, 1500))
            writer.write(
                [event_id, user.id if user else None, session.id, kind, metadata, when, created_at, created_at]
            )
            when += timedelta(seconds=rng.randint(4, 150))
    writer.flush()
    return list(range(first_id, event_id + 1))


def _company_email(rng: random.Random, company: str) -> str:
    first, last = _person(rng)
    return f"{_ascii(first)}.{_ascii(last)}@{_ascii(company).replace('-', '')[:24]}.fr"


def _generate_crm_contacts(
    rng: random.Random,
    writer: _CopyWriter,
    count: int,
    users: Sequence[_User],
    customers: set[int],
    start: datetime,
    as_of: datetime,
) -> None:
    linked_users = rng.sample(list(users), min(len(users), round(count * 0.75)))
    contacts: list[tuple[datetime, _User | None]] = [
        (_later(rng, user.created_at, timedelta(days=20), as_of), user) for user in linked_users
    ]
    contacts += [(_growing(rng, start, as_of), None) for _ in range(count - len(contacts))]
    contacts.sort(key=lambda contact: (contact[0], contact[1].id if contact[1] else 0))
    unlinked_stages = _Weighted([("lead", 55), ("mql", 25), ("sql", 12), ("churned", 8)])
    for contact_id, (created_at, user) in enumerate(contacts, start=1):
        company = rng.choice(ref.COMPANIES)
        if user is None:
            stage = unlinked_stages.pick(rng)
            email = _company_email(rng, company)
        else:
            stage = (
                ("customer" if rng.random() < 0.9 else "churned")
                if user.id in customers
                else rng.choice(("mql", "sql"))
            )
            email = user.email if rng.random() < 0.85 else _company_email(rng, company)
        owner = None if stage == "lead" and rng.random() < 0.3 else _OWNERS.pick(rng)
        updated_at = _between(rng, created_at, as_of) if rng.random() < 0.5 else created_at
        writer.write(
            [
                contact_id,
                user.id if user else None,
                email,
                company,
                rng.choice(ref.JOB_TITLES),
                stage,
                owner,
                created_at,
                updated_at,
            ]
        )
    writer.flush()


def apply_day_of_changes(
    connection: Connection, *, seed: int = DEFAULT_SEED, schema: str = "public", scale: float | None = None
) -> DayOfChanges:
    """Play the day after the latest ``updated_at`` in the database; one transaction. Deterministic for a
    given seed and database content. ``scale`` sizes the day (default: the users table's size / 1,000)."""
    try:
        changes = _apply_day(connection, seed, schema, scale)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return changes


def _apply_day(connection: Connection, seed: int, schema: str, scale: float | None) -> DayOfChanges:
    db = _Database(connection, schema)
    high_water = db.value(
        sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT max(updated_at) FROM {}").format(sql.Identifier(schema, table)) for table in TABLES
        ),
        wrap="SELECT max(m) FROM ({}) AS t(m)",
    )
    if high_water is None:
        raise SourceError(f"schema {schema!r} holds no ShopStream rows: generate it first")
    day = (high_water.astimezone(UTC) + timedelta(days=1)).date()
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    rng = _rng(seed, f"changes:{day.isoformat()}")
    users_count = int(db.value(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "users"))))
    size = scale if scale is not None else max(users_count, 1) / 1000

    def scaled(base: float) -> int:
        return max(1, round(base * size))

    day_end = day_start + timedelta(days=1) - timedelta(microseconds=1)

    def moment() -> datetime:
        return _between(rng, day_start, day_end)

    changes = DayOfChanges(day)
    erased = _pick_erasures(rng, db, scaled(1))
    new_users = _insert_new_users(rng, db, scaled(12), moment, changes)
    _update_users(rng, db, scaled(20), erased, moment, changes)
    _insert_new_orders(rng, db, scaled(40), new_users, erased, moment, day_end, changes)
    _progress_orders(rng, db, scaled(60), scaled(2), moment, changes)
    _insert_new_events(rng, db, scaled(150), new_users, erased, day_start, changes)
    _update_and_delete_crm_contacts(rng, db, scaled(10), scaled(5), moment, changes)
    _erase_users(db, erased, moment(), changes)
    for table in TABLES:
        changes.changed[table] -= changes.deleted[table]
    return changes


class _Database:
    def __init__(self, connection: Connection, schema: str) -> None:
        self.connection = connection
        self.schema = schema

    def table(self, name: str) -> sql.Composable:
        return sql.Identifier(self.schema, name)

    def value(self, query: sql.Composable, params: Sequence[Any] = (), wrap: str | None = None) -> Any:
        if wrap:
            query = sql.SQL(wrap).format(query)
        with self.connection.cursor() as cursor:
            cursor.execute(query, params)
            row = cursor.fetchone()
        return row[0] if row else None

    def rows(self, query: sql.Composable, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    def next_id(self, table: str) -> int:
        return int(self.value(sql.SQL("SELECT coalesce(max(id), 0) + 1 FROM {}").format(self.table(table))))

    def update_from_values(self, table: str, columns: Sequence[str], casts: Sequence[str], rows: list[tuple]) -> None:
        """``UPDATE table SET columns... FROM (VALUES ...)`` keyed on the first column, ``id``."""
        if not rows:
            return
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = v.{}").format(sql.Identifier(column), sql.Identifier(column)) for column in columns[1:]
        )
        statement = sql.SQL("UPDATE {} AS t SET {} FROM (VALUES %s) AS v ({}) WHERE t.id = v.id").format(
            self.table(table), assignments, sql.SQL(", ").join(sql.Identifier(column) for column in columns)
        )
        template = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
        with self.connection.cursor() as cursor:
            execute_values(cursor, statement.as_string(self.connection), rows, template=template)


def _sample(rng: random.Random, population: Sequence[_T], count: int) -> list[_T]:
    return rng.sample(list(population), min(count, len(population)))


def _pick_erasures(rng: random.Random, db: _Database, count: int) -> set[int]:
    """Accounts closed for good (a GDPR erasure): users who never ordered."""
    candidates = [
        row[0]
        for row in db.rows(
            sql.SQL(
                "SELECT u.id FROM {} AS u WHERE NOT EXISTS (SELECT 1 FROM {} AS o WHERE o.user_id = u.id) ORDER BY u.id"
            ).format(db.table("users"), db.table("orders"))
        )
    ]
    return set(_sample(rng, candidates, count))


def _insert_new_users(
    rng: random.Random, db: _Database, count: int, moment: Callable[[], datetime], changes: DayOfChanges
) -> list[_User]:
    taken = {row[0] for row in db.rows(sql.SQL("SELECT email FROM {}").format(db.table("users")))}
    writer = _CopyWriter(db.connection, db.schema, "users")
    first_id = db.next_id("users")
    users = []
    for offset, created_at in enumerate(sorted(moment() for _ in range(count))):
        row, user = _user_row(rng, first_id + offset, created_at, created_at, taken)
        row[7] = "active"  # a sign-up of today is active
        writer.write(row)
        users.append(user)
        changes.changed["users"].add(user.id)
    writer.flush()
    return users


# Plan and status moves, with how often each happens.
_USER_MOVES = _Weighted(
    [
        (("plan", "free", "pro"), 45),
        (("plan", "pro", "business"), 12),
        (("plan", "pro", "free"), 10),
        (("plan", "business", "pro"), 3),
        (("status", "active", "suspended"), 8),
        (("status", "suspended", "active"), 6),
        (("status", "active", "closed"), 10),
    ]
)


def _update_users(
    rng: random.Random,
    db: _Database,
    count: int,
    erased: set[int],
    moment: Callable[[], datetime],
    changes: DayOfChanges,
) -> None:
    existing = db.rows(sql.SQL("SELECT id, plan, status FROM {} ORDER BY id").format(db.table("users")))
    by_state: dict[tuple[str, str], list[int]] = {}
    for user_id, plan, status in existing:
        if user_id not in erased and user_id not in changes.changed["users"]:
            by_state.setdefault(("plan", plan), []).append(user_id)
            by_state.setdefault(("status", status), []).append(user_id)
    current = {user_id: (plan, status) for user_id, plan, status in existing}
    updates: dict[int, tuple[int, str, str, datetime]] = {}
    for _ in range(count * 3):  # some moves have no candidate left: draw again, up to a point
        if len(updates) == count:
            break
        what, before, after = _USER_MOVES.pick(rng)
        candidates = [user_id for user_id in by_state.get((what, before), []) if user_id not in updates]
        if not candidates:
            continue
        user_id = rng.choice(candidates)
        plan, status = current[user_id]
        plan, status = (after, status) if what == "plan" else (plan, after)
        updates[user_id] = (user_id, plan, status, moment())
    db.update_from_values(
        "users",
        ("id", "plan", "status", "updated_at"),
        ("bigint", "text", "text", "timestamptz"),
        sorted(updates.values()),
    )
    changes.changed["users"].update(updates)


def _catalogue(db: _Database) -> list[_Product]:
    rows = db.rows(
        sql.SQL("SELECT id, sku, unit_price, created_at FROM {} WHERE active ORDER BY id").format(db.table("products"))
    )
    return [_Product(row[0], row[1], row[2], row[3]) for row in rows]


def _active_users(db: _Database, erased: set[int], new_users: list[_User]) -> list[_User]:
    rows = db.rows(
        sql.SQL("SELECT id, email, country, created_at FROM {} WHERE status = 'active' ORDER BY id").format(
            db.table("users")
        )
    )
    known = {user.id for user in new_users}
    users = [_User(row[0], row[1], row[2], row[3], 1.0) for row in rows if row[0] not in erased | known]
    return users + new_users


def _insert_new_orders(
    rng: random.Random,
    db: _Database,
    count: int,
    new_users: list[_User],
    erased: set[int],
    moment: Callable[[], datetime],
    day_end: datetime,
    changes: DayOfChanges,
) -> None:
    shoppers = _active_users(db, erased, new_users)
    catalogue = _catalogue(db)
    if not shoppers or not catalogue:
        return
    picker = _ProductPicker(rng, catalogue)
    orders = _CopyWriter(db.connection, db.schema, "orders")
    items = _CopyWriter(db.connection, db.schema, "order_items", parent=orders)
    order_id, item_id = db.next_id("orders"), db.next_id("order_items")
    for ordered_at in sorted(moment() for _ in range(count)):
        user = rng.choice(shoppers)
        ordered_at = max(ordered_at, user.created_at)
        status = "pending" if rng.random() < 0.4 else "paid"
        updated_at = _later(rng, ordered_at, _STATUS_DELAY[status], day_end)
        lines = _order_lines(rng, picker, ordered_at)
        country, currency = _shipping(rng, user)
        orders.write(
            [order_id, user.id, status, currency, country, _order_total(lines), ordered_at, ordered_at, updated_at]
        )
        changes.changed["orders"].add(order_id)
        for product, quantity, discount in lines:
            items.write([item_id, order_id, product.id, quantity, product.unit_price, discount, ordered_at, ordered_at])
            changes.changed["order_items"].add(item_id)
            item_id += 1
        order_id += 1
    orders.flush()
    items.flush()


_NEXT_STATUS = {
    "pending": _Weighted([("paid", 85), ("cancelled", 15)]),
    "paid": _Weighted([("shipped", 95), ("cancelled", 5)]),
    "shipped": _Weighted([("delivered", 1)]),
}


def _progress_orders(
    rng: random.Random, db: _Database, count: int, refunds: int, moment: Callable[[], datetime], changes: DayOfChanges
) -> None:
    """Orders placed before today move one step on; a few delivered ones are refunded."""
    open_orders = db.rows(
        sql.SQL("SELECT id, status FROM {} WHERE status IN ('pending', 'paid', 'shipped') ORDER BY id").format(
            db.table("orders")
        )
    )
    open_orders = [row for row in open_orders if row[0] not in changes.changed["orders"]]
    updates = [
        (order_id, _NEXT_STATUS[status].pick(rng), moment()) for order_id, status in _sample(rng, open_orders, count)
    ]
    delivered = db.rows(
        sql.SQL("SELECT id FROM {} WHERE status = 'delivered' ORDER BY updated_at DESC, id LIMIT 200").format(
            db.table("orders")
        )
    )
    updates += [(row[0], "refunded", moment()) for row in _sample(rng, sorted(delivered), refunds)]
    db.update_from_values("orders", ("id", "status", "updated_at"), ("bigint", "text", "timestamptz"), sorted(updates))
    changes.changed["orders"].update(order_id for order_id, _, _ in updates)


def _insert_new_events(
    rng: random.Random,
    db: _Database,
    count: int,
    new_users: list[_User],
    erased: set[int],
    day_start: datetime,
    changes: DayOfChanges,
) -> None:
    visitors = _active_users(db, erased, new_users)
    catalogue = _catalogue(db)
    if not catalogue:
        return
    writer = _CopyWriter(db.connection, db.schema, "events")
    day_end = day_start + timedelta(days=1)
    ids = _generate_events(
        rng,
        writer,
        count,
        visitors,
        catalogue,
        day_start,
        day_end,
        first_id=db.next_id("events"),
        signed_in_share=0.7 if visitors else 0.0,
    )
    changes.changed["events"].update(ids)


_NEXT_STAGE = {"lead": "mql", "mql": "sql", "sql": "customer", "customer": "churned"}


def _update_and_delete_crm_contacts(
    rng: random.Random, db: _Database, updated: int, deleted: int, moment: Callable[[], datetime], changes: DayOfChanges
) -> None:
    contacts = db.rows(sql.SQL("SELECT id, lifecycle_stage FROM {} ORDER BY id").format(db.table("crm_contacts")))
    gone = {row[0] for row in _sample(rng, contacts, deleted)}
    movable = [row for row in contacts if row[0] not in gone and row[1] in _NEXT_STAGE]
    updates = [
        (contact_id, _NEXT_STAGE[stage], _OWNERS.pick(rng), moment())
        for contact_id, stage in _sample(rng, movable, updated)
    ]
    db.update_from_values(
        "crm_contacts",
        ("id", "lifecycle_stage", "owner", "updated_at"),
        ("bigint", "text", "text", "timestamptz"),
        sorted(updates),
    )
    changes.changed["crm_contacts"].update(contact_id for contact_id, _, _, _ in updates)
    if gone:
        with db.connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(db.table("crm_contacts")), (sorted(gone),)
            )
        changes.deleted["crm_contacts"].update(gone)


def _erase_users(db: _Database, erased: set[int], when: datetime, changes: DayOfChanges) -> None:
    """Delete the accounts; their events and CRM contacts stay, detached (user_id set to null)."""
    if not erased:
        return
    ids = sorted(erased)
    with db.connection.cursor() as cursor:
        for table in ("events", "crm_contacts"):
            cursor.execute(
                sql.SQL("UPDATE {} SET user_id = NULL, updated_at = %s WHERE user_id = ANY(%s) RETURNING id").format(
                    db.table(table)
                ),
                (when, ids),
            )
            changes.changed[table].update(row[0] for row in cursor.fetchall())
        cursor.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(db.table("users")), (ids,))
    changes.deleted["users"].update(erased)


def table_fingerprints(connection: Connection, schema: str = "public") -> dict[str, str]:
    """SHA-256 of each table's rows in id order, as COPY prints them in UTC: equal content, equal hash."""
    fingerprints = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL TIME ZONE 'UTC'")
            for table in TABLES:
                query = sql.SQL("COPY (SELECT * FROM {} ORDER BY id) TO STDOUT").format(sql.Identifier(schema, table))
                sink = _HashingSink()
                cursor.copy_expert(query.as_string(connection), sink)
                fingerprints[table] = sink.hexdigest()
    finally:
        connection.rollback()
    return fingerprints


class _HashingSink:
    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()

    def write(self, data: str | bytes) -> int:
        self._sha256.update(data.encode() if isinstance(data, str) else data)
        return len(data)

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


def _row_counts(connection: Connection, schema: str) -> dict[str, int]:
    db = _Database(connection, schema)
    return {table: int(db.value(sql.SQL("SELECT count(*) FROM {}").format(db.table(table)))) for table in TABLES}

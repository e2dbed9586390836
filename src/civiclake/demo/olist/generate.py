"""``civiclake generate olist``: seeded, referentially complete Olist-shaped files, written in a stream.

The nine files have the real files' names, headers (``product_name_lenght`` included) and habits
(``YYYY-MM-DD HH:MM:SS`` timestamps, 5-digit zip prefixes with their leading zeros, identifiers quoted
or not from one row to the next, a BOM and CRLF where Olist has them, see ``csvio``). Unlike the real
samples, every foreign key resolves: items, payments and reviews to their order, orders to their
customer, items to a product and a seller, products to a category of the translation table, customers'
and sellers' zip prefixes to geolocation rows.

Distributions follow Olist's: ~97 % of orders delivered (then shipped, canceled, unavailable, invoiced,
processing, a few created or approved), ~8 % of deliveries after the estimated date, one item for nine
orders in ten, credit card ~74 % / boleto ~19 % / voucher / debit card, credit-card installments from
1 to 12, review scores skewed to 5 with a tail of 1s (mostly late or undelivered orders), purchases
growing over 2016-09..2018-09, a few percent of repeat customers sharing a ``customer_unique_id``.

Orders are written as they are drawn; only sellers, products and the repeat-customer pool stay in
memory (about a third of an entry per order), so 100,000 orders take a few seconds and little memory.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from math import sqrt
from pathlib import Path
from typing import Generic, TypeVar

from civiclake.demo.olist.csvio import FileStyle, StyledCsvWriter
from civiclake.demo.olist.reference import (
    CATEGORY_TRANSLATIONS,
    PLACES,
    POPULAR_CATEGORIES,
    REVIEW_MESSAGES,
    REVIEW_TITLES,
    SELLER_STATE_BOOST,
    Place,
)
from civiclake.demo.olist.schema import FILE_NAMES, HEADERS, TRANSLATION
from civiclake.errors import ConfigurationError

DEFAULT_SEED = 2018
_T = TypeVar("_T")
_EPOCH = datetime(1970, 1, 1)
_DAY = 86_400
_FIRST_PURCHASE = int((datetime(2016, 9, 5, 8) - _EPOCH).total_seconds())
_LAST_PURCHASE = int((datetime(2018, 9, 28, 22) - _EPOCH).total_seconds())

# Shares of the Olist files, as `FileStyle`s: a share of 1 means always quoted, 0 only when needed.
STYLES: dict[str, FileStyle] = {
    "customers": FileStyle(
        quote_share={"customer_id": 0.6, "customer_unique_id": 0.65, "customer_zip_code_prefix": 1.0}
    ),
    "geolocation": FileStyle(quote_share={"geolocation_zip_code_prefix": 1.0}),
    "order_items": FileStyle(quote_share={"order_id": 1.0, "product_id": 0.63, "seller_id": 0.66}),
    "order_payments": FileStyle(quote_share={"order_id": 0.62}),
    "order_reviews": FileStyle(newline="\r\n", quote_share={"review_id": 1.0, "order_id": 1.0}),
    "orders": FileStyle(quote_share={"order_id": 0.62, "customer_id": 0.63}),
    "products": FileStyle(quote_share={"product_id": 0.61}),
    "sellers": FileStyle(quote_share={"seller_id": 0.59, "seller_zip_code_prefix": 1.0}),
    TRANSLATION: FileStyle(bom=True, newline="\r\n", quoted_header=False),
}

ORDER_STATUSES = {
    "delivered": 0.9702,
    "shipped": 0.0111,
    "canceled": 0.0063,
    "unavailable": 0.0061,
    "invoiced": 0.0032,
    "processing": 0.0030,
    "created": 0.00005,
    "approved": 0.00002,
}
# The main payment of an order; split payments add vouchers before it, which brings the shares of payment
# rows to Olist's: credit card ~74 %, boleto ~19 %, voucher ~6 %, debit card ~1.5 %.
PAYMENT_TYPES = {"credit_card": 0.78, "boleto": 0.20, "voucher": 0.005, "debit_card": 0.015}
INSTALLMENTS = {
    1: 0.50, 2: 0.12, 3: 0.10, 4: 0.07, 5: 0.05, 6: 0.04, 7: 0.016, 8: 0.043, 9: 0.006, 10: 0.052, 12: 0.002,
}  # fmt: skip
ITEMS_PER_ORDER = {1: 0.90, 2: 0.076, 3: 0.013, 4: 0.006, 5: 0.002, 6: 0.003}
PHOTOS = {1: 0.50, 2: 0.20, 3: 0.11, 4: 0.08, 5: 0.06, 6: 0.05}
# Review scores by what happened to the order.
SCORES_ON_TIME = {5: 0.63, 4: 0.21, 3: 0.08, 2: 0.023, 1: 0.057}
SCORES_LATE = {5: 0.20, 4: 0.10, 3: 0.13, 2: 0.10, 1: 0.47}
SCORES_UNDELIVERED = {5: 0.06, 4: 0.04, 3: 0.08, 2: 0.07, 1: 0.75}

LATE_DELIVERY_SHARE = 0.08
REPEAT_CUSTOMER_SHARE = 0.03
SPLIT_PAYMENT_SHARE = 0.03  # orders paid in parts, vouchers first
NO_REVIEW_SHARE = 0.008
TITLE_SHARE = 0.12
MESSAGE_SHARE = 0.41
MULTILINE_SHARE = 0.1  # of messages: two sentences on two lines, as customers type them
UNCATEGORISED_PRODUCT_SHARE = 0.015
SELLERS_PER_ORDER = 0.031
PRODUCTS_PER_ORDER = 0.33


@dataclass
class GenerateReport:
    directory: Path
    rows: dict[str, int] = field(default_factory=dict)


class _Weighted(Generic[_T]):
    """Draws from a fixed distribution with one random number and a bisection."""

    def __init__(self, values: Sequence[_T], weights: Sequence[float]) -> None:
        self.values = list(values)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def draw(self, rng: random.Random) -> _T:
        return self.values[bisect(self.cumulative, rng.random() * self.total)]


def _weighted(table: Mapping[_T, float]) -> _Weighted[_T]:
    return _Weighted(list(table), list(table.values()))


def _zipf(count: int, exponent: float) -> _Weighted[int]:
    """Indexes 0..count-1, the first the most popular (a long tail, as products and sellers have)."""
    return _Weighted(range(count), [1 / (rank + 1) ** exponent for rank in range(count)])


def generate_olist(directory: Path, orders: int, *, seed: int = DEFAULT_SEED) -> GenerateReport:
    """Write the nine Olist files for ``orders`` orders into ``directory``."""
    if orders < 1:
        raise ConfigurationError(f"--orders must be at least 1, not {orders}")
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with ExitStack() as stack:
        writers = {
            entity: stack.enter_context(StyledCsvWriter(directory / FILE_NAMES[entity], columns, STYLES[entity], rng))
            for entity, columns in HEADERS.items()
        }
        _Generator(rng, writers).run(orders)
    return GenerateReport(directory, {entity: writer.rows for entity, writer in writers.items()})


class _Generator:
    def __init__(self, rng: random.Random, writers: dict[str, StyledCsvWriter]) -> None:
        self.rng = rng
        self.out = writers
        self.zips_located: set[str] = set()
        self.customer_places = _Weighted(PLACES, [place.weight for place in PLACES])
        self.seller_places = _Weighted(
            PLACES, [place.weight * SELLER_STATE_BOOST.get(place.state, 1.0) for place in PLACES]
        )
        self.statuses = _weighted(ORDER_STATUSES)
        self.payment_types = _weighted(PAYMENT_TYPES)
        self.installments = _weighted(INSTALLMENTS)
        self.items_per_order = _weighted(ITEMS_PER_ORDER)
        self.photos = _weighted(PHOTOS)
        self.scores = {
            "on_time": _weighted(SCORES_ON_TIME),
            "late": _weighted(SCORES_LATE),
            "undelivered": _weighted(SCORES_UNDELIVERED),
        }
        categories = [name for name, _ in CATEGORY_TRANSLATIONS]
        self.categories = _Weighted(categories, [POPULAR_CATEGORIES.get(name, 1.0) for name in categories])
        # Filled by run(): per seller and per product what later rows refer to.
        self.seller_ids: list[str] = []
        self.product_ids: list[str] = []
        self.product_sellers: list[int] = []
        self.product_prices: list[float] = []
        self.product_weights: list[int] = []
        self.persons: list[tuple[str, str, Place]] = []  # customer_unique_id, zip prefix, place

    def run(self, orders: int) -> None:
        for name, english in CATEGORY_TRANSLATIONS:
            self.out[TRANSLATION].row((name, english))
        self._sellers(max(3, round(orders * SELLERS_PER_ORDER)))
        self._products(max(10, round(orders * PRODUCTS_PER_ORDER)))
        popular_products = _zipf(len(self.product_ids), 0.6)
        for _ in range(orders):
            self._order(popular_products)

    def _id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def _zip_prefix(self, place: Place) -> str:
        zip_prefix = f"{self.rng.randint(place.zip_low, place.zip_high):05d}"
        if zip_prefix not in self.zips_located:
            self.zips_located.add(zip_prefix)
            for _ in range(self.rng.randint(1, 3)):
                self.out["geolocation"].row(
                    (
                        zip_prefix,
                        f"{place.latitude + self.rng.gauss(0, 0.03):.14f}",
                        f"{place.longitude + self.rng.gauss(0, 0.03):.14f}",
                        place.city,
                        place.state,
                    )
                )
        return zip_prefix

    def _sellers(self, count: int) -> None:
        for _ in range(count):
            seller_id = self._id()
            place = self.seller_places.draw(self.rng)
            self.out["sellers"].row((seller_id, self._zip_prefix(place), place.city, place.state))
            self.seller_ids.append(seller_id)

    def _products(self, count: int) -> None:
        rng = self.rng
        popular_sellers = _zipf(len(self.seller_ids), 0.7)
        for _ in range(count):
            product_id = self._id()
            weight = min(40_425, max(50, int(rng.lognormvariate(6.7, 1.1))))
            if rng.random() < UNCATEGORISED_PRODUCT_SHARE:
                # As on Olist: a product without a category has no name or description length either.
                category = name_length = description_length = photos = ""
            else:
                category = self.categories.draw(rng)
                name_length = str(int(rng.triangular(10, 76, 56)))
                description_length = str(min(3_992, max(4, int(rng.lognormvariate(6.4, 0.7)))))
                photos = str(self.photos.draw(rng))
            self.out["products"].row(
                (
                    product_id,
                    category,
                    name_length,
                    description_length,
                    photos,
                    str(weight),
                    str(int(rng.triangular(16, 105, 25))),
                    str(int(rng.triangular(2, 105, 12))),
                    str(int(rng.triangular(6, 118, 18))),
                )
            )
            self.product_ids.append(product_id)
            self.product_sellers.append(popular_sellers.draw(rng))
            # Shop prices: 59.90, 199.00, 24.99...
            self.product_prices.append(max(0.85, round(rng.lognormvariate(4.3, 0.9)) - rng.choice((0.1, 0.01, 0.0))))
            self.product_weights.append(weight)

    def _customer(self, customer_id: str) -> None:
        rng = self.rng
        if self.persons and rng.random() < REPEAT_CUSTOMER_SHARE:
            unique_id, zip_prefix, place = self.persons[rng.randrange(len(self.persons))]
        else:
            place = self.customer_places.draw(rng)
            unique_id, zip_prefix = self._id(), self._zip_prefix(place)
            self.persons.append((unique_id, zip_prefix, place))
        self.out["customers"].row((customer_id, unique_id, zip_prefix, place.city, place.state))

    def _order(self, popular_products: _Weighted[int]) -> None:
        rng = self.rng
        order_id, customer_id = self._id(), self._id()
        self._customer(customer_id)
        # sqrt makes purchases grow over time, as Olist's did.
        purchased = _FIRST_PURCHASE + int((_LAST_PURCHASE - _FIRST_PURCHASE) * sqrt(rng.random()))
        status = self.statuses.draw(rng)
        approved = carrier = delivered = None
        if status != "created" and (status != "canceled" or rng.random() < 0.85):
            approved = purchased + 60 + min(5 * _DAY, int(rng.expovariate(1 / 36_000)))
        ships = status in ("delivered", "shipped") or (status == "canceled" and rng.random() < 0.1)
        if approved is not None and ships:
            carrier = approved + int(rng.uniform(0.3, 6) * _DAY)
        estimated = purchased - purchased % _DAY + rng.randint(12, 40) * _DAY
        late = False
        if status == "delivered" and carrier is not None:
            late = rng.random() < LATE_DELIVERY_SHARE
            if late:
                delivered = estimated + int(rng.uniform(0.3, 20) * _DAY)
            else:
                delivered = carrier + int(rng.uniform(0.5 * _DAY, max(0.6 * _DAY, estimated - carrier - 3_600)))
        self.out["orders"].row(
            (
                order_id,
                customer_id,
                status,
                _timestamp(purchased),
                _timestamp(approved),
                _timestamp(carrier),
                _timestamp(delivered),
                _timestamp(estimated),
            )
        )
        total = self._items(order_id, status, approved or purchased, popular_products)
        self._payments(order_id, total)
        if rng.random() >= NO_REVIEW_SHARE:
            outcome = "undelivered" if delivered is None else ("late" if late else "on_time")
            self._review(order_id, outcome, delivered if delivered is not None else estimated)

    def _items(self, order_id: str, status: str, approved: int, popular_products: _Weighted[int]) -> float:
        rng = self.rng
        if status == "unavailable" or (status == "canceled" and rng.random() < 0.3):
            return round(rng.lognormvariate(4.7, 0.8), 2)  # paid for, but nothing could be sent
        total = 0.0
        product = popular_products.draw(rng)
        shipping_limit = approved + 6 * _DAY + rng.randint(0, _DAY)
        for item_number in range(1, self.items_per_order.draw(rng) + 1):
            if item_number > 1 and rng.random() < 0.4:  # otherwise: the same product again, a second unit
                product = popular_products.draw(rng)
            price = self.product_prices[product]
            freight = round(7.5 + self.product_weights[product] / 1000 * 2.2 * rng.uniform(0.6, 1.6), 2)
            total += price + freight
            self.out["order_items"].row(
                (
                    order_id,
                    str(item_number),
                    self.product_ids[product],
                    self.seller_ids[self.product_sellers[product]],
                    _timestamp(shipping_limit),
                    f"{price:.2f}",
                    f"{freight:.2f}",
                )
            )
        return round(total, 2)

    def _payments(self, order_id: str, total: float) -> None:
        rng = self.rng
        parts = rng.randint(2, 4) if rng.random() < SPLIT_PAYMENT_SHARE else 1
        remaining = total
        for sequential in range(1, parts + 1):
            if sequential < parts:
                kind, value = "voucher", round(min(remaining * 0.6, total * rng.uniform(0.05, 0.3)), 2)
            else:
                kind, value = self.payment_types.draw(rng), round(remaining, 2)
            remaining -= value
            installments = self.installments.draw(rng) if kind == "credit_card" else 1
            self.out["order_payments"].row((order_id, str(sequential), kind, str(installments), f"{value:.2f}"))

    def _review(self, order_id: str, outcome: str, reference_time: int) -> None:
        rng = self.rng
        score = self.scores[outcome].draw(rng)
        mood = "happy" if score >= 4 else ("neutral" if score == 3 else "unhappy")
        title = rng.choice(REVIEW_TITLES[mood]) if rng.random() < TITLE_SHARE else ""
        message = ""
        if rng.random() < MESSAGE_SHARE:
            message = rng.choice(REVIEW_MESSAGES[mood])
            if rng.random() < MULTILINE_SHARE:
                message += "\r\n" + rng.choice(REVIEW_MESSAGES[mood])
        created = reference_time - reference_time % _DAY + _DAY
        answered = created + int(rng.expovariate(1 / (2 * _DAY))) + rng.randint(3_600, _DAY)
        self.out["order_reviews"].row(
            (self._id(), order_id, str(score), title, message, _timestamp(created), _timestamp(answered))
        )


def _timestamp(seconds: int | None) -> str:
    """``YYYY-MM-DD HH:MM:SS`` as Olist writes it; empty for a step that did not happen."""
    return "" if seconds is None else str(_EPOCH + timedelta(seconds=seconds))

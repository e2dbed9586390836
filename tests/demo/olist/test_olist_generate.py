"""The Olist generator: real headers and habits, keys that resolve, Olist's distributions, same seed same bytes."""

from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from tests.sources.files.lakehouse import olist_samples

from civiclake.demo.olist import FILE_NAMES, HEADERS, generate_olist
from civiclake.demo.olist.reference import CATEGORY_TRANSLATIONS
from civiclake.errors import ConfigurationError

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
TIMESTAMP_COLUMNS = {
    "orders": (
        "order_purchase_timestamp",
        "order_approved_at",
        "order_delivered_carrier_date",
        "order_delivered_customer_date",
        "order_estimated_delivery_date",
    ),
    "order_items": ("shipping_limit_date",),
    "order_reviews": ("review_creation_date", "review_answer_timestamp"),
}


def read_rows(directory: Path, entity: str) -> list[dict[str, str]]:
    with (directory / FILE_NAMES[entity]).open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream))


def header_of(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return next(csv.reader(stream))


def layout_of(path: Path) -> tuple[bool, bool, bool, bytes]:
    """BOM, CRLF line ends, a line break at the end, and the header's first bytes (its quoting)."""
    data = path.read_bytes()
    return (
        data.startswith(b"\xef\xbb\xbf"),
        b"\r\n" in data,
        data.endswith(b"\n"),
        data.removeprefix(b"\xef\xbb\xbf")[:1],
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("olist")
    generate_olist(directory, 5_000, seed=11)
    return directory


def test_headers_and_file_layout_are_the_real_ones(generated: Path) -> None:
    samples = olist_samples()
    assert sorted(path.name for path in generated.glob("*.csv")) == sorted(FILE_NAMES.values())
    for entity, name in FILE_NAMES.items():
        if entity == "geolocation":  # the one file the samples do not include
            assert header_of(generated / name) == list(HEADERS[entity])
            continue
        assert header_of(generated / name) == header_of(samples / name), name
        assert layout_of(generated / name) == layout_of(samples / name), name
    assert "product_name_lenght" in header_of(generated / FILE_NAMES["products"])


def test_values_are_written_as_olist_writes_them(generated: Path) -> None:
    for entity, columns in TIMESTAMP_COLUMNS.items():
        for row in read_rows(generated, entity):
            for column in columns:
                assert row[column] == "" or TIMESTAMP.match(row[column]), (entity, column, row[column])
    zips = [row["customer_zip_code_prefix"] for row in read_rows(generated, "customers")]
    assert all(re.fullmatch(r"\d{5}", value) for value in zips)
    assert any(value.startswith("0") for value in zips)  # São Paulo's prefixes
    raw_customers = (generated / FILE_NAMES["customers"]).read_text(encoding="utf-8")
    assert all(line.split(",")[2].startswith('"') for line in raw_customers.splitlines()[1:])  # zips always quoted
    raw_orders = (generated / FILE_NAMES["orders"]).read_text(encoding="utf-8").splitlines()[1:]
    quoted_ids = sum(line.startswith('"') for line in raw_orders) / len(raw_orders)
    assert 0.5 < quoted_ids < 0.75  # like the real file: some ids quoted, others not
    prices = [row["price"] for row in read_rows(generated, "order_items")]
    assert all(re.fullmatch(r"\d+\.\d{2}", price) for price in prices)
    messages = [row["review_comment_message"] for row in read_rows(generated, "order_reviews")]
    assert any("\r\n" in message for message in messages)  # multi-line comments, as customers type them


def test_every_foreign_key_resolves(generated: Path) -> None:
    orders = read_rows(generated, "orders")
    order_ids = {row["order_id"] for row in orders}
    customer_ids = {row["customer_id"] for row in read_rows(generated, "customers")}
    products = read_rows(generated, "products")
    product_ids = {row["product_id"] for row in products}
    seller_ids = {row["seller_id"] for row in read_rows(generated, "sellers")}
    categories = {row["product_category_name"] for row in read_rows(generated, "product_category_name_translation")}
    located = {row["geolocation_zip_code_prefix"] for row in read_rows(generated, "geolocation")}
    items = read_rows(generated, "order_items")

    assert len(order_ids) == len(orders) == 5_000
    assert {row["customer_id"] for row in orders} == customer_ids  # one customer row per order, as on Olist
    assert {row["order_id"] for row in items} <= order_ids
    assert {row["product_id"] for row in items} <= product_ids
    assert {row["seller_id"] for row in items} <= seller_ids
    assert {row["order_id"] for row in read_rows(generated, "order_payments")} == order_ids
    assert {row["order_id"] for row in read_rows(generated, "order_reviews")} <= order_ids
    assert {row["product_category_name"] for row in products} - {""} <= categories
    assert categories == {name for name, _ in CATEGORY_TRANSLATIONS}
    assert {row["customer_zip_code_prefix"] for row in read_rows(generated, "customers")} <= located
    assert {row["seller_zip_code_prefix"] for row in read_rows(generated, "sellers")} <= located
    keys = Counter((row["order_id"], row["order_item_id"]) for row in items)
    assert max(keys.values()) == 1
    assert len({row["review_id"] for row in read_rows(generated, "order_reviews")}) == len(
        read_rows(generated, "order_reviews")
    )


def test_distributions_look_like_olist(generated: Path) -> None:
    orders = read_rows(generated, "orders")
    statuses = Counter(row["order_status"] for row in orders)
    assert 0.95 < statuses["delivered"] / len(orders) < 0.99
    assert {"shipped", "canceled", "unavailable"} <= set(statuses)
    delivered = [row for row in orders if row["order_delivered_customer_date"]]
    late = sum(row["order_delivered_customer_date"] > row["order_estimated_delivery_date"] for row in delivered)
    assert 0.06 < late / len(delivered) < 0.10
    assert all(row["order_status"] == "delivered" for row in delivered)
    assert all(
        row["order_purchase_timestamp"] <= row["order_approved_at"] <= row["order_delivered_carrier_date"]
        for row in delivered
    )

    payments = read_rows(generated, "order_payments")
    kinds = Counter(row["payment_type"] for row in payments)
    assert 0.70 < kinds["credit_card"] / len(payments) < 0.78
    assert 0.16 < kinds["boleto"] / len(payments) < 0.22
    assert {"voucher", "debit_card"} <= set(kinds)
    installments = {int(row["payment_installments"]) for row in payments if row["payment_type"] == "credit_card"}
    assert {1, 2, 10} <= installments and max(installments) <= 12
    assert any(row["payment_sequential"] == "2" for row in payments)

    scores = Counter(row["review_score"] for row in read_rows(generated, "order_reviews"))
    assert scores.most_common(1)[0][0] == "5" and 0.08 < scores["1"] / sum(scores.values()) < 0.15

    items_per_order = Counter(Counter(row["order_id"] for row in read_rows(generated, "order_items")).values())
    assert 0.85 < items_per_order[1] / sum(items_per_order.values()) < 0.95 and max(items_per_order) >= 3

    customers = read_rows(generated, "customers")
    assert len({row["customer_unique_id"] for row in customers}) < len(customers)  # repeat customers
    states = Counter(row["customer_state"] for row in customers)
    assert states.most_common(1)[0][0] == "SP" and len(states) >= 20
    sellers = read_rows(generated, "sellers")
    assert Counter(row["seller_state"] for row in sellers)["SP"] / len(sellers) > 0.5


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    def digests(directory: Path) -> dict[str, str]:
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())}

    generate_olist(tmp_path / "a", 300, seed=5)
    generate_olist(tmp_path / "b", 300, seed=5)
    generate_olist(tmp_path / "c", 300, seed=6)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    different = digests(tmp_path / "c")
    assert all(
        different[name] != digest for name, digest in digests(tmp_path / "a").items() if "translation" not in name
    )


def test_no_orders_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--orders"):
        generate_olist(tmp_path, 0)


def test_a_hundred_thousand_orders_stream_without_being_held_in_memory(tmp_path: Path) -> None:
    # How long it takes is measured by `make bench` (benchmarks/olist_demo.py), not asserted here.
    # A process of its own, to measure its peak memory against the size of what it wrote.
    script = (
        "import sys; from pathlib import Path;"
        "from civiclake.demo.olist import generate_olist;"
        "generate_olist(Path(sys.argv[1]), 100_000, seed=3);"
        # VmHWM is this process's own peak; ru_maxrss would carry over the forking parent's.
        "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True, timeout=120
    )
    peak_bytes = int(result.stdout.strip()) * 1024
    written = sum(path.stat().st_size for path in tmp_path.iterdir())
    assert written > 60_000_000
    # Holding the rows would take several times what they weigh as text; streaming stays under it.
    assert peak_bytes < written * 1.2, f"peak {peak_bytes / 1e6:.0f} MB for {written / 1e6:.0f} MB written"

"""``civiclake sync --source files`` on a local landing folder: real samples, reruns, re-drops, bad files."""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from civiclake.cli.main import cli
from tests.sources.files.lakehouse import FilesLakehouse, count_records

ORDERS_HEADER = (
    b"order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,"
    b"order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date\n"
)


def orders_file(*order_ids: str, extra: str = "") -> bytes:
    rows = [
        f"{order_id},c{order_id},delivered,2018-01-0{index} 10:00:00,,,,2018-02-01 00:00:00"
        for index, order_id in enumerate(order_ids, 1)
    ]
    header = ORDERS_HEADER.rstrip(b"\n") + (f",{extra}\n".encode() if extra else b"\n")
    suffix = ",x" if extra else ""
    return header + "".join(row + suffix + "\n" for row in rows).encode()


def test_the_real_samples_load_as_they_are(lakehouse: FilesLakehouse, samples: Path) -> None:
    for path in samples.glob("*.csv"):
        lakehouse.drop_file(path)

    report = lakehouse.sync()

    assert report.exit_code == 0, [outcome.error for outcome in report.failed]
    rows = {outcome.resource_id: outcome.rows for outcome in report.outcomes}
    # One row per record: a review comment over several lines is one row.
    assert rows == {path.name: count_records(path) for path in samples.glob("*.csv")}
    assert rows["olist_order_reviews_dataset.csv"] == 6123  # 6480 lines
    assert lakehouse.table_names() == {
        f"bronze.files__olist__{entity}"
        for entity in (
            "customers",
            "order_items",
            "order_payments",
            "order_reviews",
            "orders",
            "products",
            "sellers",
            "product_category_name_translation",
        )
    }
    customers = lakehouse.table("customers")
    assert customers.schema.field("customer_zip_code_prefix").type == "string"
    assert "09790" in customers.column("customer_zip_code_prefix").to_pylist()
    sellers = lakehouse.table("sellers").column("seller_zip_code_prefix").to_pylist()
    with (samples / "olist_sellers_dataset.csv").open(encoding="utf-8", newline="") as stream:
        assert sorted(sellers) == sorted(row["seller_zip_code_prefix"] for row in csv.DictReader(stream))
    products = lakehouse.table("products")
    assert {"product_name_lenght", "product_description_lenght"} <= set(products.column_names)
    translation = lakehouse.table("product_category_name_translation")
    assert translation.column_names[:2] == ["product_category_name", "product_category_name_english"]  # no BOM
    messages = lakehouse.table("order_reviews").column("review_comment_message").to_pylist()
    assert "A compra foi realizada facilmente.\r\nA entrega foi efetuada muito antes do prazo dado." in "\n".join(
        message for message in messages if message
    )
    orders = lakehouse.table("orders")
    assert orders.schema.field("order_purchase_timestamp").type == "timestamp[us]"
    assert set(orders.column("_source").to_pylist()) == {"files"}
    assert set(orders.column("_resource_id").to_pylist()) == {"olist_orders_dataset.csv"}


def test_a_second_sync_copies_nothing_and_adds_no_row(lakehouse: FilesLakehouse) -> None:
    lakehouse.drop("batch=0001/olist_orders_dataset.csv", orders_file("a", "b"))
    lakehouse.drop("batch=0002/olist_orders_dataset.csv", orders_file("c"))
    assert lakehouse.sync().exit_code == 0
    raw_before = lakehouse.raw_files()

    again = lakehouse.sync()

    assert [(outcome.status, outcome.bytes) for outcome in again.outcomes] == [("unchanged", 0)] * 2
    assert lakehouse.raw_files() == raw_before
    assert lakehouse.table("orders").num_rows == 3


def test_the_same_bytes_under_a_new_date_are_copied_but_not_loaded_again(lakehouse: FilesLakehouse) -> None:
    path = lakehouse.drop("olist_orders_dataset.csv", orders_file("a", "b"))
    lakehouse.sync()
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # dropped again, same content

    report = lakehouse.sync()

    (outcome,) = report.outcomes
    assert outcome.status == "unchanged" and outcome.bytes == path.stat().st_size  # copied to compare, not loaded
    assert lakehouse.table("orders").num_rows == 2
    assert lakehouse.sync().outcomes[0].bytes == 0  # and the new date is remembered


def test_a_file_dropped_again_with_new_content_is_loaded_again(lakehouse: FilesLakehouse) -> None:
    path = lakehouse.drop("olist_orders_dataset.csv", orders_file("a", "b"))
    lakehouse.sync()
    path.write_bytes(orders_file("a", "b", "c"))

    (outcome,) = lakehouse.sync().outcomes

    assert outcome.status == "loaded" and outcome.rows == 3
    orders = lakehouse.table("orders")
    assert orders.num_rows == 5  # bronze is append-only: both versions are kept, told apart by _raw_sha256
    assert len(set(orders.column("_raw_sha256").to_pylist())) == 2


def test_a_malformed_csv_fails_named_and_kept_while_the_others_load(lakehouse: FilesLakehouse) -> None:
    bad = b"seller_id,seller_zip_code_prefix,seller_city,seller_state\ns1,01001,sao paulo,SP\ns2,01002\n"
    lakehouse.drop("batch=0001/olist_orders_dataset.csv", orders_file("a"))
    lakehouse.drop("batch=0001/olist_sellers_dataset.csv", bad)
    lakehouse.drop("batch=0002/olist_orders_dataset.csv", orders_file("b"))

    report = lakehouse.sync()

    assert report.exit_code == 1
    failed = report.outcomes[1]
    assert failed.resource_id == "batch=0001/olist_sellers_dataset.csv" and failed.status == "failed"
    assert failed.error is not None
    assert "olist/batch=0001/olist_sellers_dataset.csv" in failed.error and "has 2 fields, header has 4" in failed.error
    assert [outcome.status for outcome in report.outcomes] == ["loaded", "failed", "loaded"]
    kept = [path for path in lakehouse.raw_files() if hashlib.sha256(bad).hexdigest()[:12] in path.name]
    assert len(kept) == 1 and kept[0].read_bytes() == bad
    assert "bronze.files__olist__sellers" not in lakehouse.table_names()  # no partial commit
    ingestions = [row for row in lakehouse.meta("ingestions").to_pylist() if row["status"] == "failed"]
    assert [row["resource_id"] for row in ingestions] == ["batch=0001/olist_sellers_dataset.csv"]

    rerun = lakehouse.sync()  # the failure is retried; what loaded stays loaded once
    assert [outcome.status for outcome in rerun.outcomes] == ["unchanged", "failed", "unchanged"]
    assert lakehouse.table("orders").num_rows == 2


def test_a_cp1252_file_is_decoded(lakehouse: FilesLakehouse) -> None:
    text = "seller_id,seller_zip_code_prefix,seller_city,seller_state\ns1,01001,São Paulo – Sé,SP\ns2,09790,Paraná,PR\n"  # noqa: RUF001
    lakehouse.drop("olist_sellers_dataset.csv", text.encode("cp1252"))

    report = lakehouse.sync()

    assert report.exit_code == 0
    sellers = lakehouse.table("sellers")
    assert sellers.column("seller_city").to_pylist() == ["São Paulo – Sé", "Paraná"]  # noqa: RUF001
    assert sellers.column("seller_zip_code_prefix").to_pylist() == ["01001", "09790"]
    (ingestion,) = lakehouse.meta("ingestions").to_pylist()
    assert ingestion["encoding"] == "cp1252"


def test_an_extra_column_in_a_later_batch_is_added_to_the_table(lakehouse: FilesLakehouse) -> None:
    lakehouse.drop("batch=0001/olist_orders_dataset.csv", orders_file("a", "b"))
    lakehouse.sync()
    lakehouse.drop("batch=0002/olist_orders_dataset.csv", orders_file("c", extra="order_channel"))

    report = lakehouse.sync()

    assert [outcome.status for outcome in report.outcomes] == ["unchanged", "loaded"]
    orders = lakehouse.table("orders").sort_by("order_id")
    assert "order_channel" in orders.column_names
    assert orders.column("order_channel").to_pylist() == [None, None, "x"]
    (change,) = lakehouse.meta("schema_changes").to_pylist()
    assert change["column_name"] == "order_channel" and change["change"] == "added"


def test_files_matching_no_pattern_are_recorded_as_skipped(lakehouse: FilesLakehouse) -> None:
    lakehouse.drop("olist_orders_dataset.csv", orders_file("a"))
    lakehouse.drop("notes/README.md", b"# not data")

    report = lakehouse.sync()

    assert report.exit_code == 0 and len(report.outcomes) == 1
    assert lakehouse.last_connector is not None
    assert [skipped.resource_id for skipped in lakehouse.last_connector.skipped] == ["notes/README.md"]
    datasets = {row["dataset_id"]: row for row in lakehouse.meta("datasets").to_pylist()}
    assert datasets["unmatched"]["resources_skipped"] == 1 and datasets["olist"]["resources_selected"] == 1


def test_the_command_line_syncs_the_landing_zone(lakehouse: FilesLakehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    lakehouse.drop("olist_orders_dataset.csv", orders_file("a", "b"))
    lakehouse.drop("olist_sellers_dataset.csv", b"seller_id,seller_state\ns1\n")
    monkeypatch.setenv("CIVICLAKE_HOME", str(lakehouse.settings.home))
    monkeypatch.setenv("CIVICLAKE__FILES__LANDING", str(lakehouse.landing))

    result = CliRunner().invoke(cli, ["sync", "--source", "files"], obj={})

    assert result.exit_code == 1, result.output  # one file failed, the other loaded
    assert "olist_orders_dataset.csv" in result.output and "loaded" in result.output
    assert "olist/olist_sellers_dataset.csv" in result.output and "has 1 fields, header has 2" in result.output
    assert pc.sum(pc.equal(lakehouse.table("orders").column("order_status"), "delivered")).as_py() == 2


def test_links_resolving_outside_the_landing_zone_are_refused_by_name_while_the_others_load(
    lakehouse: FilesLakehouse, tmp_path: Path
) -> None:
    lakehouse.drop("batch=0001/olist_orders_dataset.csv", orders_file("a"))
    (lakehouse.landing / "batch=0001" / "olist_customers_dataset.csv").symlink_to("/etc/passwd")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "olist_sellers_dataset.csv").write_bytes(b"seller_id,seller_city\ns1,secret city\n")
    (lakehouse.landing / "batch=0002").symlink_to(elsewhere, target_is_directory=True)
    # A link that stays inside the landing zone is an ordinary file.
    lakehouse.drop(".store/orders-b.csv", orders_file("b"))
    (lakehouse.landing / "batch=0003").mkdir()
    (lakehouse.landing / "batch=0003" / "olist_orders_dataset.csv").symlink_to("../.store/orders-b.csv")

    report = lakehouse.sync()

    assert report.exit_code == 1
    outcomes = {outcome.resource_id: outcome for outcome in report.outcomes}
    assert outcomes["batch=0001/olist_orders_dataset.csv"].status == "loaded"
    assert outcomes["batch=0003/olist_orders_dataset.csv"].status == "loaded"
    for name, target in [
        ("batch=0001/olist_customers_dataset.csv", "/etc/passwd"),
        ("batch=0002/olist_sellers_dataset.csv", str(elsewhere.resolve() / "olist_sellers_dataset.csv")),
    ]:
        refused = outcomes[name]
        assert refused.status == "failed" and refused.error is not None
        assert name in refused.error and target in refused.error and "outside the landing zone" in refused.error
    assert lakehouse.table_names() == {"bronze.files__olist__orders"}
    assert sorted(pc.unique(lakehouse.table("orders").column("order_id")).to_pylist()) == ["a", "b"]
    copied = b"".join(path.read_bytes() for path in lakehouse.raw_files())
    assert b"root:" not in copied and b"secret city" not in copied
    failed = [row["resource_id"] for row in lakehouse.meta("ingestions").to_pylist() if row["status"] == "failed"]
    assert sorted(failed) == ["batch=0001/olist_customers_dataset.csv", "batch=0002/olist_sellers_dataset.csv"]

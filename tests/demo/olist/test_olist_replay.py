"""The Olist replay: time-ordered batches, records kept byte for byte, late older states and duplicates, seeded."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.sources.files.lakehouse import count_records, olist_samples

from civiclake.cli.main import cli
from civiclake.demo.olist import ENTITY_KEYS, EVENT_TIME_COLUMNS, FILE_NAMES, generate_olist, replay_olist
from civiclake.demo.olist.csvio import RawCsvReader, RawRecord
from civiclake.errors import ConfigurationError, FormatError

Row = dict[str, str]


def batch_rows(landing: Path, entity: str) -> list[tuple[int, Row]]:
    """(1-based batch, row) for every row of ``entity`` in the replayed batches, in batch order."""
    rows = []
    for folder in sorted(landing.glob("batch=*")):
        path = folder / FILE_NAMES[entity]
        if path.exists():
            with path.open(encoding="utf-8-sig", newline="") as stream:
                rows += [(int(folder.name.split("=")[1]), row) for row in csv.DictReader(stream)]
    return rows


def raw_records(path: Path) -> list[RawRecord]:
    with RawCsvReader(path) as reader:
        return list(reader)


def source_rows(directory: Path, entity: str) -> list[Row]:
    with (directory / FILE_NAMES[entity]).open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream))


def key_of(entity: str, row: Row) -> tuple[str, ...]:
    return tuple(row[column] for column in ENTITY_KEYS[entity])


def event_time(entity: str, row: Row) -> str:
    return max((row[column] for column in EVENT_TIME_COLUMNS.get(entity, ()) if row[column]), default="")


def deduplicate(entity: str, rows: list[tuple[int, Row]]) -> dict[tuple[str, ...], Row]:
    """The documented rule: per key, the greatest event time wins, then the latest batch."""
    kept: dict[tuple[str, ...], tuple[tuple[str, int], Row]] = {}
    for batch, row in rows:
        key, rank = key_of(entity, row), (event_time(entity, row), batch)
        if key not in kept or rank >= kept[key][0]:
            kept[key] = (rank, row)
    return {key: row for key, (_, row) in kept.items()}


def first_batches(entity: str, rows: list[tuple[int, Row]], columns: tuple[str, ...]) -> dict[tuple[str, ...], int]:
    first: dict[tuple[str, ...], int] = {}
    for batch, row in rows:
        first.setdefault(tuple(row[column] for column in columns), batch)
    return first


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("olist")
    generate_olist(directory, 2_000, seed=21)
    return directory


@pytest.fixture(scope="module")
def replayed(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("landing")
    replay_olist(generated, landing, 5, seed=4)
    return landing


def test_the_real_samples_replay_byte_for_byte(tmp_path: Path) -> None:
    samples = olist_samples()
    report = replay_olist(samples, tmp_path, 4, seed=1)

    assert sorted(path.name for path in tmp_path.iterdir()) == [f"batch=000{n}" for n in range(1, 5)]
    for path in sorted(samples.glob("*.csv")):
        entity = next(entity for entity, name in FILE_NAMES.items() if name == path.name)
        source = path.read_bytes()
        with RawCsvReader(path) as reader:
            source_records = {record.raw for record in reader}
            header = reader.header_raw
        outputs = sorted(tmp_path.glob(f"batch=*/{path.name}"))
        assert [count_records(output) for output in outputs] == [rows for rows in report.rows[entity] if rows]
        assert count_records(path) == report.originals[entity]
        assert sum(report.rows[entity]) == report.originals[entity] + report.late[entity] + report.duplicates[entity]
        for output in outputs:
            data = output.read_bytes()
            # Same BOM, header bytes, line ends and (missing) final line break as the input.
            assert data.startswith(source[: source.index(header) + len(header)])
            assert (b"\r\n" in data) == (b"\r\n" in source) and data.endswith(b"\n") == source.endswith(b"\n")
            with RawCsvReader(output) as reader:
                copied = [record.raw for record in reader]
            if entity != "orders":  # every record is a copy of an input record, quoting and all
                assert set(copied) <= source_records
    # Older states aside, every order record is an input record too.
    orders_out = [record for out in tmp_path.glob("batch=*/olist_orders_dataset.csv") for record in raw_records(out)]
    order_records = {record.raw for record in raw_records(samples / FILE_NAMES["orders"])}
    changed = [record for record in orders_out if record.raw not in order_records]
    assert len(changed) == report.older_states > 0
    assert {record.values[2] for record in changed} <= {"shipped", "invoiced", "created"}

    # Multi-line review comments came through whole.
    reviews = batch_rows(tmp_path, "order_reviews")
    assert sum("\r\n" in row["review_comment_message"] for _, row in reviews) >= 237


def test_orders_are_in_time_order_and_their_records_travel_with_them(generated: Path, replayed: Path) -> None:
    orders = batch_rows(replayed, "orders")
    order_batch = first_batches("orders", orders, ("order_id",))
    purchases: dict[int, list[str]] = {}
    for batch, row in orders:
        if order_batch[(row["order_id"],)] == batch:
            purchases.setdefault(batch, []).append(row["order_purchase_timestamp"])
    assert sorted(purchases) == [1, 2, 3, 4, 5]
    for batch in range(1, 5):
        assert max(purchases[batch]) <= min(purchases[batch + 1])
    assert all(380 <= len(set(purchases[batch])) <= 420 for batch in purchases)  # ~400 orders a batch

    for entity in ("order_items", "order_payments", "order_reviews"):
        first = first_batches(entity, batch_rows(replayed, entity), ("order_id",))
        assert all(batch == order_batch[order] for order, batch in first.items()), entity
    customer_batch = {
        (row["customer_id"],): order_batch[(row["order_id"],)] for _, row in orders if row["order_status"]
    }
    assert first_batches("customers", batch_rows(replayed, "customers"), ("customer_id",)) == customer_batch
    for entity in ("products", "sellers", "geolocation", "product_category_name_translation"):
        rows = batch_rows(replayed, entity)
        assert len({tuple(row.values()) for batch, row in rows if batch == 1}) == len(source_rows(generated, entity))


def test_the_dedup_rule_recovers_exactly_the_source_rows(generated: Path, replayed: Path) -> None:
    for entity in ENTITY_KEYS:
        expected = {key_of(entity, row): row for row in source_rows(generated, entity)}
        assert deduplicate(entity, batch_rows(replayed, entity)) == expected, entity


def test_late_orders_are_older_states_that_land_after_the_newer_one(replayed: Path) -> None:
    newest: dict[str, tuple[int, Row]] = {}
    stale = []
    for batch, row in batch_rows(replayed, "orders"):
        if row["order_id"] not in newest:
            newest[row["order_id"]] = (batch, row)
        elif row != newest[row["order_id"]][1]:
            stale.append((batch, row))
    assert 70 < len(stale) < 130  # ~5% of 2,000
    for batch, row in stale:
        first_batch, current = newest[row["order_id"]]
        assert batch > first_batch
        assert event_time("orders", row) < event_time("orders", current)
        assert row["order_status"] in {"shipped", "invoiced", "created"}
        if current["order_status"] == "delivered":
            assert row["order_status"] == "shipped" and row["order_delivered_customer_date"] == ""
            assert row["order_delivered_carrier_date"] == current["order_delivered_carrier_date"]


def test_late_and_duplicate_shares_are_those_asked_for(generated: Path, tmp_path: Path) -> None:
    report = replay_olist(generated, tmp_path, 5, seed=9, late=0.05, duplicates=0.02)
    originals = sum(report.originals.values())
    assert originals == sum(count_records(path) for path in generated.glob("*.csv"))
    assert 0.04 < sum(report.late.values()) / originals < 0.06
    assert 0.015 < sum(report.duplicates.values()) / originals < 0.025
    written = {
        entity: sum(count_records(path) for path in tmp_path.glob(f"batch=*/{name}"))
        for entity, name in FILE_NAMES.items()
    }
    assert written == {entity: sum(rows) for entity, rows in report.rows.items()}
    # Exact duplicates are visible in the files: rows seen twice with every value equal.
    repeated = sum(
        count - 1
        for entity in FILE_NAMES
        for count in Counter(tuple(row.values()) for _, row in batch_rows(tmp_path, entity)).values()
    )
    assert repeated >= sum(report.duplicates.values())

    none = replay_olist(generated, tmp_path / "exact", 5, seed=9, late=0, duplicates=0)
    assert sum(none.late.values()) == sum(none.duplicates.values()) == 0
    assert sum(sum(rows) for rows in none.rows.values()) == originals


def test_one_batch_has_no_late_record(generated: Path, tmp_path: Path) -> None:
    report = replay_olist(generated, tmp_path, 1, seed=2)
    assert sum(report.late.values()) == 0 and sum(report.duplicates.values()) > 0
    assert [path.name for path in tmp_path.iterdir()] == ["batch=0001"]


def test_the_same_seed_gives_the_same_bytes(generated: Path, tmp_path: Path) -> None:
    replay_olist(generated, tmp_path / "a", 3, seed=8)
    replay_olist(generated, tmp_path / "b", 3, seed=8)
    replay_olist(generated, tmp_path / "c", 3, seed=9)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert digests(tmp_path / "a") != digests(tmp_path / "c")


def test_bad_usage_is_refused_before_anything_is_written(generated: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--batches"):
        replay_olist(generated, tmp_path, 0)
    with pytest.raises(ConfigurationError, match="--late"):
        replay_olist(generated, tmp_path, 2, late=0.9)
    with pytest.raises(ConfigurationError, match=r"olist_orders_dataset\.csv"):
        replay_olist(tmp_path, tmp_path / "landing", 2)


def digests(landing: Path) -> dict[str, str]:
    return {
        str(path.relative_to(landing)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(landing.rglob("*.csv"))
    }


def test_a_second_replay_into_the_same_landing_adds_the_next_batches(generated: Path, tmp_path: Path) -> None:
    first = replay_olist(generated, tmp_path / "landing", 2, seed=1)
    before = digests(tmp_path / "landing")
    second = replay_olist(generated, tmp_path / "landing", 3, seed=2)

    assert sorted(path.name for path in (tmp_path / "landing").iterdir()) == [f"batch=000{n}" for n in range(1, 6)]
    assert (first.first_batch, second.first_batch) == (1, 3)
    after = digests(tmp_path / "landing")
    assert {name: digest for name, digest in after.items() if name in before} == before  # earlier batches untouched
    assert second.originals == first.originals  # the whole source again, spread over batches 3 to 5
    assert all(len(per_batch) == 3 for per_batch in second.rows.values())


def test_a_malformed_source_file_leaves_no_batch_behind(generated: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for path in generated.glob("*.csv"):
        (source / path.name).write_bytes(path.read_bytes())
    items = source / FILE_NAMES["order_items"]
    items.write_bytes(items.read_bytes() + b"\nabc,1")  # a record with 2 values for 7 columns

    with pytest.raises(FormatError, match=r"olist_order_items_dataset.csv: record \d+ has 2 values"):
        replay_olist(source, tmp_path / "landing", 3)
    assert list((tmp_path / "landing").iterdir()) == []  # neither batches nor the staging folder


def test_the_commands_generate_and_replay(tmp_path: Path) -> None:
    runner = CliRunner()
    generated = runner.invoke(cli, ["generate", "olist", "--orders", "50", "--to", str(tmp_path / "g")], obj={})
    assert generated.exit_code == 0, generated.output
    assert "50  orders" in generated.output and len(list((tmp_path / "g").glob("*.csv"))) == 9

    arguments = ["replay", "olist", "--from", str(tmp_path / "g"), "--to", str(tmp_path / "l"), "--batches", "2"]
    replayed = runner.invoke(cli, arguments, obj={})
    assert replayed.exit_code == 0, replayed.output
    assert "orders" in replayed.output and "2 batches in" in replayed.output
    assert sorted(path.name for path in (tmp_path / "l").iterdir()) == ["batch=0001", "batch=0002"]

    again = runner.invoke(cli, arguments, obj={})
    assert again.exit_code == 0 and "(batch=0003 to batch=0004)" in again.output
    usage = runner.invoke(cli, [*arguments[:-1], "0"], obj={})
    assert usage.exit_code == 2
    orders = tmp_path / "g" / FILE_NAMES["orders"]
    orders.write_bytes(orders.read_bytes().splitlines()[0] + b'\n"unterminated,')
    broken = runner.invoke(cli, [*arguments[:-3], str(tmp_path / "l2"), "--batches", "2"], obj={})
    assert broken.exit_code == 1 and "ends inside a quoted value" in broken.output

"""Generate, replay, drop the batches one at a time and sync after each: bronze holds every row once."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from civiclake.demo.olist import FILE_NAMES, build_demo_landing, generate_olist, replay_olist
from tests.sources.files.lakehouse import FilesLakehouse, count_records


def test_batches_dropped_one_at_a_time_land_once_each(tmp_path: Path) -> None:
    generate_olist(tmp_path / "generated", 2_000, seed=31)
    replay_olist(tmp_path / "generated", tmp_path / "staging", 4, seed=5)
    lakehouse = FilesLakehouse.at(tmp_path)
    expected: Counter[str] = Counter()

    for number in range(1, 5):
        folder = f"batch={number:04d}"
        shutil.move(tmp_path / "staging" / folder, lakehouse.landing / folder)  # a whole folder appears at once
        dropped = sorted((lakehouse.landing / folder).glob("*.csv"))
        for path in dropped:
            expected[path.name] += count_records(path)

        report = lakehouse.sync()

        assert report.exit_code == 0, [outcome.error for outcome in report.failed]
        new = {
            outcome.resource_id: outcome.status for outcome in report.outcomes if outcome.resource_id.startswith(folder)
        }
        assert new == {f"{folder}/{path.name}": "loaded" for path in dropped}
        earlier = {outcome.status for outcome in report.outcomes if not outcome.resource_id.startswith(folder)}
        assert earlier <= {"unchanged"}
        for entity, name in FILE_NAMES.items():
            if expected[name]:
                assert lakehouse.table(entity).num_rows == expected[name], (number, entity)

    raw_before = lakehouse.raw_files()
    again = lakehouse.sync()
    assert {(outcome.status, outcome.bytes) for outcome in again.outcomes} == {("unchanged", 0)}
    assert lakehouse.raw_files() == raw_before
    orders = lakehouse.table("orders")
    assert orders.num_rows == expected[FILE_NAMES["orders"]]
    assert len(set(orders.column("order_id").to_pylist())) == 2_000
    assert orders.schema.field("order_delivered_customer_date").type == "timestamp[us]"  # never widened
    assert lakehouse.meta("ingestions").num_rows == len(raw_before)  # one record per file, none for reruns


def test_the_demo_landing_zone_is_built_offline_and_synced_once(tmp_path: Path) -> None:
    # How long it takes is measured by `make bench` (benchmarks/olist_demo.py), not asserted here.
    lakehouse = FilesLakehouse.at(tmp_path)
    report = build_demo_landing(lakehouse.landing)

    assert report is not None and report.batches == 3
    sync = lakehouse.sync()
    assert sync.exit_code == 0 and {outcome.status for outcome in sync.outcomes} == {"loaded"}
    assert lakehouse.table("orders").num_rows == sum(report.rows["orders"])

    assert build_demo_landing(lakehouse.landing) is None  # already there: nothing rewritten, nothing to sync
    assert {outcome.bytes for outcome in lakehouse.sync().outcomes} == {0}

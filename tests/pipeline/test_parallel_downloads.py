"""Downloads of several resources at once within one sync, against a mirror that answers with a delay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from civiclake.config import Settings, load_settings
from civiclake.demo.mirror.server import MirrorServer
from civiclake.demo.mirror.synthetic import synthetic_dataset
from civiclake.pipeline import SyncReport
from tests.pipeline.lakehouse import Lakehouse, fast_retries

pytestmark = pytest.mark.integration

SEED = 7
# Datasets 7, 42 and 77 of the synthetic catalogue each have one resource that fails: missing (404), an
# HTTP 500 every time, a broken file. The others load.
INDICES = [0, 1, 2, 3, 7, 42, 77]
DELAY = 0.15


@pytest.fixture
def slow_mirror() -> Iterator[MirrorServer]:
    with MirrorServer(delay=DELAY) as server:
        for index in INDICES:
            server.serve_synthetic(synthetic_dataset(SEED, index))
        yield server


def make_lakehouse(home: Path, mirror: MirrorServer, **http: float) -> Lakehouse:
    settings: Settings = fast_retries(load_settings(environ={"CIVICLAKE_HOME": str(home)}), mirror)
    return Lakehouse(settings.with_overrides(http={"max_requests_per_second_per_host": 0, **http}))


def dataset_ids() -> list[str]:
    return [str(synthetic_dataset(SEED, index).dataset["id"]) for index in INDICES]


def outcomes(report: SyncReport) -> list[tuple[str, str, int, tuple[str, ...], str | None]]:
    return [
        (outcome.resource_id, outcome.status, outcome.rows, tuple(sorted(outcome.tables)), outcome.error)
        for outcome in report.outcomes
    ]


def test_downloads_overlap_but_never_exceed_the_per_host_limit(slow_mirror: MirrorServer, tmp_path: Path) -> None:
    lakehouse = make_lakehouse(tmp_path / "home", slow_mirror, max_concurrent_downloads=8, max_connections_per_host=3)
    slow_mirror.reset_peak()

    report = lakehouse.sync(*dataset_ids())

    assert len(report.outcomes) == 3 * len(INDICES)
    assert 1 < slow_mirror.peak_in_flight <= 3


def test_one_download_at_a_time_when_the_host_allows_one_connection(slow_mirror: MirrorServer, tmp_path: Path) -> None:
    lakehouse = make_lakehouse(tmp_path / "home", slow_mirror, max_concurrent_downloads=8, max_connections_per_host=1)
    slow_mirror.reset_peak()

    lakehouse.sync(*dataset_ids())

    assert slow_mirror.peak_in_flight == 1


def test_the_rate_limit_spaces_the_requests_to_a_host(slow_mirror: MirrorServer, tmp_path: Path) -> None:
    rate = 20.0
    lakehouse = make_lakehouse(
        tmp_path / "home",
        slow_mirror,
        max_concurrent_downloads=6,
        max_connections_per_host=6,
        max_requests_per_second_per_host=rate,
    )
    before = len(slow_mirror.requests)

    lakehouse.sync(*dataset_ids())

    arrivals = sorted(record.received_at for record in slow_mirror.requests[before:])
    # Each request starts 1/rate after the one before it: n requests span at least (n - 1) / rate, less one
    # interval for a request that reached the server late while the next one did not.
    assert len(arrivals) > 20
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 2) / rate


def test_a_parallel_sync_records_what_a_sequential_sync_records(slow_mirror: MirrorServer, tmp_path: Path) -> None:
    sequential = make_lakehouse(tmp_path / "one", slow_mirror, max_concurrent_downloads=1)
    parallel = make_lakehouse(tmp_path / "many", slow_mirror, max_concurrent_downloads=6, max_connections_per_host=6)

    one, many = sequential.sync(*dataset_ids()), parallel.sync(*dataset_ids())

    assert outcomes(many) == outcomes(one)
    tables = sequential.table_names()
    assert parallel.table_names() == tables
    for name in tables:
        assert parallel.table(name).num_rows == sequential.table(name).num_rows, name


def test_a_failing_resource_does_not_stop_the_others_downloading_beside_it(
    slow_mirror: MirrorServer, tmp_path: Path
) -> None:
    lakehouse = make_lakehouse(tmp_path / "home", slow_mirror, max_concurrent_downloads=6, max_connections_per_host=6)

    report = lakehouse.sync(*dataset_ids())

    failed = {outcome.resource_id: outcome.error for outcome in report.failed}
    broken = {f"{synthetic_dataset(SEED, index).dataset['id']}-r3" for index in (7, 42, 77)}
    assert set(failed) == broken
    assert "HTTP 404" in failed[f"{synthetic_dataset(SEED, 7).dataset['id']}-r3"]  # type: ignore[operator]
    assert "HTTP 500" in failed[f"{synthetic_dataset(SEED, 42).dataset['id']}-r3"]  # type: ignore[operator]
    loaded = [outcome for outcome in report.outcomes if outcome.status == "loaded"]
    assert len(loaded) == 3 * len(INDICES) - 3
    assert all(outcome.rows > 0 for outcome in loaded)


def test_a_rerun_of_a_parallel_sync_downloads_and_adds_nothing(slow_mirror: MirrorServer, tmp_path: Path) -> None:
    lakehouse = make_lakehouse(tmp_path / "home", slow_mirror, max_concurrent_downloads=6, max_connections_per_host=6)
    lakehouse.sync(*dataset_ids())
    rows = {name: lakehouse.table(name).num_rows for name in lakehouse.table_names()}
    before = len(slow_mirror.requests)

    again = lakehouse.sync(*dataset_ids())

    statuses = {outcome.resource_id: outcome.status for outcome in again.outcomes}
    broken = {f"{synthetic_dataset(SEED, index).dataset['id']}-r3" for index in (7, 42, 77)}
    assert {status for rid, status in statuses.items() if rid not in broken} == {"unchanged"}
    downloads = [r.path for r in slow_mirror.requests[before:] if r.path.startswith("/resources/")]
    # Only the three resources that failed are tried again (the one answering 500 with its retries).
    assert {Path(path).name for path in downloads} == {f"{rid}.csv" for rid in broken}
    assert {name: lakehouse.table(name).num_rows for name in lakehouse.table_names()} == rows

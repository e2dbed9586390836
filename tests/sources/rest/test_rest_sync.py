"""The rest source against the real incidents service: first load, increments, and every fault it handles."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from civiclake.config import Settings
from civiclake.demo.incidents import DEMO_TOKEN, Fault, IncidentsServer
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.meta import MetaTables
from tests.sources.rest.helpers import (
    RESOURCE_ID,
    TABLE,
    bronze_rows,
    ingestions,
    only_outcome,
    saved_cursor,
    sync,
    with_endpoint,
)

pytestmark = pytest.mark.integration

TABLE_PATH = "/api/now/table/incident"


def versions(rows: list[dict]) -> set[tuple[str, str]]:
    return {(row["sys_id"], row["sys_updated_on"]) for row in rows}


def service_versions(api: IncidentsServer) -> set[tuple[str, str]]:
    return {(record["sys_id"], record["sys_updated_on"]) for record in api.store.records()}


def test_first_load_matches_the_service_and_a_rerun_without_change_loads_nothing(
    settings: Settings, api: IncidentsServer
) -> None:
    report = sync(settings)

    outcome = only_outcome(report)
    assert report.exit_code == 0, outcome.error
    assert (outcome.status, outcome.rows, outcome.tables) == ("loaded", api.total, [TABLE])
    rows = bronze_rows(settings)
    assert len(rows) == api.total == 300
    assert versions(rows) == service_versions(api)
    first = rows[0]
    assert first["_source"] == "rest" and first["_dataset_id"] == "incidents" and first["_resource_id"] == RESOURCE_ID
    # Values stay the strings the API gives; steps that have not happened are null.
    by_id = {row["sys_id"]: row for row in rows}
    for record in api.store.records():
        assert {name: by_id[record["sys_id"]][name] for name in record} == record
    # 300 records at 50 a page: 6 pages and the empty one that ends the run.
    pages = [r for r in api.requests if r.path == TABLE_PATH]
    assert len(pages) == 7 and all(r.status == 200 for r in pages)
    cursor = json.loads(saved_cursor(settings) or "{}")
    assert cursor["value"] == max(record["sys_updated_on"] for record in api.store.records())

    api.requests.clear()
    again = only_outcome(sync(settings))
    assert (again.status, again.rows) == ("unchanged", 0)
    assert len(bronze_rows(settings)) == 300
    # The boundary second's records (already held, so skipped), then the empty page that ends the run.
    assert len([r for r in api.requests if r.path == TABLE_PATH]) == 2
    assert json.loads(saved_cursor(settings) or "{}") == cursor
    assert [row["status"] for row in ingestions(settings)] == ["loaded", "unchanged"]


def test_after_the_clock_moves_only_the_changed_incidents_are_loaded(settings: Settings, api: IncidentsServer) -> None:
    first_batch = sync(settings).batch_id
    before = service_versions(api)
    moved = api.advance(48)
    assert moved.opened and moved.updated  # the day opened and progressed incidents

    outcome = only_outcome(sync(settings))

    assert outcome.status == "loaded" and outcome.rows == len(moved.changed)
    rows = bronze_rows(settings)
    assert versions(rows) == before | service_versions(api)
    newest = {row["sys_id"] for row in rows if row["_batch_id"] != first_batch}
    assert newest == moved.changed
    assert only_outcome(sync(settings)).rows == 0


def test_a_mass_update_larger_than_a_page_in_one_second(settings: Settings, api: IncidentsServer) -> None:
    settings = with_endpoint(settings, page_size=5)
    sync(settings)
    touched = api.touch(12)  # 12 records share one sys_updated_on: the boundary spans three pages

    report = sync(settings)
    assert only_outcome(report).rows == 12
    assert {row["sys_id"] for row in bronze_rows(settings) if row["_batch_id"] == report.batch_id} == set(touched)
    assert only_outcome(sync(settings)).status == "unchanged"

    # A change inside the boundary second (a field added, sys_updated_on untouched) is still picked up.
    api.store.add_field("u_business_service", lambda record: "Email")
    outcome = only_outcome(sync(settings))
    assert outcome.rows == 12
    rows = bronze_rows(settings)
    assert {row["sys_id"] for row in rows if row["u_business_service"] == "Email"} == set(touched)
    assert len(rows) == 300 + 12 + 12


def test_records_updated_while_paging_are_neither_skipped_nor_lost(settings: Settings, api: IncidentsServer) -> None:
    settings = with_endpoint(settings, page_size=20)
    earliest = [r["sys_id"] for r in sorted(api.store.records(), key=lambda r: (r["sys_updated_on"], r["sys_id"]))]

    def update_the_first_page_once(offset: int, count: int) -> None:
        # Records already read move to the end of the order; with plain offsets the three records at
        # the next page's start would slip back into the page already read.
        api.on_page = None
        api.store.touch(sys_ids=earliest[:3])

    api.on_page = update_the_first_page_once
    outcome = only_outcome(sync(settings))

    rows = bronze_rows(settings)
    assert {row["sys_id"] for row in rows} == set(earliest)
    assert versions(rows) >= service_versions(api)  # the three new versions too
    assert outcome.rows == len(rows) == 303
    assert only_outcome(sync(settings)).rows == 0


def test_plain_offset_paging_would_skip_records_in_the_same_situation(api: IncidentsServer) -> None:
    """The failure the connector's keyed paging avoids, shown on the same service and the same change."""
    earliest = [r["sys_id"] for r in sorted(api.store.records(), key=lambda r: (r["sys_updated_on"], r["sys_id"]))]
    api.on_page = lambda offset, count: (setattr(api, "on_page", None), api.store.touch(sys_ids=earliest[:3]))
    seen: set[str] = set()
    with httpx.Client(headers={"Authorization": f"Bearer {DEMO_TOKEN}"}) as client:
        for offset in range(0, 400, 20):
            params = {"sysparm_limit": 20, "sysparm_offset": offset, "sysparm_query": "ORDERBYsys_updated_on"}
            seen |= {r["sys_id"] for r in client.get(api.table_url, params=params).json()["result"]}
    assert len(set(earliest) - seen) == 3


def test_500_then_200_is_retried_and_loads(settings: Settings, api: IncidentsServer) -> None:
    api.inject_fault(TABLE_PATH, Fault.http_status(500), times=1)

    outcome = only_outcome(sync(settings))

    assert (outcome.status, outcome.rows) == ("loaded", 300)
    statuses = [r.status for r in api.requests if r.path == TABLE_PATH]
    assert statuses[:2] == [500, 200]
    assert len(bronze_rows(settings)) == 300


def test_429_waits_what_retry_after_asks(settings: Settings, api: IncidentsServer) -> None:
    settings = settings.with_overrides(http={"backoff_max_seconds": 10})
    api.inject_fault(TABLE_PATH, Fault.too_many_requests(retry_after=3), times=1)
    waits: list[float] = []

    outcome = only_outcome(sync(settings, sleep=waits.append))

    assert waits == [3.0]
    assert (outcome.status, outcome.rows) == ("loaded", 300)


def test_a_rate_limited_api_is_synced_completely(settings: Settings, api: IncidentsServer) -> None:
    settings = settings.with_overrides(http={"backoff_max_seconds": 2})
    api.rate_limit = 4  # 7 requests: the 5th waits for the next second
    started = time.monotonic()

    outcome = only_outcome(sync(settings))

    assert (outcome.status, outcome.rows) == ("loaded", 300)
    statuses = [r.status for r in api.requests if r.path == TABLE_PATH]
    assert 429 in statuses and statuses.count(200) == 7
    assert time.monotonic() - started >= 1.0


def test_401_fails_clearly_loads_nothing_and_keeps_the_cursor(settings: Settings, api: IncidentsServer) -> None:
    sync(settings)
    cursor = saved_cursor(settings)
    moved = api.advance(24)
    wrong = settings.with_overrides(rest={"token": "expired-token-123"})

    report = sync(wrong)

    outcome = only_outcome(report)
    assert report.exit_code == 1 and outcome.status == "failed"
    assert "401" in outcome.error and "User Not Authenticated" in outcome.error
    assert "CIVICLAKE__REST__TOKEN" in outcome.error and api.table_url in outcome.error
    assert "expired-token-123" not in outcome.error
    assert len(bronze_rows(settings)) == 300 and saved_cursor(settings) == cursor
    assert ingestions(settings)[-1]["status"] == "failed"
    assert len([r for r in api.requests if r.status == 401]) == 1  # a 401 is not retried

    # With the right token again, the changes missed meanwhile arrive.
    assert only_outcome(sync(settings)).rows == len(moved.changed)


def test_a_page_with_an_extra_field_adds_a_column_and_loses_nothing(settings: Settings, api: IncidentsServer) -> None:
    sync(settings)
    boundary = {
        r["sys_id"]
        for r in api.store.records()
        if r["sys_updated_on"] == json.loads(saved_cursor(settings) or "")["value"]
    }
    moved = api.advance(24)
    api.add_extra_field("u_business_service", "Email", pages=1)

    outcome = only_outcome(sync(settings))

    # The changed incidents, and the last run's boundary records: as served now, they differ.
    assert outcome.status == "loaded" and outcome.rows == len(moved.changed | boundary)
    rows = bronze_rows(settings)
    assert len(rows) == 300 + len(moved.changed | boundary)
    new_rows = [row for row in rows if row["u_business_service"] is not None]
    assert {row["sys_id"] for row in new_rows} == moved.changed | boundary
    assert {row["u_business_service"] for row in new_rows} == {"Email"}
    assert sum(row["u_business_service"] is None for row in rows) == 300
    changes = MetaTables(open_catalog(settings)).read("schema_changes").to_pylist()
    assert any("u_business_service" in json.dumps(change, default=str) for change in changes)


def test_an_extra_field_on_one_page_of_the_first_load(settings: Settings, api: IncidentsServer) -> None:
    api.on_page = lambda offset, count: (setattr(api, "on_page", None), api.add_extra_field("u_region", "EMEA"))

    outcome = only_outcome(sync(settings))

    rows = bronze_rows(settings)
    assert outcome.rows == len(rows) == 300
    assert sum(row["u_region"] == "EMEA" for row in rows) == 50  # exactly the second page


def test_service_down_fails_naming_the_endpoint(settings: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the socket closes
    down = settings.with_overrides(rest={"base_url": f"http://127.0.0.1:{port}"})

    report = sync(down)

    outcome = only_outcome(report)
    assert report.exit_code == 1 and outcome.status == "failed"
    assert f"http://127.0.0.1:{port}/api/now/table/incident" in outcome.error
    assert "incidents" in outcome.error and "still failing after 3 attempts" in outcome.error
    assert bronze_rows(settings) == [] and saved_cursor(settings) is None


BAD_ANSWERS = {
    "not-json": (Fault.http_status(200, {"Content-Type": "text/html"}, b"<html>Instance hibernating</html>"), "JSON"),
    "no-result": (Fault.http_status(200, {"Content-Type": "application/json"}, b'{"records": []}'), "'result' list"),
    "not-objects": (Fault.http_status(200, {"Content-Type": "application/json"}, b'{"result": [1]}'), "not an object"),
    "out-of-order": (
        Fault.http_status(
            200,
            {"Content-Type": "application/json"},
            b'{"result": [{"sys_id": "x", "sys_updated_on": "2001-01-01 00:00:00"}]}',
        ),
        "not sorted",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_a_bad_page_fails_the_run_loads_nothing_and_the_next_run_loads_all(
    settings: Settings, api: IncidentsServer, case: str
) -> None:
    fault, reason = BAD_ANSWERS[case]
    # The second page is the bad one: the first was already written, and must not be loaded alone.
    api.on_page = lambda offset, count: (setattr(api, "on_page", None), api.inject_fault(TABLE_PATH, fault))

    outcome = only_outcome(sync(settings))

    assert outcome.status == "failed" and reason in outcome.error and "incidents" in outcome.error
    assert bronze_rows(settings) == [] and saved_cursor(settings) is None
    assert only_outcome(sync(settings)).rows == 300


def test_link_pagination_follows_next_and_stays_incremental(settings: Settings, api: IncidentsServer) -> None:
    settings = with_endpoint(settings, pagination="link", page_size=40)

    assert only_outcome(sync(settings)).rows == 300
    offsets = [r.params["sysparm_offset"][0] for r in api.requests if r.path == TABLE_PATH]
    assert offsets == [str(offset) for offset in range(0, 300, 40)]  # the last page has no next link
    moved = api.advance(24)
    assert only_outcome(sync(settings)).rows == len(moved.changed)
    assert only_outcome(sync(settings)).rows == 0


def test_a_next_link_to_another_host_is_refused(settings: Settings, api: IncidentsServer) -> None:
    settings = with_endpoint(settings, pagination="link")
    body = b'{"result": [{"sys_id": "a", "sys_updated_on": "2026-01-01 00:00:00"}]}'
    link = '<https://attacker.example/api/now/table/incident?sysparm_offset=1>;rel="next"'
    api.inject_fault(TABLE_PATH, Fault.http_status(200, {"Content-Type": "application/json", "Link": link}, body))

    outcome = only_outcome(sync(settings))

    assert outcome.status == "failed" and "another origin" in outcome.error
    assert not [r for r in api.requests if "attacker" in r.path]


def test_basic_auth(tmp_path: Path) -> None:
    from civiclake.config import load_settings
    from tests.sources.rest.helpers import fast_retries

    with IncidentsServer(incidents=40, seed=3, auth="basic", username="etl", password="s3cret!") as api:
        base = load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "home")})
        settings = fast_retries(base.with_overrides(**api.settings_overrides()))
        assert settings.rest.auth == "basic" and settings.rest.username == "etl"
        assert only_outcome(sync(settings)).rows == 40
        wrong = settings.with_overrides(rest={"password": "nope"})
        assert "401" in (only_outcome(sync(wrong)).error or "")


def test_secrets_appear_nowhere(settings: Settings, api: IncidentsServer) -> None:
    sync(settings)
    api.advance(24)
    sync(settings.with_overrides(rest={"token": "wrong-but-secret-token"}))
    sync(settings)

    assert DEMO_TOKEN not in repr(settings) and DEMO_TOKEN not in str(settings.model_dump())
    lake = settings.home / "lake"
    files = [path for path in lake.rglob("*") if path.is_file()]
    assert any(path.name.endswith(".manifest.json") for path in files)
    for path in files:
        content = path.read_bytes()
        assert DEMO_TOKEN.encode() not in content and b"wrong-but-secret-token" not in content, path
    recorded = json.dumps(ingestions(settings), default=str)
    assert DEMO_TOKEN not in recorded and "wrong-but-secret-token" not in recorded
    manifest = json.loads(next(path for path in files if path.name.endswith(".manifest.json")).read_text())
    assert manifest["source_url"].startswith(api.table_url) and manifest["detected_format"]["format"] == "ndjson"
    assert manifest["http_headers"]["content-type"] == "application/x-ndjson"


def test_full_refresh_extracts_everything_again(settings: Settings, api: IncidentsServer) -> None:
    sync(settings)
    outcome = only_outcome(sync(settings, full_refresh=True))
    # The same bytes as the first run: the bronze table already holds them.
    assert outcome.status == "unchanged" and len(bronze_rows(settings)) == 300


def test_start_limits_the_first_extraction(settings: Settings, api: IncidentsServer) -> None:
    start = "2026-02-20 00:00:00"
    outcome = only_outcome(sync(with_endpoint(settings, start=start)))
    expected = [r for r in api.store.records() if r["sys_updated_on"] >= start]
    assert 0 < outcome.rows == len(expected) < 300

"""The demo incidents service: ServiceNow's Table API shapes, query, auth, determinism, clock, faults."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from civiclake.demo.incidents import DEMO_TOKEN, FIELDS, Fault, IncidentsServer, IncidentStore
from civiclake.demo.incidents.store import Query

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
PRIORITY = {(1, 1): 1, (1, 2): 2, (2, 1): 2, (1, 3): 3, (2, 2): 3, (3, 1): 3, (2, 3): 4, (3, 2): 4, (3, 3): 5}


@pytest.fixture(scope="module")
def api() -> Iterator[IncidentsServer]:
    """One service for the tests that only read."""
    with IncidentsServer(incidents=250, seed=11) as server:
        yield server


@pytest.fixture
def client(api: IncidentsServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.base_url, headers=AUTH, timeout=5) as http:
        yield http


def get_page(client: httpx.Client, **params: object) -> httpx.Response:
    return client.get("/api/now/table/incident", params=params)


def test_records_look_like_servicenow_incidents(api: IncidentsServer) -> None:
    records = api.store.records()
    assert len(records) == 250
    numbers = [record["number"] for record in records]
    assert numbers[0] == "INC0010001" and len(set(numbers)) == 250
    assert all(re.fullmatch(r"INC\d{7}", number) for number in numbers)
    assert len({record["short_description"] for record in records}) > 100  # varied, not one template
    for record in records:
        assert list(record) == list(FIELDS)
        assert re.fullmatch(r"[0-9a-f]{32}", record["sys_id"])
        assert record["state"] in ("new", "in_progress", "on_hold", "resolved", "closed")
        assert record["category"] in ("network", "software", "hardware", "database", "access", "email")
        assert record["priority"] == str(PRIORITY[(int(record["impact"]), int(record["urgency"]))])
        assert all(TIMESTAMP.match(record[name]) for name in ("opened_at", "sys_created_on", "sys_updated_on"))
        done = record["state"] in ("resolved", "closed")
        assert (record["resolved_at"] is not None) == done and (record["close_code"] is not None) == done
        assert (record["closed_at"] is not None) == (record["state"] == "closed")
        steps = [record["opened_at"], record["resolved_at"], record["closed_at"]]
        assert [step for step in steps if step] == sorted(step for step in steps if step)
        assert record["opened_at"] <= record["sys_updated_on"] <= api.clock
        assert record["assignment_group"] in {
            "Service Desk",
            "Network Ops",
            "Application Support",
            "Desktop Support",
            "DBA",
            "Identity & Access",
            "Messaging",
        }
    states = {record["state"] for record in records}
    assert {"closed", "in_progress", "resolved"} <= states


def test_pages_follow_link_next_and_cover_every_record_once(api: IncidentsServer, client: httpx.Client) -> None:
    response = get_page(client, sysparm_limit=100, sysparm_query="ORDERBYnumber")
    assert response.status_code == 200 and response.headers["x-total-count"] == "250"
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.links) == {"first", "next", "last"}
    assert "sysparm_offset=200" in response.links["last"]["url"]
    seen = [record["number"] for record in response.json()["result"]]
    while "next" in response.links:
        response = client.get(response.links["next"]["url"])
        seen += [record["number"] for record in response.json()["result"]]
    assert seen == sorted(record["number"] for record in api.store.records())
    assert "prev" in response.links and "next" not in response.links
    past_the_end = get_page(client, sysparm_limit=100, sysparm_offset=300)
    assert past_the_end.json() == {"result": []} and past_the_end.headers["x-total-count"] == "250"


def test_query_filters_orders_and_projects(api: IncidentsServer, client: httpx.Client) -> None:
    records = api.store.records()
    middle = sorted(record["sys_updated_on"] for record in records)[125]
    response = get_page(
        client, sysparm_query=f"sys_updated_on>={middle}^ORDERBYsys_updated_on", sysparm_fields="sys_id,sys_updated_on"
    )
    result = response.json()["result"]
    expected = [record for record in records if record["sys_updated_on"] >= middle]
    assert {record["sys_id"] for record in result} == {record["sys_id"] for record in expected}
    assert [record["sys_updated_on"] for record in result] == sorted(record["sys_updated_on"] for record in result)
    assert all(set(record) == {"sys_id", "sys_updated_on"} for record in result)
    assert response.headers["x-total-count"] == str(len(expected))

    descending = get_page(client, sysparm_query="priority=1^ORDERBYDESCopened_at").json()["result"]
    assert [r["opened_at"] for r in descending] == sorted((r["opened_at"] for r in descending), reverse=True)
    assert {r["number"] for r in descending} == {r["number"] for r in records if r["priority"] == "1"}
    state = get_page(client, sysparm_query="state!=closed^category=network").json()["result"]
    assert state and all(r["state"] != "closed" and r["category"] == "network" for r in state)


def test_single_record_and_errors_in_servicenow_shape(api: IncidentsServer, client: httpx.Client) -> None:
    record = api.store.records()[0]
    assert client.get(f"/api/now/table/incident/{record['sys_id']}").json() == {"result": record}
    missing = client.get("/api/now/table/incident/" + "0" * 32)
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "No Record found"
    bad_query = get_page(client, sysparm_query="no_such_field>=1")
    assert bad_query.status_code == 400 and "no_such_field" in bad_query.json()["error"]["message"]
    assert get_page(client, sysparm_query="priority=1^ORpriority=2").status_code == 400
    assert get_page(client, sysparm_limit="lots").status_code == 400
    assert client.get("/api/now/table/problem").status_code == 400


def test_requests_without_valid_credentials_get_401(api: IncidentsServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic Y2l2aWNsYWtlOng="}):
        response = httpx.get(api.table_url, headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
            "status": "failure",
        }
    with IncidentsServer(incidents=5, auth="basic", username="etl", password="pw") as basic:
        assert httpx.get(basic.table_url, auth=("etl", "pw")).status_code == 200
        assert httpx.get(basic.table_url, auth=("etl", "nope")).status_code == 401
        assert httpx.get(basic.table_url, headers={"Authorization": "Basic !!"}).status_code == 401
        assert httpx.get(basic.table_url, headers=AUTH).status_code == 401
    with IncidentsServer(incidents=5, auth="none") as open_service:
        assert httpx.get(open_service.table_url).status_code == 200


def test_same_seed_same_data_and_same_changes() -> None:
    first, second = IncidentStore(seed=5, incidents=120), IncidentStore(seed=5, incidents=120)
    assert first.records() == second.records()
    assert first.advance(36).as_dict() == second.advance(36).as_dict()
    assert first.records() == second.records()
    assert IncidentStore(seed=6, incidents=120).records() != first.records()


def test_advancing_the_clock_opens_progresses_and_closes_incidents() -> None:
    store = IncidentStore(seed=9, incidents=400)
    before = {record["sys_id"]: record for record in store.records()}
    old_clock = store.clock

    moved = store.advance(72)

    assert store.clock == old_clock + timedelta(hours=72) and moved.clock == "2026-03-04 08:00:00"
    after = {record["sys_id"]: record for record in store.records()}
    assert set(moved.opened) == set(after) - set(before) and moved.opened
    assert set(moved.updated) == {sid for sid in before if after[sid] != before[sid]}
    old, new = old_clock.strftime("%Y-%m-%d %H:%M:%S"), moved.clock
    for sys_id in moved.changed:
        assert old < after[sys_id]["sys_updated_on"] <= new
        if sys_id in before:
            assert int(after[sys_id]["sys_mod_count"]) > int(before[sys_id]["sys_mod_count"])
    unchanged = set(before) - moved.changed
    assert all(after[sid]["sys_updated_on"] == before[sid]["sys_updated_on"] for sid in unchanged)
    transitions = {(before[sid]["state"], after[sid]["state"]) for sid in moved.updated}
    assert ("resolved", "closed") in transitions and any(new == "resolved" for _, new in transitions)
    numbers = sorted(after[sid]["number"] for sid in moved.opened)
    assert numbers[0] == f"INC{10001 + 400:07d}"
    with pytest.raises(ValueError):
        store.advance(0)


def test_the_admin_endpoint_moves_the_clock(api: IncidentsServer) -> None:
    with IncidentsServer(incidents=50, seed=2) as fresh:
        clock = httpx.get(f"{fresh.base_url}/_admin/clock").json()
        assert clock == {"clock": "2026-03-01 08:00:00", "incidents": 50}
        answer = httpx.post(f"{fresh.base_url}/_admin/advance", params={"hours": 24}).json()
        assert answer["clock"] == "2026-03-02 08:00:00" and answer["updated"] + answer["opened"] == len(
            answer["changed"]
        )
        assert fresh.clock == "2026-03-02 08:00:00"
        assert httpx.post(f"{fresh.base_url}/_admin/advance", params={"hours": "x"}).status_code == 400
        assert httpx.post(f"{fresh.base_url}/_admin/advance", params={"hours": -1}).status_code == 400
        assert httpx.post(f"{fresh.base_url}/_admin/rate-limit", params={"per_second": 2}).json() == {"rate_limit": 2}
        assert fresh.rate_limit == 2


def test_rate_limit_answers_429_with_retry_after() -> None:
    with IncidentsServer(incidents=10, rate_limit=2) as limited, httpx.Client(headers=AUTH) as http:
        statuses = [http.get(limited.table_url) for _ in range(4)]
        assert [response.status_code for response in statuses][:2] == [200, 200]
        refused = statuses[2]
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["message"] == "Rate limit exceeded"
        assert httpx.get(f"{limited.base_url}/_admin/clock").status_code == 200  # admin is not limited


def test_injected_faults_and_extra_fields() -> None:
    with IncidentsServer(incidents=30) as faulty, httpx.Client(headers=AUTH) as http:
        faulty.inject_fault("/api/now/table/incident", Fault.http_status(500), times=1)
        assert [http.get(faulty.table_url).status_code for _ in range(2)] == [500, 200]
        faulty.add_extra_field("u_business_service", "Email", pages=1)
        with_field = http.get(faulty.table_url, params={"sysparm_limit": 10}).json()["result"]
        without = http.get(faulty.table_url, params={"sysparm_limit": 10}).json()["result"]
        assert all(record["u_business_service"] == "Email" for record in with_field)
        assert all("u_business_service" not in record for record in without)


def test_a_new_table_field_reaches_every_record() -> None:
    store = IncidentStore(seed=1, incidents=20)
    store.add_field("u_region", lambda record: "EMEA" if record["category"] == "network" else None)
    assert all("u_region" in record for record in store.records())
    assert "u_region" in store.fields
    with pytest.raises(ValueError, match="already has"):
        store.add_field("u_region", lambda record: None)
    _, page = store.select(Query.parse("u_region=EMEA", store.fields))
    assert page and all(record["category"] == "network" for record in page)


def test_opened_incidents_arrive_at_the_history_rate() -> None:
    store = IncidentStore(seed=4, incidents=1440)  # 1 an hour over the 60 days of history
    opened = len(store.advance(240).opened)
    assert 170 < opened < 310
    assert datetime.strptime(store.records()[-1]["opened_at"], "%Y-%m-%d %H:%M:%S") <= store.clock

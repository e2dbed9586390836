"""Settings of the rest source, which connectors a sync builds, and the cursor kept between runs."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from civiclake.config import RestSettings, load_settings
from civiclake.errors import ConfigurationError, SourceError
from civiclake.sources.rest import RestConnector, rest_connectors
from civiclake.sources.rest.cursor import MAX_BOUNDARY_RECORDS, CursorPosition, CursorTracker, fingerprint

FORMAT = "%Y-%m-%d %H:%M:%S"


def test_base_url_and_a_token_file_are_enough_for_the_default_endpoint(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "CIVICLAKE__REST__TOKEN").write_text("from-a-kubernetes-secret\n")
    settings = load_settings(
        environ={"CIVICLAKE__REST__BASE_URL": "https://acme.service-now.com", "CIVICLAKE_SECRETS_DIR": str(secrets)}
    )

    (endpoint,) = settings.rest.configured_endpoints()
    assert (endpoint.name, endpoint.path, endpoint.cursor_field, endpoint.key_field) == (
        "incidents",
        "/api/now/table/incident",
        "sys_updated_on",
        "sys_id",
    )
    assert "from-a-kubernetes-secret" not in repr(settings)
    connector = RestConnector(settings.rest, settings.http)
    try:
        (found,) = connector.discover()
        (resource,) = found.resources
        assert (found.name, resource.title, resource.resource_id) == (
            "incidents",
            "incident",
            "incidents:/api/now/table/incident",
        )
        assert resource.incremental and resource.url == "https://acme.service-now.com/api/now/table/incident"
        request = httpx.Request("GET", resource.url)
        flow = connector.endpoints[resource.resource_id].auth.auth_flow(request)  # type: ignore[union-attr]
        assert next(flow).headers["Authorization"] == "Bearer from-a-kubernetes-secret"
    finally:
        connector.close()


def test_endpoints_from_a_json_variable() -> None:
    endpoints = [
        {"name": "incidents", "base_url": "https://a.example"},
        {"name": "changes", "base_url": "https://a.example", "path": "/api/now/table/change_request"},
    ]
    settings = load_settings(
        environ={"CIVICLAKE__REST__ENDPOINTS": json.dumps(endpoints), "CIVICLAKE__REST__AUTH": "none"}
    )
    connector = RestConnector(settings.rest, settings.http)
    try:
        titles = [found.resources[0].title for found in connector.discover()]
    finally:
        connector.close()
    assert titles == ["incident", "change_request"]
    with pytest.raises(ConfigurationError, match="CIVICLAKE__REST__ENDPOINTS"):
        load_settings(environ={"CIVICLAKE__REST__ENDPOINTS": "[{not json"})


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"base_url": "https://a.example"}, "CIVICLAKE__REST__TOKEN"),
        ({"base_url": "https://a.example", "auth": "basic", "username": "etl"}, "CIVICLAKE__REST__PASSWORD"),
        ({"base_url": "ftp://a.example", "auth": "none"}, "not an http"),
        ({"base_url": "https://etl:pw@a.example", "auth": "none"}, "never in base_url"),
        ({"auth": "none", "endpoints": [{"name": "x"}]}, "no base_url"),
        ({"base_url": "https://a", "auth": "none", "endpoints": [{"start": "01/02/2026"}]}, "cursor_format"),
        ({"base_url": "https://a", "auth": "none", "endpoints": [{"name": "a"}, {"name": "a"}]}, "distinct"),
    ],
)
def test_bad_settings_are_refused_with_what_to_fix(section: dict, message: str) -> None:
    settings = RestSettings.model_validate(section)
    with pytest.raises(ConfigurationError, match=message):
        RestConnector(settings, load_settings(environ={}).http)


def test_the_rest_connector_is_built_only_when_configured_or_asked_for() -> None:
    unconfigured = load_settings(environ={})
    assert rest_connectors(unconfigured, [], []) == []
    with pytest.raises(ConfigurationError, match="CIVICLAKE__REST__BASE_URL"):
        rest_connectors(unconfigured, ["rest"], [])

    configured = load_settings(
        environ={"CIVICLAKE__REST__BASE_URL": "http://127.0.0.1:8766", "CIVICLAKE__REST__AUTH": "none"}
    )
    (connector,) = rest_connectors(configured, [], [])
    connector.close()
    # Dataset ids of other sources do not select (nor break) the rest source...
    assert rest_connectors(configured, [], ["5c4ae55a634f4117716d5656"]) == []
    # ...unless rest is the only source asked for.
    with pytest.raises(ConfigurationError, match="no rest endpoint named nope"):
        rest_connectors(configured, ["rest"], ["nope"])
    (chosen,) = rest_connectors(configured, ["rest"], ["incidents"])
    chosen.close()


def test_cursor_round_trip_and_bad_saved_values() -> None:
    position = CursorPosition("2026-03-04 10:12:55", {"b": "2", "a": "1"})
    saved = position.dumps()
    assert saved == '{"value":"2026-03-04 10:12:55","seen":{"a":"1","b":"2"}}'
    assert CursorPosition.load(saved, start=None) == position
    assert CursorPosition.load(None, start="2026-01-01 00:00:00") == CursorPosition("2026-01-01 00:00:00")
    assert CursorPosition.load("2026-02-01 00:00:00", start=None) == CursorPosition("2026-02-01 00:00:00")
    assert CursorPosition().dumps() is None
    for broken in ('{"seen": {}}', '{"value": 3}', "{oops"):
        with pytest.raises(SourceError, match="full-refresh"):
            CursorPosition.load(broken, start=None)
    huge = CursorPosition("2026-03-04 10:12:55", {str(n): "x" for n in range(MAX_BOUNDARY_RECORDS + 1)})
    assert json.loads(huge.dumps() or "") == {"value": "2026-03-04 10:12:55", "seen": {}}


def line(record: dict) -> bytes:
    return json.dumps(record).encode() + b"\n"


def test_tracker_skips_exactly_what_the_boundary_holds() -> None:
    held = {"sys_id": "a", "sys_updated_on": "2026-03-04 10:00:00", "state": "new"}
    position = CursorPosition(held["sys_updated_on"], {"a": fingerprint(line(held))})
    tracker = CursorTracker(position, FORMAT, ordered=True)

    assert not tracker.accept(held["sys_updated_on"], "a", line(held))  # already loaded as it is
    changed = {**held, "state": "in_progress"}  # changed within the same second
    assert tracker.accept(changed["sys_updated_on"], "a", line(changed))
    assert not tracker.accept(changed["sys_updated_on"], "a", line(changed))  # the API repeated it
    assert tracker.group_returned == 3
    later = {"sys_id": "b", "sys_updated_on": "2026-03-04 10:00:01"}
    assert tracker.accept(later["sys_updated_on"], "b", line(later))
    assert (tracker.group_value, tracker.group_returned) == ("2026-03-04 10:00:01", 1)
    # A record without a usable cursor value is kept, and moves nothing.
    assert tracker.accept(None, "c", b"{}\n") and tracker.accept("yesterday", "d", b"{}\n")
    assert tracker.group_value == "2026-03-04 10:00:01"
    with pytest.raises(SourceError, match="not sorted"):
        tracker.accept("2026-03-04 09:00:00", "e", b"{}\n")
    unordered = CursorTracker(CursorPosition("2026-03-04 10:00:00"), FORMAT, ordered=False)
    assert unordered.accept("2026-03-01 00:00:00", "e", b"{}\n") and unordered.group_value == "2026-03-04 10:00:00"

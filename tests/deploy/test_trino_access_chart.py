"""Trino's access control as the chart renders it from the `access` values: the rules file, the group file, the
Trino chart's values that mount and read them, the checks that refuse a broken combination, and the files the local
launcher takes from the render (what tests/cluster/test_trino_access.py then runs on the real Trino)."""

from __future__ import annotations

import json
from typing import Any

import helm_python
import pytest

from civiclake.servers import chart

from .conftest import SCENARIOS, one, render_objects, render_raw, rendered_scenario

ACCESS_CONFIGMAP = "civiclake-trino-access"
MOUNT_DIR = "/etc/trino/civiclake-access"


def access_files(objects: Any) -> tuple[dict[str, Any], dict[str, set[str]]]:
    data = one(objects, "ConfigMap", ACCESS_CONFIGMAP)["data"]
    groups: dict[str, set[str]] = {}
    for line in data["group.db"].splitlines():
        if line.strip():
            group, users = line.strip().split(":", 1)
            groups[group] = set(filter(None, users.split(",")))
    return json.loads(data["rules.json"]), groups


def table_rules(rules: dict[str, Any], group: str) -> list[dict[str, Any]]:
    return [rule for rule in rules["tables"] if rule["group"] == group]


@pytest.mark.parametrize("scenario", ["default", "k3s-single-node", "production"])
def test_every_scenario_with_trino_renders_the_rules_and_groups_of_the_access_values(
    scenario: str, chart_values: dict[str, Any]
) -> None:
    rules, groups = access_files(rendered_scenario(scenario))
    assert groups == {group: set(users) for group, users in chart_values["access"]["groups"].items()}
    assert set(rules) == {"catalogs", "schemas", "tables", "functions", "procedures", "queries"}


def test_admin_groups_come_first_with_every_privilege_in_every_section() -> None:
    rules, groups = access_files(rendered_scenario("default"))
    assert {"civiclake", "civiclake-dbt", "civiclake-maintenance", "airflow"} <= groups["civiclake_admin"]
    admins = "(civiclake_admin)"
    assert rules["catalogs"][0] == {"group": admins, "allow": "all"}
    assert rules["schemas"] == [{"group": admins, "owner": True}]
    assert rules["tables"][0]["group"] == admins
    assert set(rules["tables"][0]["privileges"]) == {
        "SELECT",
        "INSERT",
        "DELETE",
        "UPDATE",
        "OWNERSHIP",
        "GRANT_SELECT",
    }
    assert [rule["group"] for rule in rules["functions"] + rules["procedures"]] == [admins, admins]


def test_only_admin_groups_see_or_kill_other_users_queries() -> None:
    # dbt's statements carry the pseudonymisation key: Trino without query rules shows every query to every user.
    rules, _ = access_files(rendered_scenario("default"))
    assert rules["queries"] == [
        {"group": "(civiclake_admin)", "allow": ["execute", "kill", "view"]},
        {"allow": ["execute"]},
    ]


def test_other_groups_may_only_read_the_iceberg_catalog() -> None:
    rules, _ = access_files(rendered_scenario("default"))
    readers = rules["catalogs"][1]
    assert readers["catalog"] == "iceberg" and readers["allow"] == "read-only"
    assert set(readers["group"].strip("()").split("|")) == {"analyst", "marketing", "analyst_junior", "merchant_1"}
    # Nobody but the admins is written into the last rule: everything else is denied.
    assert rules["catalogs"][2] == {"catalog": "system", "allow": "read-only"}


def test_marketing_rows_are_filtered_on_european_countries() -> None:
    rules, _ = access_files(rendered_scenario("default"))
    by_table = {rule["table"]: rule for rule in table_rules(rules, "marketing")}
    assert set(by_table) == {"dim_customers", "fct_order_items"}
    assert by_table["dim_customers"]["filter"].startswith("country_code IN (")
    assert by_table["fct_order_items"]["filter"].startswith("shipping_country IN (")
    for rule in by_table.values():
        assert rule["schema"] == "gold" and rule["privileges"] == ["SELECT"]
        assert "'FR'" in rule["filter"] and "'GB'" in rule["filter"]
        assert "'US'" not in rule["filter"] and "'CA'" not in rule["filter"]


def test_junior_analysts_get_every_amount_of_shopstreams_gold_masked() -> None:
    rules, _ = access_files(rendered_scenario("default"))
    masked = {
        rule["table"]: {c["name"]: c["mask"] for c in rule["columns"]} for rule in table_rules(rules, "analyst_junior")
    }
    assert set(masked["fct_order_items"]) == {
        "unit_price",
        "discount_amount",
        "gross_amount",
        "net_amount",
        "net_amount_eur",
        "cost_eur",
        "margin_eur",
    }
    assert set(masked["dim_customers"]) == {"lifetime_value_eur", "lifetime_margin_eur"}
    assert set(masked["dim_products"]) == {"unit_price", "unit_cost", "unit_margin", "margin_rate"}
    assert {mask for columns in masked.values() for mask in columns.values()} == {"NULL"}


def test_a_merchant_group_reads_its_own_rows_only() -> None:
    rules, _ = access_files(rendered_scenario("default"))
    [rule] = table_rules(rules, "merchant_1")
    assert rule["table"] == "fct_order_items|dim_products"
    assert rule["filter"] == "merchant_id = 1"


def test_analysts_are_kept_out_of_bronze_before_they_are_granted_the_rest() -> None:
    rules, _ = access_files(rendered_scenario("default"))
    deny, allow = table_rules(rules, "analyst")
    assert (deny["schema"], deny["privileges"]) == ("bronze|meta", [])
    assert (allow["schema"], allow["privileges"]) == (".*", ["SELECT"])


def test_the_trino_chart_is_told_to_mount_and_read_civiclakes_access_files(chart_values: dict[str, Any]) -> None:
    trino = chart_values["trino"]
    assert trino["accessControl"]["type"] == "properties"
    assert f"security.config-file={MOUNT_DIR}/rules.json" in trino["accessControl"]["properties"]
    assert "access-control.name=file" in trino["accessControl"]["properties"]
    group_provider = trino["coordinator"]["additionalConfigFiles"]["group-provider.properties"]
    assert "group-provider.name=file" in group_provider
    assert f"file.group-file={MOUNT_DIR}/group.db" in group_provider
    assert {"name": "civiclake-access", "configMap": ACCESS_CONFIGMAP, "path": MOUNT_DIR} in trino["coordinator"][
        "configMounts"
    ]


def test_without_trino_the_chart_renders_no_access_files() -> None:
    assert not [obj for obj in rendered_scenario("all-external") if obj["metadata"]["name"] == ACCESS_CONFIGMAP]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"access": {"grants": [{"group": "nobody"}]}}, 'access.grants: group "nobody" has no entry in access.groups'),
        (
            {"trino": {"coordinator": {"configMounts": []}}},
            f"trino.coordinator.configMounts must mount the ConfigMap {ACCESS_CONFIGMAP}",
        ),
        (
            {"trino": {"accessControl": {"properties": "access-control.name=allow-all\n"}}},
            f"trino.accessControl.properties must set security.config-file={MOUNT_DIR}/rules.json",
        ),
        (
            {
                "trino": {
                    "coordinator": {
                        "additionalConfigFiles": {
                            "group-provider.properties": "group-provider.name=file\nfile.group-file=/x/group.db\n"
                        }
                    }
                }
            },
            f"group-provider.properties must set file.group-file={MOUNT_DIR}/group.db",
        ),
    ],
)
def test_access_values_that_trino_would_not_apply_fail_the_render(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError) as failed:
        render_raw(values)
    assert message in str(failed.value)


def test_a_grant_with_an_unknown_privilege_is_refused_by_the_schema() -> None:
    with pytest.raises(helm_python.HelmError) as failed:
        render_raw({"access": {"grants": [{"group": "analyst", "privileges": ["DROP"]}]}})
    assert "access" in str(failed.value) and "privileges" in str(failed.value)


def test_the_launcher_takes_the_coordinators_files_from_the_render() -> None:
    objects = render_objects(SCENARIOS["default"])
    files = chart.trino_coordinator_files(objects)
    rules, _ = access_files(objects)
    assert set(files) >= {
        "access-control.properties",
        "group-provider.properties",
        "civiclake-access/rules.json",
        "civiclake-access/group.db",
    }
    assert json.loads(files["civiclake-access/rules.json"]) == rules
    # The properties name the pod's paths; the launcher writes the mount under its own etc/ and rewrites them.
    assert f"{chart.TRINO_CONFIG_DIR}/civiclake-access/rules.json" in files["access-control.properties"]
    assert MOUNT_DIR.startswith(chart.TRINO_CONFIG_DIR + "/")

"""The classification of personal data in the dbt project: every staging column whose name or content looks personal
carries a ``pii`` level, and the check finds the columns that do not (proven on planted columns, not only passed)."""

from __future__ import annotations

import copy
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from civiclake.errors import ConfigurationError
from civiclake.privacy.classification import (
    erasure_scopes,
    staging_classification,
    unclassified_personal_columns,
)
from civiclake.privacy.keys import KEY_VARIABLE
from civiclake.transform.project import CHECKOUT_PROJECT_DIR, DbtProject
from tests.transform.lakehouse import copy_dbt_project


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The project's manifest, from ``dbt parse`` of a copy of the checkout's project."""
    base = tmp_path_factory.mktemp("classification")
    project = DbtProject(copy_dbt_project(base / "dbt"), base / "work", "duckdb", {KEY_VARIABLE: secrets.token_hex(32)})
    output: list[str] = []
    assert project.run(["parse"], on_line=output.append) == 0, "\n".join(output[-30:])
    return project.manifest()


def _documented(declared: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, list[Any]]]:
    return {model: {column: [] for column in columns} for model, columns in declared.items()}


def test_every_staging_column_whose_name_looks_personal_is_classified(manifest: dict[str, Any]) -> None:
    declared = staging_classification(manifest)
    assert {"stg_shopstream__users", "stg_olist__customers", "stg_incidents__incidents"} <= set(declared)
    assert unclassified_personal_columns(declared, _documented(declared)) == []


def test_the_personal_columns_of_each_source_are_classified_with_their_subject(manifest: dict[str, Any]) -> None:
    declared = staging_classification(manifest)
    users = declared["stg_shopstream__users"]
    assert users["email_pseudonym"] == {"pii": "indirect", "subject": "user_id", "pseudonym_of": "email"}
    assert users["full_name_pseudonym"]["pseudonym_of"] == "full_name"
    assert declared["stg_shopstream__crm_contacts"]["owner_pseudonym"]["pii"] == "indirect"
    assert declared["stg_olist__customers"]["customer_unique_id"]["subject"] == "customer_unique_id"
    # The incidents service has no caller field: callers are named inside the free text.
    assert declared["stg_incidents__incidents"]["short_description"] == {"pii": "direct"}


def test_an_unclassified_personal_column_planted_in_the_manifest_is_found(manifest: dict[str, Any]) -> None:
    planted = copy.deepcopy(manifest)
    users = next(node for node in planted["nodes"].values() if node["name"] == "stg_shopstream__users")
    users["columns"]["contact_phone"] = {"name": "contact_phone", "meta": {}}
    del users["columns"]["full_name_pseudonym"]["meta"]["pii"]
    events = next(node for node in planted["nodes"].values() if node["name"] == "stg_shopstream__events")
    events["columns"]["user_id"]["meta"]["pii"] = "secret"
    declared = staging_classification(planted)
    findings = {
        (item.model, item.column): item.reason
        for item in unclassified_personal_columns(declared, _documented(declared))
    }
    assert findings == {
        ("stg_shopstream__users", "contact_phone"): "its name looks personal",
        ("stg_shopstream__users", "full_name_pseudonym"): "its name looks personal",
        ("stg_shopstream__events", "user_id"): "pii: 'secret' is not one of direct, indirect, sensitive, none",
    }


def test_a_column_whose_content_looks_personal_is_found_whatever_its_name() -> None:
    exposed = {
        "stg_crm__notes": {
            "remark": ["call back on Monday", "wrote from jane.doe@example.org"],
            "reference": ["+33 6 12 34 56 78"],
            "amount": ["12.50", "1 250.00"],
            "classified_remark": ["jane.doe@example.org"],
        }
    }
    declared = {"stg_crm__notes": {"classified_remark": {"pii": "direct"}}}
    findings = {(item.column, item.reason) for item in unclassified_personal_columns(declared, exposed)}
    assert findings == {
        ("remark", "its content holds e-mail addresses"),
        ("reference", "its content holds phone numbers"),
    }


def test_erasure_scopes_come_from_the_classification_parents_first() -> None:
    scopes = erasure_scopes(CHECKOUT_PROJECT_DIR)
    tables = [scope.table for scope in scopes]
    assert set(tables) == {"users", "orders", "order_items", "events", "crm_contacts"}
    assert tables.index("orders") < tables.index("order_items") and tables.index("users") < tables.index("crm_contacts")
    crm = next(scope for scope in scopes if scope.table == "crm_contacts")
    assert [(match.column, match.table, match.key) for match in crm.matches] == [
        ("user_id", None, None),
        ("email", "users", "email"),
    ]


def test_a_loop_in_the_erasure_declarations_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "_s.yml").write_text(
        "sources:\n  - name: s\n    tables:\n"
        "      - name: a\n        meta: {privacy_erasure: {subject: k, column: x, through: {table: b, key: id}}}\n"
        "      - name: b\n        meta: {privacy_erasure: {subject: k, column: y, through: {table: a, key: id}}}\n"
    )
    with pytest.raises(ConfigurationError, match="loop"):
        erasure_scopes(tmp_path)


def test_docs_privacy_lists_every_classified_source_column_with_its_level() -> None:
    """docs/privacy.md's table of what is personal says what the dbt YAML declares, column by column."""
    rows = [
        line
        for line in (CHECKOUT_PROJECT_DIR.parent / "docs" / "privacy.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and "`" in line
    ]
    declared = []
    for path in (CHECKOUT_PROJECT_DIR / "models").rglob("_*__sources.yml"):
        for source in yaml.safe_load(path.read_text(encoding="utf-8")).get("sources") or []:
            for table in source.get("tables") or []:
                for column in table.get("columns") or []:
                    level = (column.get("meta") or {}).get("pii")
                    if level:
                        declared.append((table["name"], column["name"], level))
    assert declared
    for table, column, level in declared:
        matching = [row for row in rows if f"`{table}`" in row and f"`{column}`" in row]
        assert matching, f"docs/privacy.md does not list {table}.{column}"
        assert any(f"| {level} |" in row for row in matching), f"docs/privacy.md: {table}.{column} is {level}"

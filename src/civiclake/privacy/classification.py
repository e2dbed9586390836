"""The classification of personal data, declared once in the dbt project and read from there.

Every column holding personal data carries ``meta: {pii: direct | indirect | sensitive, subject: <key>}`` in the
dbt YAML (``pii: none`` declares a column that only looks personal). ``direct`` identifies a person on its own (an
e-mail, a name), ``indirect`` only together with other data (a city, an account id, a pseudonym), ``sensitive`` is
a special category (health, religion...). ``subject`` names the key a person is found by (``user_id``); a
pseudonym also says what it replaces (``pseudonym_of``). Source tables say how an erasure finds a person's rows
(``meta: {privacy_erasure: {subject, column[, through]}}``).

The check: a staging model may only expose a column whose name or content looks personal when the column is
classified. Names are matched against ``PERSONAL_NAME``; contents, when sampled, against e-mail and phone number
shapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from civiclake.errors import ConfigurationError

PII_LEVELS = ("direct", "indirect", "sensitive", "none")

# Column names that usually hold personal data (snake_case parts). A bare ``name`` is not among them: stations,
# products and communes have names too; a person's name is spelled out (``full_name``, ``customer_name``...).
PERSONAL_NAME = re.compile(
    r"(^|_)(e_?mail|mail|phone|mobile|telephone|fax|"
    r"(full|first|last|given|family|middle|maiden|user|display|contact|customer|person|client)_?name|"
    r"surname|owner|caller|address|street|birth(day|date)?|dob|ip_address|ip|ssn|iban|passport|login|"
    r"username)($|_)"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"^\s*(\+|00)?[0-9][0-9 ().-]{7,}[0-9]\s*$")


@dataclass(frozen=True)
class Finding:
    model: str
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.model}.{self.column}: {self.reason}, and no `meta: {{pii: ...}}` classifies it"


def personal_content(values: Iterable[Any]) -> str | None:
    """What personal data the values look like (an e-mail address, a phone number), or None."""
    for value in values:
        if not isinstance(value, str):
            continue
        if _EMAIL.search(value):
            return "its content holds e-mail addresses"
        if _PHONE.match(value) and sum(character.isdigit() for character in value) >= 9:
            return "its content holds phone numbers"
    return None


def staging_classification(manifest: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Staging model -> column -> its ``meta`` (empty when none), from a dbt manifest."""
    declared: dict[str, dict[str, dict[str, Any]]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and "staging" in node["fqn"]:
            declared[node["name"]] = {
                name.lower(): dict(column.get("meta") or {}) for name, column in node["columns"].items()
            }
    return declared


def unclassified_personal_columns(
    declared: Mapping[str, Mapping[str, Mapping[str, Any]]],
    exposed: Mapping[str, Mapping[str, Iterable[Any]]],
) -> list[Finding]:
    """Columns of staging models (``exposed``: model -> column -> sample values, maybe none) whose name or
    content looks personal and that the classification (``declared``, from ``staging_classification``) leaves
    without a ``pii`` level; and classified columns whose level is not one of ``PII_LEVELS``."""
    findings = []
    for model, columns in sorted(exposed.items()):
        for column, values in sorted(columns.items()):
            if column.startswith("_"):
                continue  # civiclake's lineage columns: paths, digests and times of the ingestion
            meta = declared.get(model, {}).get(column.lower(), {})
            level = meta.get("pii")
            if level is not None:
                if level not in PII_LEVELS:
                    findings.append(Finding(model, column, f"pii: {level!r} is not one of {', '.join(PII_LEVELS)}"))
                continue
            reason = "its name looks personal" if PERSONAL_NAME.search(column.lower()) else personal_content(values)
            if reason:
                findings.append(Finding(model, column, reason))
    return findings


@dataclass(frozen=True)
class Match:
    """A column of a source table holding the person's value: the subject's own value (no ``table``), or a value
    of the rows already found in another table (``table``'s column ``key``: the ids of their orders, their
    e-mail address)."""

    column: str
    table: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class ErasureScope:
    """How to find a subject's rows in one source table."""

    source: str
    table: str  # the source table's name in dbt
    bronze_table: str  # namespace.table in the Iceberg catalog
    subject: str
    matches: tuple[Match, ...]  # a row is the person's when any matches
    key: str = "id"  # the table's own key: the key sets kept for hard-delete detection list it
    silver_key: str | None = None  # what silver and gold call that key (``order_id``)

    @property
    def parents(self) -> set[str]:
        return {match.table for match in self.matches if match.table}


def _match(declaration: Mapping[str, Any]) -> Match:
    through = declaration.get("through") or {}
    return Match(declaration["column"], through.get("table"), through.get("key"))


def erasure_scopes(project_dir: Path) -> list[ErasureScope]:
    """Every source table of the dbt project with a ``privacy_erasure`` declaration, parents first."""
    scopes = []
    for path in sorted((project_dir / "models").rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for source in document.get("sources") or []:
            for table in source.get("tables") or []:
                erasure = (table.get("meta") or {}).get("privacy_erasure")
                if not erasure:
                    continue
                try:
                    scopes.append(
                        ErasureScope(
                            source=source["name"],
                            table=table["name"],
                            bronze_table=f"{source.get('schema', 'bronze')}.{table.get('identifier', table['name'])}",
                            subject=erasure["subject"],
                            matches=(_match(erasure), *(_match(also) for also in erasure.get("also") or [])),
                            key=erasure.get("key", "id"),
                            silver_key=erasure.get("silver_key"),
                        )
                    )
                except (KeyError, AttributeError, TypeError) as error:
                    raise ConfigurationError(
                        f"{path}: source table {table.get('name')!r} has a malformed privacy_erasure ({error})"
                    ) from None
    return _parents_first(scopes)


def _parents_first(scopes: list[ErasureScope]) -> list[ErasureScope]:
    ordered: list[ErasureScope] = []
    pending = list(scopes)
    while pending:
        ready = [scope for scope in pending if scope.parents <= {done.table for done in ordered}]
        if not ready:
            names = ", ".join(sorted(scope.table for scope in pending))
            raise ConfigurationError(
                f"privacy_erasure declarations refer to each other in a loop or to no table: {names}"
            )
        ordered += ready
        pending = [scope for scope in pending if scope not in ready]
    return ordered

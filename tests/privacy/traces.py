"""Searching a lakehouse for a person: in every table, every Iceberg snapshot and every file on disk."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog

from civiclake.lake.filesystem import LakeStorage

SHOPSTREAM = "postgres__shopstream__"


@dataclass(frozen=True)
class Person:
    user_id: int
    email: str
    name: str
    order_ids: frozenset[int]


def pick_person(dsn: str) -> Person:
    """A customer with a name, orders, events and a CRM contact: their data is in every ShopStream table."""
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT u.id, u.email, u.full_name FROM users u
                WHERE length(u.full_name) > 8
                  AND EXISTS (SELECT 1 FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.user_id = u.id)
                  AND EXISTS (SELECT 1 FROM events e WHERE e.user_id = u.id)
                  AND EXISTS (SELECT 1 FROM crm_contacts c WHERE c.user_id = u.id)
                ORDER BY u.id LIMIT 1
                """
            )
            user_id, email, name = cursor.fetchone()
            cursor.execute("SELECT id FROM orders WHERE user_id = %s", (user_id,))
            orders = frozenset(row[0] for row in cursor.fetchall())
    finally:
        connection.close()
    return Person(user_id, email, name, orders)


def _is_persons(table: pa.Table, person: Person, name: str) -> list[bool]:
    """Which rows are the person's: theirs by user id (``id`` in users), or lines of their orders."""
    columns = table.column_names
    mine = [False] * table.num_rows
    checks: list[tuple[str, Iterable[Any]]] = [("user_id", {person.user_id}), ("order_id", person.order_ids)]
    if name.endswith("users"):
        checks.append(("id", {person.user_id}))
    if name.endswith("__orders"):
        checks.append(("id", person.order_ids))
    for column, values in checks:
        if column in columns and pa.types.is_integer(table.schema.field(column).type):
            wanted = set(values)
            mine = [
                before or value in wanted for before, value in zip(mine, table.column(column).to_pylist(), strict=True)
            ]
    return mine


def bronze_counts_without(catalog: Catalog, person: Person) -> dict[str, int]:
    return _counts_without(catalog, ["bronze"], person, only=SHOPSTREAM)


def silver_and_gold_counts_without(catalog: Catalog, person: Person) -> dict[str, int]:
    return _counts_without(catalog, ["silver", "gold"], person, only="shopstream")


def _counts_without(catalog: Catalog, namespaces: list[str], person: Person, only: str) -> dict[str, int]:
    counts = {}
    for namespace in namespaces:
        for identifier in catalog.list_tables(namespace):
            name = ".".join(identifier)
            table = catalog.load_table(identifier)
            columns = set(table.schema().column_names)
            if only not in name or not columns & {"user_id", "order_id", "id"}:
                continue
            rows = table.scan(selected_fields=tuple(columns & {"user_id", "order_id", "id"})).to_arrow()
            counts[name] = sum(1 for mine in _is_persons(rows, person, name) if not mine)
    return counts


def _bounded(needle: str) -> re.Pattern[str]:
    # "eric.martin@x.fr" is not "frederic.martin@x.fr": a needle counts only as a whole token.
    return re.compile(rf"(?<![\w.%+-]){re.escape(needle)}(?![\w%+-])")


def _holds(values: Iterable[Any], needles: set[str]) -> bool:
    exact = len(needles) > 20  # thousands of e-mails: whole values; a few: anywhere in the text, as tokens
    patterns = [] if exact else [_bounded(needle) for needle in needles]
    for value in values:
        if isinstance(value, str) and (value in needles if exact else any(p.search(value) for p in patterns)):
            return True
    return False


def _string_columns_holding(table: pa.Table, needles: set[str]) -> list[str]:
    return [
        field.name
        for field in table.schema
        if (pa.types.is_string(field.type) or pa.types.is_large_string(field.type))
        and _holds(table.column(field.name).to_pylist(), needles)
    ]


def tables_holding(catalog: Catalog, namespaces: Iterable[str], needles: set[str]) -> dict[str, list[str]]:
    """Table -> its columns holding one of the needles, over every column of every table of the namespaces."""
    found = {}
    for namespace in namespaces:
        for identifier in catalog.list_tables(namespace):
            columns = _string_columns_holding(catalog.load_table(identifier).scan().to_arrow(), needles)
            if columns:
                found[".".join(identifier)] = columns
    return found


def files_holding(root: Path, needles: set[str]) -> list[str]:
    """Every file under ``root`` holding a needle: Parquet files by their decoded values, the others by bytes."""
    found = []
    patterns = [re.compile(_bounded(needle).pattern.encode()) for needle in needles]
    for path in sorted(item for item in root.rglob("*") if item.is_file()):
        data = path.read_bytes()
        in_bytes = any(pattern.search(data) for pattern in patterns)
        if in_bytes or (data[:4] == b"PAR1" and _string_columns_holding(pq.read_table(path), needles)):
            found.append(str(path.relative_to(root)))
    return found


def table_snapshots(catalog: Catalog, namespaces: Iterable[str]) -> dict[tuple[str, ...], dict[int, tuple[str, ...]]]:
    """Table -> snapshot id -> the data files it references."""
    found = {}
    for namespace in namespaces:
        for identifier in catalog.list_tables(namespace):
            table = catalog.load_table(identifier)
            found[identifier] = {
                snapshot.snapshot_id: tuple(
                    sorted(
                        entry.data_file.file_path
                        for manifest in snapshot.manifests(table.io)
                        for entry in manifest.fetch_manifest_entry(table.io)
                    )
                )
                for snapshot in table.metadata.snapshots
            }
    return found


def objects_holding(storage: LakeStorage, needles: set[str]) -> list[str]:
    """``files_holding`` over every object of a lake or warehouse storage (a MinIO bucket on the cluster)."""
    found = []
    patterns = [re.compile(_bounded(needle).pattern.encode()) for needle in needles]
    for relative in storage.list_files(""):
        data = storage.read_bytes(relative)
        in_bytes = any(pattern.search(data) for pattern in patterns)
        if in_bytes or (data[:4] == b"PAR1" and _string_columns_holding(pq.read_table(pa.BufferReader(data)), needles)):
            found.append(relative)
    return found

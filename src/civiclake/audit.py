"""Who read what on Trino: the query audit.

Trino's HTTP event listener POSTs one JSON document per completed query (``QueryCompletedEvent``) to the audit
receiver (``civiclake audit receive``). The receiver keeps, of each event, who ran the query, which tables and
columns it read (and which of them a row filter or mask limited), which table it wrote, when, how many rows, and how
it ended, and writes them as JSON lines into the lake's raw zone::

    <lake>/audit/trino/received_date=YYYY-MM-DD/<HHMMSS>-<uuid>.jsonl

``civiclake audit load`` appends the files not yet loaded to the Iceberg table ``meta.query_audit`` and applies the
retention (``CIVICLAKE__AUDIT__RETENTION_DAYS``): rows of queries that ended before the cutoff are deleted, the
table's earlier snapshots expired and their unreferenced files removed, and raw audit files of days before the
cutoff deleted, so nothing older than the retention can be read back.

The query text is not kept: it can hold personal data itself (``WHERE email = '...'``). Its SHA-256 is, so a query
someone hands over can be matched with its audit row.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow as pa

from civiclake.config import Settings
from civiclake.lake.filesystem import LakeStorage, lake_storage

AUDIT_DIR = "audit/trino"
TABLE = ("meta", "query_audit")
_TS = pa.timestamp("us", tz="UTC")

SCHEMA = pa.schema(
    [
        pa.field("query_id", pa.string(), nullable=False),
        pa.field("user", pa.string(), nullable=False),
        pa.field("principal", pa.string()),
        pa.field("groups", pa.list_(pa.string())),
        pa.field("source", pa.string()),
        pa.field("query_type", pa.string()),
        pa.field("state", pa.string(), nullable=False),
        pa.field("error_name", pa.string()),
        pa.field("tables_read", pa.list_(pa.string())),
        pa.field("table_written", pa.string()),
        pa.field("columns_read", pa.list_(pa.string())),
        pa.field("row_filtered_tables", pa.list_(pa.string())),
        pa.field("created_at", _TS),
        pa.field("started_at", _TS),
        pa.field("ended_at", _TS, nullable=False),
        pa.field("output_rows", pa.int64()),
        pa.field("read_rows", pa.int64()),
        pa.field("written_rows", pa.int64()),
        pa.field("query_sha256", pa.string()),
        pa.field("audit_file", pa.string(), nullable=False),
        pa.field("loaded_at", _TS, nullable=False),
    ]
)


def _instant(value: Any) -> str | None:
    """An event's time as ISO 8601 UTC: Trino writes instants as ISO text or as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, int | float | Decimal):
        moment = datetime.fromtimestamp(float(value), UTC)
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)


def _column_name(column: Any) -> str:
    # An input's columns are objects (their name, and the type in recent Trino versions) or, in older ones, names.
    return str(column.get("name", column.get("column")) if isinstance(column, dict) else column)


def audit_record(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the audit keeps of one ``QueryCompletedEvent``; None for anything else (created or split events)."""
    metadata, context = event.get("metadata") or {}, event.get("context") or {}
    if "queryId" not in metadata or "endTime" not in event:
        return None
    statistics = event.get("statistics") or {}
    inputs = (event.get("ioMetadata") or {}).get("inputs") or []
    tables_read = sorted({f"{i['catalogName']}.{i['schema']}.{i['table']}" for i in inputs})
    columns_read = sorted(
        f"{i['catalogName']}.{i['schema']}.{i['table']}.{_column_name(column)}"
        for i in inputs
        for column in i.get("columns") or []
    )
    filtered = sorted(
        {
            f"{t['catalog']}.{t['schema']}.{t['table']}"
            for t in metadata.get("tables") or []
            if t.get("filters") or any(c.get("mask") for c in t.get("columns") or [] if isinstance(c, dict))
        }
    )
    output = (event.get("ioMetadata") or {}).get("output") or {}
    written = f"{output['catalogName']}.{output['schema']}.{output['table']}" if output.get("table") else None
    failure = event.get("failureInfo") or {}
    query = metadata.get("query")
    return {
        "query_id": str(metadata["queryId"]),
        "user": str(context.get("user", "")),
        "principal": context.get("principal"),
        "groups": sorted(context.get("groups") or []),
        "source": context.get("source"),
        "query_type": context.get("queryType"),
        "state": str(metadata.get("queryState", "")),
        "error_name": (failure.get("errorCode") or {}).get("name"),
        "tables_read": tables_read,
        "table_written": written,
        "columns_read": columns_read,
        "row_filtered_tables": filtered,
        "created_at": _instant(event.get("createTime")),
        "started_at": _instant(event.get("executionStartTime")),
        "ended_at": _instant(event["endTime"]),
        "output_rows": _integer(statistics.get("outputRows")),
        "read_rows": _integer(statistics.get("totalRows")),
        "written_rows": _integer(statistics.get("writtenRows")),
        "query_sha256": hashlib.sha256(query.encode()).hexdigest() if isinstance(query, str) else None,
    }


# --- the receiver -------------------------------------------------------------------------------------------------


@dataclass
class AuditSpool:
    """Records received and not yet written; ``flush`` writes them as one JSON-lines file into the lake."""

    storage: LakeStorage
    pending: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.pending.append(record)

    def flush(self) -> str | None:
        with self.lock:
            records, self.pending = self.pending, []
        if not records:
            return None
        now = datetime.now(UTC)
        relative = f"{AUDIT_DIR}/received_date={now.date().isoformat()}/{now:%H%M%S}-{uuid.uuid4().hex}.jsonl"
        try:
            self.storage.write_bytes(relative, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode())
        except BaseException:
            with self.lock:  # kept for the next flush rather than lost
                self.pending[:0] = records
            raise
        return relative


class _Handler(BaseHTTPRequestHandler):
    spool: AuditSpool

    def do_POST(self) -> None:  # the name http.server dispatches to
        length = int(self.headers.get("Content-Length") or 0)
        try:
            event = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self.send_error(400, "the body is not JSON")
            return
        events = event if isinstance(event, list) else [event]
        for item in events:
            try:
                record = audit_record(item) if isinstance(item, dict) else None
            except (KeyError, TypeError, ValueError) as error:
                # Answered 400 so Trino's listener logs it too; the receiver's log says which event and why.
                query_id = (item.get("metadata") or {}).get("queryId") if isinstance(item, dict) else None
                sys.stderr.write(f"audit: event of query {query_id} not understood: {type(error).__name__}: {error}\n")
                sys.stderr.flush()
                self.send_error(400, "not a query completed event civiclake understands")
                return
            if record is not None:
                self.spool.add(record)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        # A readiness probe: the receiver answers.
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # one line per event is noise
        return


class AuditReceiver:
    """An HTTP server for Trino's HTTP event listener; its spool is flushed to the lake every ``flush_seconds``."""

    def __init__(self, storage: LakeStorage, host: str = "0.0.0.0", port: int = 8090, flush_seconds: float = 10.0):
        self.spool = AuditSpool(storage)
        handler = type("AuditHandler", (_Handler,), {"spool": self.spool})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.flush_seconds = flush_seconds
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def _flush_periodically(self) -> None:
        while not self._stopped.wait(self.flush_seconds):
            self.spool.flush()

    def serve_forever(self) -> None:
        flusher = threading.Thread(target=self._flush_periodically, name="audit-flush", daemon=True)
        flusher.start()
        try:
            self.server.serve_forever()
        finally:
            self._stopped.set()
            self.server.server_close()
            self.spool.flush()

    def shutdown(self) -> None:
        self.server.shutdown()


# --- loading and retention ----------------------------------------------------------------------------------------


@dataclass
class AuditLoad:
    files_loaded: int = 0
    rows_loaded: int = 0
    rows_deleted: int = 0
    snapshots_expired: int = 0
    files_removed: int = 0
    raw_files_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _file_day(relative: str) -> date | None:
    for part in relative.split("/"):
        if part.startswith("received_date="):
            return date.fromisoformat(part.removeprefix("received_date="))
    return None


def _rows(storage: LakeStorage, relative: str, loaded_at: str) -> list[dict[str, Any]]:
    rows = []
    for line in storage.read_bytes(relative).decode().splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append(
                {**{name: row.get(name) for name in SCHEMA.names}, "audit_file": relative, "loaded_at": loaded_at}
            )
    return rows


def _to_arrow(rows: Iterable[dict[str, Any]]) -> pa.Table:
    converted = []
    for row in rows:
        converted.append(
            {
                key: datetime.fromisoformat(value) if value is not None and SCHEMA.field(key).type == _TS else value
                for key, value in row.items()
            }
        )
    return pa.Table.from_pylist(converted, schema=SCHEMA)


def load_audit(settings: Settings, *, now: datetime | None = None) -> AuditLoad:
    """Append the raw audit files not yet in ``meta.query_audit``, then apply the retention."""
    from pyiceberg.exceptions import NoSuchTableError

    from civiclake.warehouse.catalog import open_catalog

    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.audit.retention_days)
    storage = lake_storage(settings)
    catalog = open_catalog(settings)
    catalog.create_namespace_if_not_exists(TABLE[0])
    try:
        table = catalog.load_table(TABLE)
    except NoSuchTableError:
        table = catalog.create_table_if_not_exists(TABLE, schema=SCHEMA)
    outcome = AuditLoad()

    loaded = set(table.scan(selected_fields=("audit_file",)).to_arrow().column("audit_file").to_pylist())
    rows: list[dict[str, Any]] = []
    for relative in storage.list_files(AUDIT_DIR):
        day = _file_day(relative)
        if day is not None and day < cutoff.date():
            storage.delete(relative)  # past the retention: never loaded again, and its bytes are gone
            outcome.raw_files_deleted += 1
            continue
        if relative in loaded or not relative.endswith(".jsonl"):
            continue
        rows.extend(_rows(storage, relative, now.isoformat()))
        outcome.files_loaded += 1
    if rows:
        table.append(_to_arrow(rows))
        outcome.rows_loaded = len(rows)
    outcome.rows_deleted, outcome.snapshots_expired, outcome.files_removed = _apply_retention(
        settings, catalog, table, cutoff
    )
    return outcome


def _apply_retention(settings: Settings, catalog: Any, table: Any, cutoff: datetime) -> tuple[int, int, int]:
    """Delete the rows of queries that ended before ``cutoff``; then no earlier snapshot or file may still serve
    them (the loader is the table's only writer)."""
    from pyiceberg.expressions import LessThan

    from civiclake.lake.filesystem import warehouse_storage
    from civiclake.warehouse.maintenance import delete_and_purge

    old = LessThan("ended_at", cutoff.isoformat())  # type: ignore[call-arg,arg-type,misc]  # pyiceberg's overloads
    purge = delete_and_purge(catalog, warehouse_storage(settings), table, old)
    return purge.rows_deleted, purge.snapshots_expired, purge.files_removed

"""What the sync and maintain commands report: the JSON summary written for their caller (``--summary-json``;
Airflow reads it as the task's XCom) and the maintenance table shown on the terminal.

The summary is small and stable: totals, the tables touched, the first errors. The full record of a sync stays
in ``meta.ingestions``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rich.table import Table

from civiclake.pipeline import SyncReport
from civiclake.redaction import redact_text
from civiclake.warehouse.maintenance import MaintenanceReport

# The variable the DAGs set: /airflow/xcom/return.json in a pod, a temporary file in local mode.
SUMMARY_VARIABLE = "CIVICLAKE_SUMMARY_JSON"
MAX_ERRORS = 20


def sync_summary(report: SyncReport) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for outcome in report.outcomes:
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    loaded = statuses.get("loaded", 0)
    failures = len(report.failed) + len(report.discovery_failures)
    errors = [
        {"dataset": outcome.dataset, "resource": outcome.resource, "error": redact_text(outcome.error)}
        for outcome in report.failed
    ]
    errors += [
        {"dataset": failure.reference, "error": redact_text(failure.error)} for failure in report.discovery_failures
    ]
    return {
        "command": "sync",
        "status": "success" if not failures else ("partial" if loaded or statuses.get("unchanged") else "failed"),
        "exit_code": report.exit_code,
        "batch_id": report.batch_id,
        "datasets": report.datasets,
        "resources": statuses,
        "rows": sum(outcome.rows for outcome in report.outcomes),
        "bytes": sum(outcome.bytes for outcome in report.outcomes),
        "tables": sorted({table for outcome in report.outcomes for table in outcome.tables}),
        "errors": errors[:MAX_ERRORS],
    }


def write_summary(path: Path | None, summary: dict[str, Any]) -> None:
    """Write atomically: a reader (the xcom sidecar) never sees half a file."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(summary, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(temporary, path)


def maintenance_table(report: MaintenanceReport) -> Table:
    table = Table(title=f"civiclake maintain {report.action} ({report.engine})")
    for column in ("table", "status", "files removed", "files added", "snapshots expired", "MB removed", "error"):
        table.add_column(column, justify="right" if column[0] in "fsM" else "left")
    for outcome in report.outcomes:
        table.add_row(
            outcome.table,
            outcome.status,
            str(outcome.files_removed),
            str(outcome.files_added),
            str(outcome.snapshots_expired),
            f"{outcome.bytes_removed / 1024 / 1024:.1f}",
            redact_text(outcome.error) or "",
        )
    return table

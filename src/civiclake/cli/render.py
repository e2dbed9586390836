"""How the command line shows runs, tables and statuses (rich for people, JSON for scripts)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from civiclake.catalog_views import DatasetStatus, TableInfo
from civiclake.pipeline import ProgressHooks, ResourceOutcome, SyncReport
from civiclake.sources.base import Resource

_STATUS_STYLE = {"loaded": "green", "unchanged": "dim", "failed": "bold red", "refused": "yellow"}


class RichProgress(ProgressHooks):
    """A progress bar per download, removed when the resource is done; a line per finished resource."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}", style="cyan"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.progress.stop()

    def resource_started(self, resource: Resource) -> Any:
        self._task = self.progress.add_task(resource.title[:50], total=resource.filesize)
        return lambda size: self.progress.advance(self._task, size)

    def resource_finished(self, outcome: ResourceOutcome) -> None:
        if self._task is not None:
            self.progress.remove_task(self._task)
            self._task = None
        style = _STATUS_STYLE.get(outcome.status, "")
        self.console.print(
            f"[{style}]{outcome.status:>9}[/] {outcome.dataset} / {outcome.resource}  {outcome.rows:,} rows"
        )


def sync_summary(report: SyncReport) -> Table:
    table = Table(title=f"Sync {report.batch_id}", title_justify="left")
    for column in ("dataset", "resource", "format", "rows", "status"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for outcome in report.outcomes:
        style = _STATUS_STYLE.get(outcome.status, "")
        table.add_row(
            outcome.dataset,
            outcome.resource,
            outcome.format or "",
            f"{outcome.rows:,}",
            f"[{style}]{outcome.status}[/]",
        )
    return table


def print_errors(console: Console, report: SyncReport) -> None:
    for failure in report.discovery_failures:
        console.print(f"[bold red]error[/] {failure.reference}: {failure.error}")
    for outcome in report.failed:
        console.print(f"[bold red]{outcome.status}[/] {outcome.error}")


def tables_table(tables: Sequence[TableInfo]) -> Table:
    table = Table(title="Iceberg tables", title_justify="left")
    for column in ("name", "rows", "source", "dataset_id", "resource_id", "snapshot", "updated_at"):
        table.add_column(column, justify="right" if column == "rows" else "left", overflow="fold")
    for info in tables:
        table.add_row(
            info.name, f"{info.rows:,}", info.source or "", info.dataset_id or "", info.resource_id or "",
            str(info.snapshot_id or ""), (info.updated_at or "")[:19].replace("T", " "),
        )  # fmt: skip
    return table


def status_table(statuses: Sequence[DatasetStatus]) -> Table:
    table = Table(title="Datasets", title_justify="left")
    for column in ("source", "dataset", "frequency", "last success", "rows", "fresh", "errors / reason"):
        table.add_column(column, justify="right" if column == "rows" else "left", overflow="fold")
    for status in statuses:
        fresh = {None: "-", True: "[bold red]late[/]", False: "[green]yes[/]"}[status.late]
        resource_errors = len(status.errors) - (status.reason in status.errors)
        notes = [escape(status.reason)] if status.reason else []
        notes += [f"{resource_errors} (see --json)"] if resource_errors else []
        table.add_row(
            status.source, status.title or status.dataset_id, status.frequency or "-",
            (status.last_success_at or "never")[:19].replace("T", " "),
            f"{status.rows:,}", fresh, "; ".join(notes),
        )  # fmt: skip
    return table


def query_output(columns: list[str], rows: list[tuple[Any, ...]], output_format: str) -> str | Table:
    if output_format == "json":
        return json.dumps(
            [dict(zip(columns, row, strict=True)) for row in rows], default=str, ensure_ascii=False, indent=2
        )
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue()
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    return table

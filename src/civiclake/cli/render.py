"""How the command line shows runs, tables and statuses (rich for people, JSON for scripts)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from civiclake.catalog_views import DatasetStatus, TableInfo
from civiclake.pipeline import ProgressHooks, ResourceOutcome, SyncReport
from civiclake.redaction import redact_text
from civiclake.sources.base import Resource

if TYPE_CHECKING:  # the runner imports dbt's and DuckDB's helpers: `civiclake tables` does not need them
    from civiclake.transform.runner import TransformReport

_STATUS_STYLE = {"loaded": "green", "unchanged": "dim", "failed": "bold red", "refused": "yellow"}
# dbt's node statuses, as the transform summary counts them
_DBT_OUTCOMES = {"success": "succeeded", "pass": "succeeded", "fail": "failed", "error": "failed", "warn": "warned"}
_OUTCOME_ORDER = {"succeeded": 0, "failed": 1, "warned": 2, "skipped": 3}
_OUTCOME_STYLE = {"succeeded": "green", "failed": "bold red", "warned": "yellow", "skipped": "yellow"}
_DBT_KINDS = {
    "model": ("model", "models"),
    "test": ("data test", "data tests"),
    "unit_test": ("unit test", "unit tests"),
    "seed": ("seed", "seeds"),
    "snapshot": ("snapshot", "snapshots"),
}


class RichProgress(ProgressHooks):
    """A progress bar per download, removed when the resource is done; one line per finished resource (its
    error on the next line), fitted to the console's width."""

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
        self._tasks: dict[str, Any] = {}  # resource id -> its bar: several download at once
        self._last_error: str | None = None

    def __enter__(self) -> RichProgress:
        # Download bars are for people: in a log (not a terminal) they would only leave blank lines.
        if self.console.is_terminal:
            self.progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.console.is_terminal:
            self.progress.stop()

    def resource_started(self, resource: Resource) -> Any:
        if not self.console.is_terminal:
            return None
        task = self.progress.add_task(fit(resource.title, 50), total=resource.filesize)
        self._tasks[resource.resource_id] = task
        return lambda size: self.progress.advance(task, size)

    def resource_finished(self, outcome: ResourceOutcome) -> None:
        task = self._tasks.pop(outcome.resource_id, None)
        if task is not None:
            self.progress.remove_task(task)
        self.console.print(resource_line(outcome, self.console.width), highlight=False)
        reason = _reason(outcome)
        if outcome.error:
            # A source that is down fails each of its tables for one reason: say it once, not once per table.
            same = reason == self._last_error
            text = "          the same error" if same else f"          {escape(redact_text(outcome.error))}"
            self.console.print(text, soft_wrap=True, highlight=False, style="dim" if same else None)
        self._last_error = reason


def _reason(outcome: ResourceOutcome) -> str | None:
    """An outcome's error without the resource's name in front (``dataset/title (id): reason``)."""
    if outcome.error is None:
        return None
    return outcome.error.partition(f"({outcome.resource_id}): ")[2] or outcome.error


def resource_line(outcome: ResourceOutcome, width: int) -> str:
    """``   loaded  csv      dataset / resource  1,234 rows`` in ``width`` columns (the names shortened)."""
    style = _STATUS_STYLE.get(outcome.status, "")
    rows = f"  {outcome.rows:,} rows" if outcome.rows or outcome.status == "loaded" else ""
    kind = f"{outcome.format:<8}" if outcome.format else ""
    name = fit(f"{outcome.dataset} / {outcome.resource}", width - 10 - len(kind) - len(rows))
    return f"[{style}]{outcome.status:>9}[/] {kind}{escape(name)}{rows}"


def sync_summary_line(report: SyncReport, seconds: float | None = None) -> str:
    """The sync in one line: resources by status, rows loaded, failures (each shown above, under its resource)."""
    statuses: dict[str, int] = {}
    for outcome in report.outcomes:
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    parts = [f"[{_STATUS_STYLE.get(status, '')}]{count} {status}[/]" for status, count in statuses.items()]
    loaded_rows = sum(outcome.rows for outcome in report.outcomes if outcome.status == "loaded")
    line = f"sync: {plural(len(report.outcomes), 'resource')}" + (f" ({', '.join(parts)})" if parts else "")
    line += f", {loaded_rows:,} rows loaded"
    if report.discovery_failures:
        line += f", [bold red]{plural(len(report.discovery_failures), 'dataset')} not found[/]"
    return line + (f" in {seconds:.1f} s" if seconds is not None else "")


def print_errors(console: Console, report: SyncReport) -> None:
    """Errors that belong to no resource (a resource's own error is printed under its line), and why a dataset
    loaded nothing."""
    for reason in report.idle_reasons:
        console.print(f"[yellow]nothing to load[/] {escape(reason)}", soft_wrap=True)
    for failure in report.discovery_failures:
        console.print(
            f"[bold red]error[/] {escape(failure.reference)}: {escape(redact_text(failure.error))}", soft_wrap=True
        )


def transform_summary(report: TransformReport) -> str:
    """How ``civiclake transform``, ``run`` and the demo end: what dbt built, what was published, the time."""
    head = f"dbt build on {report.target}"
    timing = f"{report.seconds:.1f} s (" + ", ".join(f"{p} {s:.1f} s" for p, s in report.phases.items()) + ")"
    if report.built_nothing:
        return f"{head}: nothing built, {timing}"
    if not report.counts:
        return f"{head}: [bold red]dbt could not run the project[/] (exit {report.dbt_exit_code}, see above), {timing}"
    kinds: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    for (kind, status), count in report.counts.items():
        kinds[kind] = kinds.get(kind, 0) + count
        outcome = _DBT_OUTCOMES.get(status, status)
        outcomes[outcome] = outcomes.get(outcome, 0) + count
    nodes = ", ".join(plural(count, *_DBT_KINDS.get(kind, (kind, kind))) for kind, count in sorted(kinds.items()))
    results = ", ".join(
        f"[{_OUTCOME_STYLE.get(outcome, '')}]{count} {outcome}[/]"
        for outcome, count in sorted(outcomes.items(), key=lambda item: (_OUTCOME_ORDER.get(item[0], 9), item[0]))
    )
    # Two lines: what dbt built, then what became of it and how long it took; each fits a terminal.
    second = f"  {timing}"
    if report.target == "duckdb":
        rows = sum(table.rows for table in report.published)
        second = f"  {plural(len(report.published), 'table')} published to Iceberg ({rows:,} rows); {timing}"
    return f"{head}: {nodes}: {results}\n{second}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    return f"{count:,} {singular if count == 1 else plural_form or singular + 's'}"


def fit(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters: its middle replaced by an ellipsis, both ends kept (a table
    name's schema and its last words tell it apart)."""
    width = max(width, 5)
    if len(text) <= width:
        return text
    tail = (width - 1) // 2
    return f"{text[: width - 1 - tail]}…{text[len(text) - tail :]}"


def tables_table(tables: Sequence[TableInfo], width: int = 120) -> Table:
    """One line per table in ``width`` columns: a name too long loses its middle (``--json`` has it whole, with
    the snapshot, dataset and resource ids)."""
    rows = [f"{info.rows:,}" for info in tables]
    sources = [info.source or "" for info in tables]
    others = _widest(rows, "rows") + _widest(sources, "source") + 16
    name_width = max(width - others - _table_frame(4), 20)
    table = Table(title="Iceberg tables", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("updated_at", no_wrap=True)
    for info, row_count, source in zip(tables, rows, sources, strict=True):
        updated = (info.updated_at or "")[:16].replace("T", " ")
        table.add_row(escape(fit(info.name, name_width)), row_count, source, updated)
    return table


def status_table(statuses: Sequence[DatasetStatus], width: int = 120) -> Table:
    """One line per dataset in ``width`` columns: long titles lose their middle (``--json`` has them whole)."""
    titles = [status.title or status.dataset_id for status in statuses]
    others = 8 + 10 + 16 + 10 + 5 + 16  # source, frequency, last success, rows, fresh, errors
    title_width = max(width - others - _table_frame(7), 20)
    table = Table(title="Datasets", title_justify="left")
    for column in ("source", "dataset", "frequency", "last success", "rows", "fresh", "errors / reason"):
        # One line per dataset; only a reason too long for the line folds under itself.
        reason = column == "errors / reason"
        table.add_column(column, justify="right" if column == "rows" else "left", no_wrap=not reason, overflow="fold")
    for status, title in zip(statuses, titles, strict=True):
        fresh = {None: "-", True: "[bold red]late[/]", False: "[green]yes[/]"}[status.late]
        resource_errors = len(status.errors) - (status.reason in status.errors)
        notes = [escape(status.reason)] if status.reason else []
        notes += [f"{resource_errors} (see --json)"] if resource_errors else []
        table.add_row(
            status.source, escape(fit(title, title_width)), status.frequency or "-",
            (status.last_success_at or "never")[:16].replace("T", " "),
            f"{status.rows:,}", fresh, "; ".join(notes),
        )  # fmt: skip
    return table


def _widest(values: Sequence[str], header: str) -> int:
    return max([len(header), *(len(value) for value in values)])


def _table_frame(columns: int) -> int:
    """Characters a rich table with a box and one space of padding each side spends outside its cells."""
    return 3 * columns + 1


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

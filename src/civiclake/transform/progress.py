"""How a dbt build is shown: counts while it runs, failures in full when it ends.

dbt runs with ``--log-format json``: each line of its output is one structured event (``info.name``,
``info.level``, ``data``), so nodes are counted from the events dbt fires when a node starts and when it ends,
never from its text. On a terminal the counts are a progress bar; elsewhere (CI, pipes, Airflow logs) they are
a line every ``every_nodes`` nodes or ``every_seconds`` seconds, whichever comes first. dbt's end-of-run report
of each failure (the node, its message, the compiled SQL's path) is printed whole, once; warnings and errors
that are not about a node (a bad profile, a deprecation) are printed as dbt wrote them; the rest (one START and
one PASS line per node) is left out: it is in dbt's own log file and its run results.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

# The events dbt fires when a node is done, whatever its kind (models, tests, seeds, snapshots, unit tests...).
NODE_DONE_EVENTS = frozenset(
    {
        "LogModelResult",
        "LogTestResult",
        "LogSeedResult",
        "LogSnapshotResult",
        "LogNodeResult",
        "LogNodeNoOpResult",
        "LogFunctionResult",
        "SkippingDetails",
    }
)
NODE_START_EVENT = "LogStartLine"
# dbt's end-of-run report: a failure's header, then its message, then where its compiled SQL is.
REPORT_HEADERS = {"RunResultFailure": "red", "RunResultWarning": "yellow"}
REPORT_DETAILS = frozenset({"RunResultError", "RunResultErrorNoMessage", "RunResultWarningMessage", "SQLCompiledPath"})
REPORT_DETAILS_EXTRA = frozenset({"CheckNodeTestFailure"})
# Warnings and errors already shown as counts, or repeated by the report above.
QUIET_EVENTS = NODE_DONE_EVENTS | {NODE_START_EVENT, "EndOfRunSummary", "StatsLine", "Formatting"}
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
# What dbt's resource types are called in the counts.
KIND_LABELS = {
    "model": ("model", "models"),
    "test": ("test", "tests"),
    "unit_test": ("unit test", "unit tests"),
    "seed": ("seed", "seeds"),
    "snapshot": ("snapshot", "snapshots"),
}


@dataclass
class FailureReport:
    """One failing (or warning) node as dbt's end-of-run report describes it."""

    header: str
    style: str
    details: list[str] = field(default_factory=list)


@dataclass
class DbtBuildProgress:
    """Reads dbt's JSON event lines (``feed``) and shows the build's progress on ``console``."""

    console: Console
    every_nodes: int = 100
    every_seconds: float = 10.0
    total: int | None = None
    done: int = 0
    done_by_kind: Counter[str] = field(default_factory=Counter)
    failures: int = 0
    skipped: int = 0
    reports: list[FailureReport] = field(default_factory=list)
    _progress: Progress | None = None
    _task: TaskID | None = None
    _started: float = field(default_factory=time.monotonic)
    _last_line_at: float = field(default_factory=time.monotonic)
    _last_line_done: int = 0

    def __enter__(self) -> DbtBuildProgress:
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("dbt build"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("dbt build", total=None, detail="")
        return self

    def __exit__(self, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        elif self.done != self._last_line_done:
            self._print_counts()
        self._print_reports()

    def feed(self, line: str) -> None:
        """One line of dbt's output: an event, or (a crash before logging started) plain text, shown as is."""
        try:
            event = json.loads(line)
            info, data = event["info"], event.get("data") or {}
        except (ValueError, TypeError, KeyError):
            if line.strip():
                self._print(escape(line))
            return
        name, level = info.get("name", ""), info.get("level", "")
        if name == NODE_START_EVENT:
            self.total = int(data.get("total") or 0) or self.total
        elif name in NODE_DONE_EVENTS:
            self._node_done(name, data)
        elif name in REPORT_HEADERS:
            self.reports.append(FailureReport(info.get("msg", "").strip(), REPORT_HEADERS[name]))
        elif name in REPORT_DETAILS or name in REPORT_DETAILS_EXTRA:
            message = info.get("msg", "").rstrip()
            if self.reports:
                self.reports[-1].details.append(message)
            elif name not in REPORT_DETAILS_EXTRA:
                self.reports.append(FailureReport(message.strip(), "red"))
        elif level in ("warn", "error") and name not in QUIET_EVENTS:
            self._print(f"[{'yellow' if level == 'warn' else 'red'}]{escape(info.get('msg', '').strip())}[/]")

    def counts_text(self) -> str:
        kinds = ", ".join(
            f"{count} {KIND_LABELS.get(kind, (kind, kind))[count != 1]}"
            for kind, count in sorted(self.done_by_kind.items())
        )
        failures = f"{self.failures} failed" + (f", {self.skipped} skipped" if self.skipped else "")
        return f"{kinds or 'no nodes'} done; {failures}"

    def _node_done(self, name: str, data: dict[str, Any]) -> None:
        node = data.get("node_info") or {}
        kind = node.get("resource_type") or data.get("resource_type") or "node"
        status = str(node.get("node_status") or data.get("status") or "").lower()
        self.done += 1
        self.total = int(data.get("total") or data.get("num_models") or 0) or self.total
        self.done_by_kind[kind] += 1
        if name == "SkippingDetails" or status == "skipped":
            self.skipped += 1
        elif status in FAILED_STATUSES:
            self.failures += 1
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.done, total=self.total, detail=self.counts_text())
        elif self.done - self._last_line_done >= self.every_nodes or (
            time.monotonic() - self._last_line_at >= self.every_seconds
        ):
            self._print_counts()

    def _print_counts(self) -> None:
        of_total = f"/{self.total}" if self.total else ""
        elapsed = time.monotonic() - self._started
        self.console.print(f"dbt build: {self.done}{of_total} nodes ({self.counts_text()}) after {elapsed:.0f} s")
        self._last_line_at, self._last_line_done = time.monotonic(), self.done

    def _print_reports(self) -> None:
        for report in self.reports:
            self.console.print(f"[{report.style}]{escape(report.header)}[/]", soft_wrap=True, highlight=False)
            for detail in report.details:
                for line in detail.splitlines():
                    # Paths and SQL must stay whole to be copied: never wrapped or cut.
                    self.console.print(f"  {escape(line.strip())}", soft_wrap=True, highlight=False)

    def _print(self, markup: str) -> None:
        self.console.print(markup, soft_wrap=True, highlight=False)

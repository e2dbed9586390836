"""The JSON summary `civiclake sync --summary-json` writes (the Airflow task's XCom): status, totals, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from civiclake.cli.reports import sync_summary, write_summary
from civiclake.pipeline import ResourceOutcome, SyncReport
from civiclake.sources.base import DiscoveryFailure


def outcome(status: str, rows: int = 0, error: str | None = None) -> ResourceOutcome:
    return ResourceOutcome(
        "datagouv", "gares", "d1", "Liste des gares", f"r-{status}", status, "csv", rows, rows * 10,
        ["bronze.datagouv__gares__liste_des_gares"] if rows else [], error,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("outcomes", "discovery", "status", "exit_code"),
    [
        ([outcome("loaded", 5), outcome("unchanged")], [], "success", 0),
        ([outcome("loaded", 5), outcome("failed", error="HTTP 503 from the server")], [], "partial", 1),
        ([outcome("refused", error="ZIP member outside its folder")], [], "failed", 1),
        ([], [DiscoveryFailure("datagouv", "542d130caaa9942b00d06dd4", "HTTP 410: deleted")], "failed", 1),
    ],
)
def test_the_summary_says_how_the_sync_went(
    outcomes: list[ResourceOutcome], discovery: list[DiscoveryFailure], status: str, exit_code: int
) -> None:
    report = SyncReport("batch-1", outcomes=outcomes, discovery_failures=discovery, datasets=1)
    summary = sync_summary(report)
    assert (summary["status"], summary["exit_code"]) == (status, exit_code)
    assert summary["rows"] == sum(item.rows for item in outcomes)
    assert len(summary["errors"]) == len(report.failed) + len(discovery)
    json.dumps(summary)  # JSON all the way down: it crosses into Airflow


def test_the_summary_is_written_whole(tmp_path: Path) -> None:
    target = tmp_path / "xcom" / "return.json"
    write_summary(target, {"status": "success", "rows": 3})
    assert json.loads(target.read_text()) == {"status": "success", "rows": 3}
    assert [path.name for path in target.parent.iterdir()] == ["return.json"], "no temporary file left behind"
    write_summary(None, {"ignored": True})

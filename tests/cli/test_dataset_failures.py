"""Datasets that fail as a whole (unknown to the API) or hold nothing to load are on record, with their reason,
in meta.ingestions and in ``civiclake status``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from civiclake.cli.main import cli
from civiclake.demo.mirror.server import MirrorServer
from civiclake.observability.metrics import datasets_of
from civiclake.pipeline import SyncReport

pytestmark = pytest.mark.integration

MISSING = "0000000000000000deadbeef"
DOCUMENTS_ONLY = "notices-seulement"


@pytest.fixture
def environment(tmp_path: Path, mirror: MirrorServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    mirror.add_dataset(
        {
            "id": DOCUMENTS_ONLY,
            "title": "Notices",
            "resources": [
                {"id": "dddddddd-0000-4000-8000-000000000010", "title": "Notice 2024", "format": "pdf"},
                {"id": "dddddddd-0000-4000-8000-000000000011", "title": "Notice 2025", "format": "pdf"},
                {"id": "dddddddd-0000-4000-8000-000000000012", "title": "Site", "format": "html"},
            ],
        },
        {
            "dddddddd-0000-4000-8000-000000000010": b"%PDF-1.4",
            "dddddddd-0000-4000-8000-000000000011": b"%PDF-1.4",
            "dddddddd-0000-4000-8000-000000000012": b"<html></html>",
        },
    )
    registry = tmp_path / "datasets.yaml"
    registry.write_text(f"datagouv:\n  datasets:\n    - id: {MISSING}\n    - id: {DOCUMENTS_ONLY}\n")
    home = tmp_path / "home"
    for name, value in {
        "CIVICLAKE_HOME": str(home),
        "CIVICLAKE__DATAGOUV__API_URL": mirror.api_url,
        "CIVICLAKE__REGISTRY__PATH": str(registry),
        "CIVICLAKE__HTTP__MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    return home


def run(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(arguments), obj={}, catch_exceptions=False)
    return result.exit_code, result.output


def test_a_missing_dataset_and_one_with_nothing_to_load_are_recorded_and_shown(environment: Path) -> None:
    code, output = run("sync")
    assert code == 1, output
    # The sync itself says why a dataset loaded nothing, by which rule, not just "0 resources".
    assert "nothing to load notices-seulement: every resource skipped: format 'pdf' is not tabular (2)" in " ".join(
        output.split()
    )

    code, output = run("sql", "SELECT dataset_id, resource_id, status, error FROM meta.ingestions", "--format", "json")
    assert code == 0, output
    rows = {row["dataset_id"]: row for row in json.loads(output)}
    assert set(rows) == {MISSING, DOCUMENTS_ONLY}
    assert rows[MISSING]["status"] == "failed" and "404" in rows[MISSING]["error"], rows[MISSING]
    assert MISSING in rows[MISSING]["error"]
    assert rows[DOCUMENTS_ONLY]["status"] == "skipped"
    assert rows[DOCUMENTS_ONLY]["error"] == (
        "every resource skipped: format 'pdf' is not tabular (2), format 'html' is not tabular (1)"
    )
    assert {row["resource_id"] for row in rows.values()} == {""}  # dataset-level rows

    code, output = run("status", "--json")
    assert code == 0, output
    statuses = {status["dataset_id"]: status for status in json.loads(output)}
    assert "404" in statuses[MISSING]["reason"] and statuses[MISSING]["errors"] == [rows[MISSING]["error"]]
    assert statuses[DOCUMENTS_ONLY]["reason"] == rows[DOCUMENTS_ONLY]["error"]
    assert statuses[DOCUMENTS_ONLY]["errors"] == []

    code, output = run("status")
    flat = " ".join(output.split())
    assert "every resource skipped: format 'pdf' is not tabular (2)" in flat, output
    assert "HTTP 404" in flat or "404" in flat


def test_a_dataset_that_recovers_no_longer_shows_its_old_reason(environment: Path, mirror: MirrorServer) -> None:
    assert run("sync")[0] == 1
    mirror.add_dataset(
        {"id": MISSING, "title": "Retrouvé", "resources": [{"id": "eeeeeeee-0000-4000-8000-000000000013",
                                                              "title": "Liste", "format": "csv"}]},
        {"eeeeeeee-0000-4000-8000-000000000013": b"code;nom\n01001;Ain\n"},
    )  # fmt: skip
    assert run("sync")[0] == 0

    code, output = run("status", "--json")
    assert code == 0, output
    statuses = {status["dataset_id"]: status for status in json.loads(output)}
    assert statuses[MISSING]["reason"] is None and statuses[MISSING]["errors"] == []
    assert statuses[MISSING]["rows"] == 1


def test_datasets_of_a_report_include_the_ones_that_failed_as_a_whole() -> None:
    from civiclake.sources.base import DiscoveryFailure

    report = SyncReport("b", discovery_failures=[DiscoveryFailure("datagouv", MISSING, "HTTP 404")])
    assert datasets_of(report) == {("datagouv", MISSING)}

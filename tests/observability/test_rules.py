"""Prometheus rules: promtool checks them, its unit tests cover every alert both ways, every alert has a runbook."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.observability.boards import alerts, rules
from tests.observability.conftest import PROMTOOL_TESTS, RULE_FILES, RUNBOOKS
from tests.observability.prometheus_servers import PROMTOOL, ensure_prometheus

RUNBOOK_BASE = "https://github.com/civiclake/civiclake/blob/main/docs/runbooks/"


@pytest.mark.integration
def test_promtool_checks_the_rule_files() -> None:
    ensure_prometheus()
    result = subprocess.run([PROMTOOL, "check", "rules", *map(str, RULE_FILES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_promtool_unit_tests_pass() -> None:
    ensure_prometheus()
    result = subprocess.run(
        [PROMTOOL, "test", "rules", PROMTOOL_TESTS.name], capture_output=True, text=True, cwd=PROMTOOL_TESTS.parent
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    tests = yaml.safe_load(PROMTOOL_TESTS.read_text())
    assert sorted(tests["rule_files"]) == sorted(f"../../../charts/civiclake/rules/{p.name}" for p in RULE_FILES)
    firing, quiet = set(), set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerts(RULE_FILES)}
    assert names == firing, names ^ firing
    assert names == quiet, names ^ quiet


def test_every_alert_has_summary_description_and_an_existing_runbook() -> None:
    names = [rule["alert"] for rule in alerts(RULE_FILES)]
    assert len(names) == len(set(names)) >= 5
    for rule in alerts(RULE_FILES):
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        assert annotations["runbook_url"] == f"{RUNBOOK_BASE}{rule['alert']}.md"
        runbook = RUNBOOKS / f"{rule['alert']}.md"
        assert runbook.is_file(), runbook
        text = runbook.read_text()
        assert text.startswith(f"# {rule['alert']}"), runbook
        for section in ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation"):
            assert section in text, (runbook, section)
        assert rule["labels"]["severity"] in ("warning", "critical")
    assert {path.stem for path in RUNBOOKS.glob("*.md")} == set(names), "a runbook without its alert"


def test_recording_rules_follow_the_level_metric_operation_convention() -> None:
    for rule in rules(RULE_FILES):
        if "record" in rule:
            level, metric, operation = rule["record"].split(":")
            assert level and metric.startswith("civiclake_") and operation, rule["record"]

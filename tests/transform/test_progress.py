"""dbt's JSON events shown as counts, with failures in full (events shaped as dbt 1.11 writes them)."""

from __future__ import annotations

import io
import json
import re

from rich.console import Console

from civiclake.transform.progress import DbtBuildProgress


def _event(name: str, level: str = "info", msg: str = "", **data: object) -> str:
    return json.dumps({"info": {"name": name, "level": level, "msg": msg}, "data": data})


def _node(kind: str, index: int, status: str, event: str = "LogTestResult") -> list[str]:
    node_info = {"resource_type": kind, "node_status": status, "unique_id": f"{kind}.civiclake.n{index}"}
    return [
        _event("LogStartLine", msg=f"{index} of 4 START", index=index, total=4, node_info=node_info),
        _event(event, msg=f"{index} of 4 {status.upper()}", index=index, total=4, node_info=node_info, status=status),
    ]


def test_a_log_gets_a_line_every_n_nodes_and_each_failure_in_full_at_the_end() -> None:
    output = io.StringIO()
    with DbtBuildProgress(Console(file=output, width=100), every_nodes=2, every_seconds=3600) as progress:
        lines = _node("model", 1, "success", "LogModelResult") + _node("test", 2, "pass") + _node("test", 3, "fail")
        lines += _node("test", 4, "pass")
        lines += [
            _event("RunResultFailure", "error", "Failure in test n3 (models/x.yml)"),
            _event("RunResultError", "error", "  Got 2 results, configured to fail if != 0"),
            _event("SQLCompiledPath", msg="  compiled code at /work/target/compiled/civiclake/models/x.yml/n3.sql"),
            _event("EndOfRunSummary", msg="Completed with 1 error"),
            "Traceback (most recent call last):",
        ]
        for line in lines:
            progress.feed(line)
    printed = [re.sub(r" after \d+ s$", "", line) for line in output.getvalue().splitlines()]
    assert printed == [
        "dbt build: 2/4 nodes (1 model, 1 test done; 0 failed)",
        "dbt build: 4/4 nodes (1 model, 3 tests done; 1 failed)",
        "Traceback (most recent call last):",  # not an event: shown as dbt wrote it
        "Failure in test n3 (models/x.yml)",
        "  Got 2 results, configured to fail if != 0",
        "  compiled code at /work/target/compiled/civiclake/models/x.yml/n3.sql",
    ]
    assert (progress.done, progress.total, progress.failures) == (4, 4, 1)

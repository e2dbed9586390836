"""Reading the dashboards and rules: every panel query, template variables filled in, metric names used."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

VARIABLE_VALUES = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "1s"}
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
    "inf", "nan",
}  # fmt: skip


def panel_queries(path: Path) -> Iterator[tuple[str, str, str]]:
    """(panel title, refId, expr) of every target of every panel."""
    board = json.loads(path.read_text())
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["refId"], target["expr"]


def variable_queries(path: Path) -> Iterator[str]:
    board = json.loads(path.read_text())
    for variable in board["templating"]["list"]:
        found = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["definition"])
        assert found, variable["definition"]
        yield found.group(1)


def fill_variables(expr: str) -> str:
    for name, value in VARIABLE_VALUES.items():
        expr = expr.replace(name, value)
    return re.sub(r"\$(\w+)", ".*", expr)


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads (functions, keywords, labels and grouping lists left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for found in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        token = found.group(0)
        following = text[found.end() :].lstrip()
        if following.startswith("(") or token.lower() in KEYWORDS:
            continue
        if found.start() > 0 and (text[found.start() - 1].isdigit() or text[found.start() - 1] == "."):
            continue  # the unit of a number (1e3) or a duration
        names.add(token)
    return names


def rules(rule_files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in rule_files:
        for group in yaml.safe_load(path.read_text())["groups"]:
            yield from group["rules"]


def alerts(rule_files: list[Path]) -> list[dict[str, Any]]:
    return [rule for rule in rules(rule_files) if "alert" in rule]

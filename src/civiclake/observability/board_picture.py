"""Draw a Grafana board as a PNG from a live Prometheus, for the docs (no Grafana server runs here).

It reads the board's own JSON: the grid positions, each panel's queries, the table transformations (merge,
rename), value mappings, units and thresholds. It draws stat, table, bar gauge and time series panels well
enough to show what a board looks like on real data; it is a picture for docs/, not a Grafana replacement.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Query = Callable[[str], list[dict[str, Any]]]
RangeQuery = Callable[[str, float, float, float], list[dict[str, Any]]]

GRID_COLUMNS = 24
CELL_WIDTH, CELL_HEIGHT = 0.75, 0.42  # inches per grid unit
COLOURS = {"green": "#56a64b", "red": "#e02f44", "orange": "#ff9830", "yellow": "#f2cc0c", "blue": "#3274d9"}
BACKGROUND, PANEL, TEXT, MUTED = "#111217", "#181b1f", "#ccccdc", "#8e8e99"


def render_board(
    board: dict[str, Any],
    query: Query,
    query_range: RangeQuery,
    destination: Path,
    variables: dict[str, str] | None = None,
    range_seconds: float = 900,
) -> None:
    """Evaluate every panel of ``board`` against Prometheus and write the picture to ``destination``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = {"__rate_interval": "1m", **(variables or {})}
    panels = board.get("panels", [])
    rows = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels), default=1)
    figure = plt.figure(figsize=(GRID_COLUMNS * CELL_WIDTH, rows * CELL_HEIGHT + 0.6), facecolor=BACKGROUND)
    figure.text(0.01, 1 - 0.25 / (rows * CELL_HEIGHT + 0.6), board.get("title", ""), color=TEXT, fontsize=15)
    height = rows * CELL_HEIGHT + 0.6
    now = time.time()
    for panel in panels:
        grid = panel["gridPos"]
        left = grid["x"] / GRID_COLUMNS
        bottom = 1 - (0.6 + (grid["y"] + grid["h"]) * CELL_HEIGHT) / height
        axes = figure.add_axes(
            (left + 0.004, bottom + 0.006, grid["w"] / GRID_COLUMNS - 0.008, grid["h"] * CELL_HEIGHT / height - 0.012)
        )
        axes.set_facecolor(PANEL)
        for spine in axes.spines.values():
            spine.set_color("#2c3235")
        axes.set_title(panel.get("title", ""), color=TEXT, fontsize=10, loc="left")
        exprs = [(t.get("refId", "A"), _fill(t["expr"], values), t.get("legendFormat", "")) for t in panel["targets"]]
        kind = panel["type"]
        if kind == "stat":
            _stat(axes, panel, query(exprs[0][1]))
        elif kind == "table":
            _table(axes, panel, {ref: query(expr) for ref, expr, _ in exprs})
        elif kind == "bargauge":
            _bars(axes, panel, query(exprs[0][1]), exprs[0][2])
        else:
            ranges = [(query_range(e, now - range_seconds, now, 15), legend) for _, e, legend in exprs]
            _series(axes, panel, ranges, now - range_seconds)
    destination.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(destination, dpi=80, facecolor=BACKGROUND)
    plt.close(figure)


def _fill(expr: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return variables.get(match.group(1) or match.group(2), ".*")

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def _threshold_colour(panel: dict[str, Any], value: float) -> str:
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    colour = "green"
    for step in steps:
        if step.get("value") is None or value >= step["value"]:
            colour = step["color"]
    return COLOURS.get(colour, colour)


def _format(value: float, unit: str | None) -> str:
    if math.isnan(value):
        return "-"
    if unit == "s":
        for size, suffix in ((86400, "d"), (3600, "h"), (60, "min")):
            if abs(value) >= size:
                return f"{value / size:.1f} {suffix}"
        return f"{value:.0f} s"
    if unit == "dateTimeAsIso":
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    if unit == "percentunit":
        return f"{value * 100:.0f}%"
    if unit == "bytes":
        for size, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= size:
                return f"{value / size:.1f} {suffix}"
        return f"{value:.0f} B"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _field(panel: dict[str, Any], name: str, column: str | None = None) -> Any:
    """A field setting (unit, noValue...) of ``column``: its override, else the panel's default."""
    config = panel.get("fieldConfig", {})
    for override in config.get("overrides", []):
        if override["matcher"].get("options") == column:
            for item in override["properties"]:
                if item["id"] == name:
                    return item["value"]
    return config.get("defaults", {}).get(name)


def _unit(panel: dict[str, Any], column: str | None = None) -> str | None:
    unit = _field(panel, "unit", column)
    return str(unit) if unit else None


def _shown(panel: dict[str, Any], value: float, column: str | None = None) -> str:
    """How Grafana writes a value: formatted in its unit, or the field's noValue text when there is none."""
    if math.isnan(value):
        return str(_field(panel, "noValue", column) or "-")
    return _format(value, _unit(panel, column))


def _mapping(panel: dict[str, Any], column: str, value: float) -> tuple[str, str] | None:
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override["matcher"].get("options") != column:
            continue
        for item in override["properties"]:
            if item["id"] != "mappings":
                continue
            for mapping in item["value"]:
                found = mapping.get("options", {}).get(f"{value:g}")
                if found:
                    return found.get("text", f"{value:g}"), COLOURS.get(found.get("color"), found.get("color", TEXT))
    return None


def _bare(axes: Any) -> None:
    axes.set_xticks([])
    axes.set_yticks([])


def _stat(axes: Any, panel: dict[str, Any], result: list[dict[str, Any]]) -> None:
    _bare(axes)
    value = float(result[0]["value"][1]) if result else math.nan
    colour = _threshold_colour(panel, value) if not math.isnan(value) else MUTED
    axes.text(0.5, 0.42, _shown(panel, value), color=colour, fontsize=24, ha="center", va="center")


def _table(axes: Any, panel: dict[str, Any], results: dict[str, list[dict[str, Any]]]) -> None:
    _bare(axes)
    renames: dict[str, str] = {}
    for transformation in panel.get("transformations", []):
        if transformation["id"] == "organize":
            renames = transformation["options"].get("renameByName", {})
    merged: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
    for ref, samples in results.items():
        for sample in samples:
            key = tuple(sorted((k, v) for k, v in sample["metric"].items() if k != "__name__"))
            merged.setdefault(key, {})[renames.get(f"Value #{ref}", ref)] = float(sample["value"][1])
    value_columns = [renames.get(f"Value #{ref}", ref) for ref in results]
    label_columns = sorted({label for key in merged for label, _ in key})
    header = [renames.get(label, label) for label in label_columns] + value_columns
    ordered = sorted(merged.items(), key=lambda item: (-item[1].get(value_columns[0], 0), item[0]))
    cells, colours = [], []
    for key, row in ordered:
        labels = dict(key)
        line, line_colours = [labels.get(label, "") for label in label_columns], [PANEL] * len(label_columns)
        for column in value_columns:
            value = row.get(column, math.nan)
            mapped = _mapping(panel, column, value)
            line.append(mapped[0] if mapped else _shown(panel, value, column))
            line_colours.append(mapped[1] if mapped else PANEL)
        cells.append(line)
        colours.append(line_colours)
    if not cells:
        axes.text(0.5, 0.5, "No data", color=MUTED, ha="center", va="center")
        return
    table = axes.table(cellText=cells, colLabels=header, cellColours=colours, loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (row, _), cell in table.get_celld().items():
        cell.set_edgecolor("#2c3235")
        cell.get_text().set_color(TEXT)
        if row == 0:
            cell.set_facecolor("#22252b")


def _legend(metric: dict[str, str], legend_format: str) -> str:
    if legend_format:
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), legend_format)
    return ", ".join(f"{k}={v}" for k, v in sorted(metric.items()) if k != "__name__")


def _bars(axes: Any, panel: dict[str, Any], result: list[dict[str, Any]], legend_format: str) -> None:
    samples = sorted(result, key=lambda s: float(s["value"][1]))
    names = [_legend(s["metric"], legend_format) for s in samples]
    values = [float(s["value"][1]) for s in samples]
    positions = range(len(values))
    axes.barh(positions, values, color=[_threshold_colour(panel, v) for v in values], height=0.7)
    for position, name, value in zip(positions, names, values, strict=True):
        axes.text(0, position, f" {name}: {_shown(panel, value)}", color=TEXT, fontsize=8, va="center")
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    if "max" in defaults:  # a bar gauge's scale is its field's min..max, as in Grafana
        axes.set_xlim(defaults.get("min", 0), defaults["max"])
    axes.xaxis.set_major_formatter(lambda tick, _: _format(tick, _unit(panel)))
    axes.set_yticks([])
    axes.tick_params(colors=TEXT, labelsize=8)


def _series(axes: Any, panel: dict[str, Any], results: list[tuple[list[dict[str, Any]], str]], start: float) -> None:
    axes.tick_params(colors=TEXT, labelsize=8)
    drawn = 0
    for samples, legend_format in results:
        for sample in samples:
            points = [(float(t), float(v)) for t, v in sample["values"]]
            # One time axis for every series (minutes since the start of the range), as Grafana draws them.
            minutes = [(t - start) / 60 for t, _ in points]
            axes.plot(minutes, [v for _, v in points], linewidth=1.5, marker=".")
            axes.annotate(
                _legend(sample["metric"], legend_format),
                (minutes[-1], points[-1][1]),
                color=MUTED,
                fontsize=7,
                va="bottom",
                ha="right",
            )
            drawn += 1
    axes.yaxis.set_major_formatter(lambda tick, _: _format(tick, _unit(panel)))
    axes.set_xlabel("minutes", color=MUTED, fontsize=8)
    if not drawn:
        axes.text(0.5, 0.5, "No data", color=MUTED, ha="center", va="center", transform=axes.transAxes)

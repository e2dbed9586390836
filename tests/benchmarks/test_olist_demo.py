"""The Olist benchmark's page: its figures and its verdicts against the bounds the unit tests used to assert."""

from __future__ import annotations

from benchmarks.olist_demo import medians, render_markdown
from benchmarks.report import Run


def figures(seconds: float) -> dict:
    return medians([Run(seconds, 100.0, cpu_seconds=seconds / 2), Run(seconds * 3, 120.0, cpu_seconds=1.0)])


def test_medians_take_the_middle_time_and_the_largest_peak() -> None:
    summary = medians([Run(3.0, 10.0, cpu_seconds=1.0), Run(1.0, 30.0, cpu_seconds=2.0), Run(2.0, 20.0)])
    assert (summary["median_seconds"], summary["median_cpu_seconds"], summary["peak_rss_mib"]) == (2.0, 1.5, 30.0)


def test_page_reports_each_target_met_or_not() -> None:
    result = {
        "date": "2026-12-07 21:00 UTC",
        "machine": {"cpus": 2, "python": "3.11.7", "load_start": 0.5},
        "rounds": 2,
        "generate": {
            "orders": 100_000,
            "bytes_written": 67_000_000,
            "civiclake": figures(12.0),
            "copy": figures(0.2),
            "ratio_to_copy": 60.0,
            "own_peak_mib": 55.0,
            "peak_rss_to_written": 0.86,
        },
        "landing": {
            "build": figures(0.5),
            "sync": figures(12.0),
            "total": figures(12.5),
            "duckdb": figures(1.0),
            "sync_ratio_to_duckdb": 12.0,
        },
    }
    page = render_markdown(result)
    assert "| 100,000 orders generated in under 30 s | 24.0 s | met |" in page
    assert "| generator's peak RSS under 1.2x its output | 0.86x | met |" in page
    assert "| demo landing zone built and synced in under 10 s | 25.0 s | **not met** |" in page

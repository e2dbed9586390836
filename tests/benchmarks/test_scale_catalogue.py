"""The catalogue scale benchmark's figures: growth, targets and the blocks it writes, from measured runs."""

from __future__ import annotations

from typing import Any

from benchmarks.scale_catalogue import growth, render_catalogue, render_parallel, targets


def run(seconds: float, rss: float, overhead: float, requests: int) -> dict[str, Any]:
    return {
        "run": "x datasets, first sync",
        "seconds": seconds,
        "cpu_seconds": seconds,
        "peak_rss_mib": rss,
        "resources": 300,
        "statuses": {"loaded": 297, "failed": 3},
        "requests": requests,
        "api_requests": requests // 2,
        "file_requests": requests - requests // 2,
        "overhead_ms_per_resource": overhead,
    }


def result(largest: int, rss: float) -> dict[str, Any]:
    catalogue = [
        {"size": 100, "first": run(20, 200, 21, 480), "noop": run(2, 200, 7, 185), "changed": run(2, 200, 7, 186)},
        {
            "size": largest,
            "first": run(180, rss, 60, 4800),
            "noop": run(8, rss, 3, 1840),
            "changed": run(9, rss, 3, 1850),
        },
    ]
    found: dict[str, Any] = {"date": "today", "catalogue": catalogue, "growth": growth(catalogue), "bench_seconds": 60}
    found["machine"] = {"cpus": 2, "cpu": "cpu", "memory_gib": 8.0, "load_start": 1.0, "load_end": 1.0}
    found["targets"] = targets(found)
    return found


def test_growth_is_per_dataset_and_rss_relative_to_the_smallest_size() -> None:
    grown = result(1000, 250)["growth"]
    assert grown["first"]["time_ratio"] == 9.0
    assert grown["first"]["per_dataset_time_ratio"] == 0.9
    assert grown["noop"]["rss_growth"] == 0.25


def test_targets_say_what_was_missed_and_what_was_not_measured() -> None:
    met = {item["target"].split(" <=")[0].split(" within")[0]: item["met"] for item in result(1000, 250)["targets"]}
    assert met == {"per-resource overhead": False, "no-op re-sync of 10,000 datasets": None, "peak RSS": False}
    at_size = {item["target"]: item["met"] for item in result(10 * 1000, 210)["targets"]}
    assert list(at_size.values()) == [False, True, True]


def test_blocks_show_every_run_and_the_verdicts() -> None:
    block = render_catalogue(result(1000, 250))
    assert block.count("\n| 1,000 |") == 3
    assert "| not measured at that size |" in block and "| **no** |" in block
    parallel = {"size": 300, "delay_seconds": 0.05, "runs": [{**run(100, 200, 20, 1444), "workers": 1}]}
    parallel["runs"][0].update(speedup=1.0, peak_in_flight=1)
    assert "| 1 | 100.0 | x1.0 |" in render_parallel({"date": "today", "parallel": parallel})

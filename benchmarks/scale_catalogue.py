"""`make bench-scale`, catalogue part: how a sync's cost grows with the number of datasets, and what parallel
downloads gain.

    python -m benchmarks.scale_catalogue [--sizes 1000,3000,10000] [--parallel-size 1000] [--delay 0.05]

For each size, the bundled mirror serves a seeded synthetic catalogue (civiclake.demo.mirror.synthetic: about four
resources per dataset, one a PDF notice that syncs skip, three failing resources in every hundred datasets). A
registry selects nine datasets in ten by id and the tenth by a search on a tag. Three `civiclake sync` runs follow,
each a child process: the first sync, a re-sync where nothing changed, and a re-sync after 1% of the datasets
changed one file. Each gives its wall time, peak RSS (wait4), the requests the mirror answered and the per-resource
overhead: wall time less the download and load seconds the run recorded in meta.ingestions, per resource the run
considered. These runs download one file at a time, so that download and load seconds do not overlap.

Then, on `--parallel-size` datasets served with `--delay` seconds of latency per request, first syncs with 1 and with
more concurrent downloads give the gain of downloading in parallel. Figures go to benchmarks/results/ and into the
`catalogue` and `parallel` blocks of docs/scalability.md. Nothing is asserted: times are measured, not tested.

How long: on two cores, a first sync costs about 0.2 to 0.3 s per resource, so the default sizes take many hours
(the first sync of 10,000 datasets alone at least 2.5 h); `--sizes 100,300 --parallel-size 300` takes about a
quarter of an hour, `--sizes 100,1000` about half an hour before the parallel runs.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from benchmarks.sections import write_section
from benchmarks.sync_throughput import log, machine_facts, run_child
from civiclake.demo.mirror.server import MirrorServer
from civiclake.demo.mirror.synthetic import SEARCH_SHARE, SEARCH_TAG, synthetic_dataset, synthetic_dataset_id

ROOT = Path(__file__).resolve().parents[1]
CHANGED_SHARE = 100  # one dataset in a hundred changes before the third run
TARGET_OVERHEAD_MS = 50.0
TARGET_NOOP_SECONDS = 30.0
TARGET_RSS_GROWTH = 0.20
# Where a no-op re-sync spends its time, for the cProfile of the largest size (cumulative seconds per function).
PROFILED = {
    "discover": "discovery: API calls (by id, a few at once; searches in pages)",
    "_get_dataset": "one dataset's description and its resources (on discovery threads)",
    "_start_resource": "per resource: names and the unchanged check",
    "assign_names": "sync state: table names of each resource",
    "for_source": "sync state: change markers of the source, read once",
    "append": "meta tables (one commit per table and run)",
    "__init__": "opening the catalog, lake and state",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,3000,10000", help="catalogue sizes, comma-separated")
    parser.add_argument("--parallel-size", type=int, default=1000, help="datasets of the parallel runs (0: none)")
    parser.add_argument("--parallel-workers", default="1,4,8", help="concurrent downloads compared")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds of latency per request, parallel runs")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile of the largest no-op re-sync")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "scale_catalogue.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "scalability.md")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",") if size]
    workers = [int(count) for count in arguments.parallel_workers.split(",") if count]
    if any(size < 1 or size > 10 * 1000 for size in sizes):
        parser.error("--sizes: each between 1 and 10000 (a search selects at most 1,000 datasets)")
    if arguments.delay < 0 or not workers or min(workers) < 1:
        parser.error("--delay must be zero or positive and --parallel-workers positive counts")

    started = time.monotonic()
    load_start = os.getloadavg()[0]
    arguments.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scale-", dir=arguments.work) as scratch:
        bench = Bench(Path(scratch), arguments.seed)
        catalogue = [
            bench.catalogue_size(size, profile=not arguments.no_profile and size == max(sizes)) for size in sizes
        ]
        parallel = (
            bench.parallel(arguments.parallel_size, workers, arguments.delay) if arguments.parallel_size else None
        )
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": arguments.seed,
        "catalogue": catalogue,
        "growth": growth(catalogue),
        "parallel": parallel,
        "bench_seconds": round(time.monotonic() - started, 1),
        "machine": machine_facts(load_start, Path(sys.executable)),
    }
    result["targets"] = targets(result)
    arguments.results.parent.mkdir(parents=True, exist_ok=True)
    arguments.results.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    write_section(arguments.doc, "catalogue", render_catalogue(result))
    if parallel:
        write_section(arguments.doc, "parallel", render_parallel(result))
    print(json.dumps(result["targets"], indent=2, ensure_ascii=False))


class Bench:
    def __init__(self, work: Path, seed: int) -> None:
        self.work = work
        self.seed = seed
        self.civiclake = str(Path(sys.executable).with_name("civiclake"))
        self.empty = work / "empty"
        self.empty.mkdir()

    def mirror(self, size: int, delay: float = 0.0) -> MirrorServer:
        mirror = MirrorServer(catalog_dir=self.empty, files_dir=self.empty, delay=delay).start()
        clock = time.monotonic()
        mirror.add_synthetic_catalogue(size, self.seed)
        log(f"mirror serves {size:,} synthetic datasets (built in {time.monotonic() - clock:.1f} s)")
        return mirror

    def registry(self, size: int) -> Path:
        """Nine datasets in ten by id, the tenth by a search on their tag."""
        path = self.work / f"registry-{size}.yaml"
        ids = [{"id": synthetic_dataset_id(self.seed, index)} for index in range(size) if index % SEARCH_SHARE]
        searched = len(range(0, size, SEARCH_SHARE))
        search = {"tags": [SEARCH_TAG], "max_datasets": max(searched, 1)}
        path.write_text(yaml.safe_dump({"datagouv": {"datasets": ids, "searches": [search]}}), encoding="utf-8")
        return path

    def env(self, home: Path, mirror: MirrorServer, registry: Path, downloads: int) -> dict[str, str]:
        return {
            **os.environ,
            "CIVICLAKE_HOME": str(home),
            "CIVICLAKE__DATAGOUV__API_URL": mirror.api_url,
            "CIVICLAKE__REGISTRY__PATH": str(registry),
            "CIVICLAKE__HTTP__MAX_CONCURRENT_DOWNLOADS": str(downloads),
            "CIVICLAKE__HTTP__MAX_CONNECTIONS_PER_HOST": str(max(downloads, 4)),
            "CIVICLAKE__HTTP__MAX_REQUESTS_PER_SECOND_PER_HOST": "0",
            # The mirror's HTTP 500 resources fail for good: two quick tries, not five with backoff.
            "CIVICLAKE__HTTP__MAX_ATTEMPTS": "2",
            "CIVICLAKE__HTTP__BACKOFF_INITIAL_SECONDS": "0.05",
            "CIVICLAKE__HTTP__BACKOFF_MAX_SECONDS": "0.1",
        }

    def sync(self, env: dict[str, str], mirror: MirrorServer, label: str) -> dict[str, Any]:
        summary_path = Path(env["CIVICLAKE_HOME"]).with_name("summary.json")
        before = len(mirror.requests)
        command = [self.civiclake, "sync", "--source", "datagouv", "--summary-json", str(summary_path)]
        run, _ = run_child(command, env, cwd=self.work, ok=(0, 1))  # 1: the broken resources failed, as meant
        summary = json.loads(summary_path.read_text())
        requests = mirror.requests[before:]
        download, load = self.recorded_seconds(env, summary["batch_id"])
        resources = sum(summary["resources"].values())
        figures = {
            "run": label,
            "seconds": run.seconds,
            "cpu_seconds": run.cpu_seconds,
            "peak_rss_mib": run.peak_rss_mib,
            "datasets": summary["datasets"],
            "resources": resources,
            "statuses": summary["resources"],
            "requests": len(requests),
            "api_requests": sum(1 for request in requests if request.path.startswith("/api/")),
            "file_requests": sum(1 for request in requests if request.path.startswith("/resources/")),
            "download_seconds": round(download, 3),
            "load_seconds": round(load, 3),
            "overhead_ms_per_resource": round(1000 * max(run.seconds - download - load, 0.0) / max(resources, 1), 2),
        }
        log(
            f"{label}: {run.seconds:.1f} s, {run.peak_rss_mib:.0f} MiB, {len(requests):,} requests, "
            f"{figures['overhead_ms_per_resource']} ms overhead per resource, {summary['resources']}"
        )
        return figures

    def recorded_seconds(self, env: dict[str, str], batch_id: str) -> tuple[float, float]:
        """Download and load seconds of a run, from meta.ingestions (download seconds are repeated on each part)."""
        query = (
            "SELECT coalesce(sum(d), 0) AS download, coalesce(sum(l), 0) AS load FROM ("
            "SELECT resource_id, max(download_seconds) AS d, sum(load_seconds) AS l FROM meta.ingestions "
            f"WHERE batch_id = '{batch_id}' GROUP BY resource_id)"
        )
        _, stdout = run_child([self.civiclake, "sql", query, "--format", "json"], env, cwd=self.work)
        (row,) = json.loads(stdout)
        return float(row["download"]), float(row["load"])

    def catalogue_size(self, size: int, profile: bool) -> dict[str, Any]:
        home = self.work / f"home-{size}" / "home"
        home.parent.mkdir()
        mirror = self.mirror(size)
        try:
            env = self.env(home, mirror, self.registry(size), downloads=1)
            runs = [self.sync(env, mirror, f"{size:,} datasets, first sync")]
            runs.append(self.sync(env, mirror, f"{size:,} datasets, nothing changed"))
            changed = list(range(CHANGED_SHARE // 2, size, CHANGED_SHARE))
            for index in changed:
                mirror.serve_synthetic(synthetic_dataset(self.seed, index, version=1))
            runs.append(self.sync(env, mirror, f"{size:,} datasets, {len(changed)} changed"))
            profiled = self.profile(env) if profile else None
        finally:
            mirror.stop()
            shutil.rmtree(home.parent, ignore_errors=True)
        first, noop, changed_run = runs
        return {"size": size, "first": first, "noop": noop, "changed": changed_run, "profile": profiled}

    def profile(self, env: dict[str, str]) -> dict[str, Any]:
        """cProfile of one more no-op re-sync, in a child: cumulative seconds of the functions in PROFILED."""
        output = self.work / "noop.prof"
        script = (
            "import cProfile, sys\n"
            "from civiclake.cli.main import main\n"
            "sys.argv = ['civiclake', 'sync', '--source', 'datagouv']\n"
            "profiler = cProfile.Profile()\n"
            "try:\n"
            "    profiler.runcall(main)\n"
            "except SystemExit:\n"
            "    pass\n"
            f"profiler.dump_stats({str(output)!r})\n"
        )
        log("profiling a no-op re-sync with cProfile")
        run, _ = run_child([sys.executable, "-c", script], env, cwd=self.work)
        stats = pstats.Stats(str(output))
        found: dict[str, float] = {}
        for (_, _, name), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
            if name in PROFILED:
                found[name] = max(found.get(name, 0.0), cumulative)
        return {
            "seconds": run.seconds,
            "functions": [
                {"function": name, "what": PROFILED[name], "seconds": round(found[name], 2)}
                for name in sorted(found, key=lambda item: -found[item])
            ],
        }

    def parallel(self, size: int, workers: Sequence[int], delay: float) -> dict[str, Any]:
        mirror = self.mirror(size, delay=delay)
        registry = self.registry(size)
        runs = []
        try:
            for count in workers:
                home = self.work / f"home-parallel-{count}" / "home"
                home.parent.mkdir()
                mirror.reset_peak()
                figures = self.sync(self.env(home, mirror, registry, downloads=count), mirror, f"{count} at once")
                figures["workers"] = count
                figures["peak_in_flight"] = mirror.peak_in_flight
                runs.append(figures)
                shutil.rmtree(home.parent, ignore_errors=True)
        finally:
            mirror.stop()
        base = runs[0]["seconds"]
        for figures in runs:
            figures["speedup"] = round(base / figures["seconds"], 2)
        return {"size": size, "delay_seconds": delay, "runs": runs}


def growth(catalogue: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """From the smallest size to the largest: how much more time per dataset, and memory, each run took."""
    if len(catalogue) < 2:
        return None
    small, large = catalogue[0], catalogue[-1]
    ratio = large["size"] / small["size"]
    found: dict[str, Any] = {"from": small["size"], "to": large["size"]}
    for run in ("first", "noop", "changed"):
        found[run] = {
            "time_ratio": round(large[run]["seconds"] / small[run]["seconds"], 2),
            "per_dataset_time_ratio": round(large[run]["seconds"] / small[run]["seconds"] / ratio, 2),
            "rss_growth": round(large[run]["peak_rss_mib"] / small[run]["peak_rss_mib"] - 1, 3),
            "requests_ratio": round(large[run]["requests"] / max(small[run]["requests"], 1), 2),
        }
    return found


def targets(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    catalogue = result["catalogue"]
    found = []
    worst = max(run["overhead_ms_per_resource"] for size in catalogue for run in (size["first"], size["changed"]))
    found.append(
        {"target": f"per-resource overhead <= {TARGET_OVERHEAD_MS:.0f} ms", "measured": f"{worst} ms (worst run)",
         "met": worst <= TARGET_OVERHEAD_MS}
    )  # fmt: skip
    largest = catalogue[-1]
    noop = largest["noop"]["seconds"]
    at_target = largest["size"] == 10 * 1000
    found.append(
        {
            "target": f"no-op re-sync of 10,000 datasets <= {TARGET_NOOP_SECONDS:.0f} s",
            "measured": f"{noop:.1f} s at {largest['size']:,} datasets",
            "met": (noop <= TARGET_NOOP_SECONDS) if at_target else None,  # None: not measured at that size
        }
    )
    if result["growth"]:
        rss = max(result["growth"][run]["rss_growth"] for run in ("first", "noop", "changed"))
        found.append(
            {"target": f"peak RSS within {TARGET_RSS_GROWTH:.0%} from the smallest to the largest size",
             "measured": f"{rss:+.0%} (worst run)", "met": rss <= TARGET_RSS_GROWTH}
        )  # fmt: skip
    return found


def render_catalogue(result: Mapping[str, Any]) -> str:
    machine = result["machine"]
    lines = [
        f"Measured {result['date']} on {machine['cpus']} x {machine['cpu']}, {machine['memory_gib']:.1f} GiB, by "
        f"`python -m benchmarks.scale_catalogue` ({result['bench_seconds'] / 60:.0f} min for this run; load average "
        f"{machine['load_start']:.1f} at its start, {machine['load_end']:.1f} at its end: wall times include waiting "
        "for the CPU other work held). One file downloaded at a time; overhead is wall time less recorded download "
        "and load seconds, per resource.",
        "",
        "| datasets | run | wall s | CPU s | peak RSS MiB | resources | requests (API / files) | overhead ms per "
        "resource | statuses |",
        "|---:|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for size in result["catalogue"]:
        for key in ("first", "noop", "changed"):
            run = size[key]
            statuses = ", ".join(f"{name} {count:,}" for name, count in sorted(run["statuses"].items()))
            lines.append(
                f"| {size['size']:,} | {run['run'].split(', ', 1)[1]} | {run['seconds']:.1f} "
                f"| {run['cpu_seconds']:.1f} "
                f"| {run['peak_rss_mib']:.0f} | {run['resources']:,} | {run['requests']:,} ({run['api_requests']:,} / "
                f"{run['file_requests']:,}) | {run['overhead_ms_per_resource']} | {statuses} |"
            )
    if result["growth"]:
        grown = result["growth"]
        lines += [
            "",
            f"Growth from {grown['from']:,} to {grown['to']:,} datasets (x{grown['to'] / grown['from']:g}):",
            "",
        ]
        lines += ["| run | wall time x | per dataset x | peak RSS | requests x |", "|---|---:|---:|---:|---:|"]
        for key, label in (("first", "first sync"), ("noop", "nothing changed"), ("changed", "1% changed")):
            item = grown[key]
            lines.append(
                f"| {label} | {item['time_ratio']} | {item['per_dataset_time_ratio']} | {item['rss_growth']:+.0%} "
                f"| {item['requests_ratio']} |"
            )
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for target in result["targets"]:
        met = {True: "yes", False: "**no**", None: "not measured at that size"}[target["met"]]
        lines.append(f"| {target['target']} | {target['measured']} | {met} |")
    profile = result["catalogue"][-1].get("profile")
    if profile:
        lines += [
            "",
            f"Where a no-op re-sync of {result['catalogue'][-1]['size']:,} datasets spends its time (cProfile, "
            f"cumulative, {profile['seconds']:.1f} s under the profiler; threads' own time is not counted):",
            "",
            "| function | what | seconds |",
            "|---|---|---:|",
        ]
        lines += [f"| `{item['function']}` | {item['what']} | {item['seconds']} |" for item in profile["functions"]]
    return "\n".join(lines)


def render_parallel(result: Mapping[str, Any]) -> str:
    parallel = result["parallel"]
    lines = [
        f"First sync of {parallel['size']:,} synthetic datasets served with {parallel['delay_seconds'] * 1000:.0f} ms "
        f"of latency per request (measured {result['date']}, `python -m benchmarks.scale_catalogue`):",
        "",
        "| downloads at once | wall s | speed-up | CPU s | peak RSS MiB | most requests open at once | statuses |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in parallel["runs"]:
        statuses = ", ".join(f"{name} {count:,}" for name, count in sorted(run["statuses"].items()))
        lines.append(
            f"| {run['workers']} | {run['seconds']:.1f} | x{run['speedup']} | {run['cpu_seconds']:.1f} "
            f"| {run['peak_rss_mib']:.0f} | {run['peak_in_flight']} | {statuses} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()

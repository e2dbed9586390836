"""`make bench`: civiclake sync into Iceberg bronze against a plain CSV->Parquet conversion, same file, same run.

The input is the largest real sample the project ships (caract-2023.csv, the 2023 road accidents file), repeated
to the size asked, served by the bundled data.gouv.fr mirror. Each round runs, in alternation and in child
processes: `civiclake sync` end to end (download, raw zone, two-pass read, Parquet, Iceberg commit, meta tables),
then pyarrow's streaming CSV reader writing Parquet (no types inferred beyond pyarrow's, no lineage, no commit).
Wall time and peak RSS (the OS accounting of each child) are reported as medians; figures go to
docs/performance.md and benchmarks/results/latest.json. Nothing here is asserted: times are measured, not tested.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from civiclake.demo.mirror.server import MirrorServer

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "civiclake" / "demo" / "mirror" / "files" / "caract-2023.csv"
RESOURCE_ID = "bench000-0000-4000-8000-000000000000"
BASELINE = """
import sys, pyarrow.csv as csv, pyarrow.parquet as pq
reader = csv.open_csv(sys.argv[1], parse_options=csv.ParseOptions(delimiter=","))
with pq.ParquetWriter(sys.argv[2], reader.schema) as writer:
    for batch in reader:
        writer.write_batch(batch)
"""


@dataclass
class Measure:
    seconds: float
    peak_rss_mb: float


def build_input(directory: Path, repeat: int) -> tuple[Path, int]:
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    header, body = lines[0], b"".join(lines[1:])
    path = directory / "caract-bench.csv"
    with path.open("wb") as handle:
        handle.write(header)
        for _ in range(repeat):
            handle.write(body)
    return path, (len(lines) - 1) * repeat


def run_child(command: list[str], env: dict[str, str]) -> Measure:
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {stderr[-2000:]}")
    return Measure(elapsed, usage.ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="copies of the sample's rows (30 ~ 110 MB)")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="civiclake-bench-") as scratch:
        work = Path(scratch)
        csv_path, rows = build_input(work, arguments.repeat)
        size_mb = csv_path.stat().st_size / 1e6
        civiclake = str(Path(sys.executable).with_name("civiclake"))
        sync_runs, baseline_runs = [], []
        with MirrorServer() as mirror:
            mirror.add_dataset(
                {"id": "bench", "resources": [{"id": RESOURCE_ID, "title": "caract bench", "format": "csv"}]},
                {RESOURCE_ID: csv_path.read_bytes()},
            )
            for round_number in range(arguments.rounds):
                env = {
                    **os.environ,
                    "CIVICLAKE_HOME": str(work / f"home-{round_number}"),
                    "CIVICLAKE__DATAGOUV__API_URL": mirror.api_url,
                    "CIVICLAKE__DATAGOUV__MAX_RESOURCE_BYTES": str(10**12),
                }
                sync_runs.append(run_child([civiclake, "sync", "--dataset", "bench"], env))
                baseline_runs.append(
                    run_child([sys.executable, "-c", BASELINE, str(csv_path), str(work / "baseline.parquet")], env)
                )
                print(f"round {round_number + 1}: sync {sync_runs[-1]}, pyarrow {baseline_runs[-1]}", flush=True)

    def summary(runs: list[Measure]) -> dict[str, float]:
        seconds = statistics.median(run.seconds for run in runs)
        return {
            "median_seconds": round(seconds, 3),
            "mb_per_second": round(size_mb / seconds, 1),
            "rows_per_second": round(rows / seconds),
            "peak_rss_mb": round(max(run.peak_rss_mb for run in runs), 1),
        }

    result = {
        "input": {"file": "caract-2023.csv", "repeat": arguments.repeat, "mb": round(size_mb, 1), "rows": rows},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rounds": arguments.rounds,
        "civiclake_sync": summary(sync_runs),
        "pyarrow_csv_to_parquet": summary(baseline_runs),
        "raw_runs": {"sync": [asdict(r) for r in sync_runs], "pyarrow": [asdict(r) for r in baseline_runs]},
    }
    ratio = result["civiclake_sync"]["mb_per_second"] / result["pyarrow_csv_to_parquet"]["mb_per_second"]
    result["sync_throughput_ratio_to_pyarrow"] = round(ratio, 2)
    (ROOT / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks" / "results" / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    write_report(result)
    print(json.dumps({k: v for k, v in result.items() if k != "raw_runs"}, indent=2))


def write_report(result: dict) -> None:
    sync, baseline = result["civiclake_sync"], result["pyarrow_csv_to_parquet"]
    rows = "\n".join(
        f"| {name} | {m['median_seconds']} | {m['mb_per_second']} | {m['rows_per_second']:,} | {m['peak_rss_mb']} |"
        for name, m in (("`civiclake sync` → Iceberg bronze", sync), ("pyarrow CSV → Parquet", baseline))
    )
    text = f"""# Performance

Measured by `make bench` ({Path(__file__).name}); figures from the last run, on {result["machine"]["cpus"]} cores.
Input: the real `caract-2023.csv` (road accidents 2023) repeated {result["input"]["repeat"]} times:
{result["input"]["mb"]} MB, {result["input"]["rows"]:,} rows. Medians of {result["rounds"]} alternating rounds;
peak RSS is the largest of the child process's own accounting.

| what | seconds | MB/s | rows/s | peak RSS (MB) |
|---|---|---|---|---|
{rows}

civiclake's throughput is {result["sync_throughput_ratio_to_pyarrow"]} times pyarrow's here. The sync does more work
than the baseline: it downloads the file over HTTP, hashes it, stores it in the raw zone with its manifest, reads it
twice (types are inferred over every row, so a code column is never turned into numbers by a sample), adds the
lineage columns, commits to Iceberg and writes `meta` rows.

Reproduce: `make bench` (or `.venv/bin/python -m benchmarks.sync_throughput --repeat 30 --rounds 3`).
"""
    (ROOT / "docs" / "performance.md").write_text(text)


if __name__ == "__main__":
    main()

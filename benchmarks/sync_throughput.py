"""`make bench`: `civiclake sync` into Iceberg bronze against DuckDB, polars, pyarrow, pandas and dlt, same file.

    python -m benchmarks.sync_throughput [--size 1GiB] [--rounds 3] [--contenders-python .venv-bench/bin/python]

The harness generates a messy French CSV (benchmarks/messy_csv.py, seeded), serves it from disk through the
bundled data.gouv.fr mirror, and runs, round after round and in a rotating order, each contender in its own
child process: `civiclake sync` end to end (download, raw zone, type inference over every row, Parquet with
lineage, Iceberg commit, meta tables) and the plain converters of benchmarks/contenders.py. It also measures a
no-op re-sync (bytes served by the mirror are counted), a re-sync of 100 unchanged datasets, civiclake on the
cp1252 variant of the file, its peak RSS on a smaller file (memory must not grow with the input), and profiles
one sync with py-spy. Wall times and the OS's peak-RSS accounting of each child (`wait4`) go to
benchmarks/results/latest.json and docs/performance.md. Nothing is asserted: times are measured, not tested.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.messy_csv import GeneratedFile, parse_size, write_messy_csv
from benchmarks.report import CIVICLAKE, Run
from civiclake.demo.mirror.server import MirrorServer

ROOT = Path(__file__).resolve().parents[1]
PLAIN_CONTENDERS = ("duckdb", "polars", "pyarrow", "pandas", "dlt-parquet", "dlt-iceberg")
STAMP = "20260101-000000"
# Functions whose inclusive share of the sync's samples says where its time goes.
PROFILED_FUNCTIONS = {
    "HttpClient.download": "download (hashing and writing run on other threads)",
    "RawZone.store": "keep the file in the raw zone (a hard link)",
    "CsvPart._read_sample": "first block read by pyarrow (header, sample)",
    "_check_whole_file": "polars: types settled over every row (when the sample leaves one open)",
    "_has_lone_carriage_return": "row-structure scan",
    "_reference_row_count": "pyarrow row-structure pass",
    "BronzeLoader._sink": "polars: check the sample's types, convert, add lineage, write Parquet",
    "BronzeLoader._commit": "Iceberg commit",
    "MetaTables.append": "meta tables",
    "_find_and_load": "imports",
}
RESYNC_FUNCTIONS = {
    "DatagouvConnector._get_dataset": "catalogue API: the dataset and its resources",
    "SyncState.assign_names": "sync state: table names of each resource",
    "SyncState.for_source": "sync state: change markers",
    "SyncPipeline.__init__": "opening the catalog, lake and state",
    "MetaTables.append": "meta tables (one commit per run)",
    "_find_and_load": "imports",
}


@dataclass(frozen=True)
class Served:
    """A file the mirror serves as one dataset's only resource."""

    dataset: str
    resource_id: str
    file: GeneratedFile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"), help="input size (default 1GiB)")
    parser.add_argument("--small-size", type=parse_size, default=parse_size("256MiB"), help="for the RSS comparison")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--contenders", default=",".join(PLAIN_CONTENDERS), help="comma-separated, or none")
    parser.add_argument("--contenders-python", type=Path, default=Path(sys.executable))
    parser.add_argument("--datasets", type=int, default=100, help="unchanged datasets re-synced at once")
    parser.add_argument("--no-cp1252", action="store_true", help="skip the cp1252 variant")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "latest.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md")
    arguments = parser.parse_args()
    contenders = [name for name in arguments.contenders.split(",") if name and name != "none"]
    unknown = set(contenders) - set(PLAIN_CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders: {sorted(unknown)}")

    # Children run in other folders: every path given is made absolute (not resolved: a venv's python is a link).
    arguments.contenders_python = arguments.contenders_python.absolute()
    arguments.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-", dir=arguments.work) as scratch:
        result = Harness(Path(scratch), arguments, contenders).run()
    arguments.results.parent.mkdir(parents=True, exist_ok=True)
    arguments.results.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    arguments.doc.write_text(report.render_markdown(result))
    print(json.dumps({key: result[key] for key in ("civiclake_ratio", "targets")}, indent=2, ensure_ascii=False))


class Harness:
    def __init__(self, work: Path, arguments: argparse.Namespace, contenders: list[str]) -> None:
        self.work = work
        self.arguments = arguments
        self.contenders = contenders
        self.files = work / "files"
        self.files.mkdir()
        self.civiclake = str(Path(sys.executable).with_name("civiclake"))
        self.mirror: MirrorServer

    def run(self) -> dict[str, Any]:
        arguments = self.arguments
        load_start = os.getloadavg()[0]
        log(f"generating {arguments.size:,} bytes of messy CSV (and its variants)")
        main_file = self.generate("messy.csv", arguments.size, "utf-8")
        small_file = self.generate("messy-small.csv", arguments.small_size, "utf-8")
        cp1252_file = None if arguments.no_cp1252 else self.generate("messy-cp1252.csv", arguments.size, "cp1252")
        empty_catalog = self.work / "catalog"
        empty_catalog.mkdir()
        with MirrorServer(catalog_dir=empty_catalog, files_dir=self.files) as self.mirror:
            main = self.serve("bench-messy", main_file)
            small = self.serve("bench-messy-small", small_file)
            cp1252 = self.serve("bench-messy-cp1252", cp1252_file) if cp1252_file else None
            tiny = [self.serve(f"bench-tiny-{index:03d}", self.tiny_file(index)) for index in range(arguments.datasets)]
            runs, noop, phases = self.rounds(main, cp1252)
            small_runs = [self.sync_once(small)[0] for _ in range(arguments.rounds)]
            many = self.resync_many(tiny, profile=not arguments.no_profile) if tiny else None
            profile = None
            if not arguments.no_profile:
                profile = self.profile([main.dataset], self.work / "home-profile", PROFILED_FUNCTIONS)
                shutil.rmtree(self.work / "home-profile", ignore_errors=True)
        result = self.assemble(main_file, runs, noop, phases, small_file, small_runs, many, profile)
        result["machine"] = machine_facts(load_start, arguments.contenders_python)
        return result

    # --- inputs ---

    def generate(self, name: str, size: int, encoding: str) -> GeneratedFile:
        return write_messy_csv(self.files / name, size, seed=self.arguments.seed, encoding=encoding)

    def tiny_file(self, index: int) -> GeneratedFile:
        path = self.files / f"tiny-{index:03d}.csv"
        path.write_text(f"code_commune;population\n{index:05d};{index * 10}\n2A004;{index}\n", encoding="utf-8")
        return GeneratedFile(path, 2, path.stat().st_size, "utf-8")

    def serve(self, dataset: str, file: GeneratedFile) -> Served:
        return serve_file(self.mirror, dataset, file)

    # --- runs ---

    def rounds(
        self, main: Served, cp1252: Served | None
    ) -> tuple[dict[str, list[Run]], list[dict[str, Any]], list[dict[str, float]]]:
        names = [CIVICLAKE, *self.contenders]
        if cp1252 is not None:
            names += ["civiclake-cp1252", "pyarrow-cp1252"]
        runs: dict[str, list[Run]] = {name: [] for name in names}
        noop: list[dict[str, Any]] = []
        phases: list[dict[str, float]] = []
        for number in range(self.arguments.rounds):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:  # a rotating order: no contender always runs first
                if name == CIVICLAKE:
                    run, home = self.sync_once(main, keep_home=True)
                    phases.append(self.phases(home, run))
                    noop.append(self.noop_resync(main, home))
                    shutil.rmtree(home)
                elif name == "civiclake-cp1252":
                    assert cp1252 is not None
                    run = self.sync_once(cp1252)[0]
                elif name == "pyarrow-cp1252":
                    assert cp1252 is not None
                    run = self.convert("pyarrow", cp1252.file, "cp1252")
                else:
                    run = self.convert(name, main.file, "utf-8")
                runs[name].append(run)
                log(f"round {number + 1} {name}: {run.seconds:.2f} s, {run.peak_rss_mib:.0f} MiB, {run.rows} rows")
        return runs, noop, phases

    def convert(self, name: str, file: GeneratedFile, encoding: str) -> Run:
        out = self.work / f"out-{name}"
        command = [str(self.arguments.contenders_python), "-m", "benchmarks.contenders", name, str(file.path)]
        try:
            run, stdout = run_child([*command, str(out), "--encoding", encoding], dict(os.environ), cwd=ROOT)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        return Run(run.seconds, run.peak_rss_mib, int(stdout.split()[-1]), run.cpu_seconds)

    def sync_env(self, home: Path) -> dict[str, str]:
        return {
            **os.environ,
            "CIVICLAKE_HOME": str(home),
            "CIVICLAKE__DATAGOUV__API_URL": self.mirror.api_url,
            "CIVICLAKE__DATAGOUV__MAX_RESOURCE_BYTES": str(10**13),
        }

    def sync(self, home: Path, datasets: Sequence[str]) -> tuple[Run, dict[str, Any]]:
        summary = home.with_name(home.name + "-summary.json")
        command = [self.civiclake, "sync", "--summary-json", str(summary)]
        for dataset in datasets:
            command += ["--dataset", dataset]
        run, _ = run_child(command, self.sync_env(home), cwd=self.work)
        found = json.loads(summary.read_text())
        summary.unlink()
        return run, found

    def sync_once(self, served: Served, keep_home: bool = False) -> tuple[Run, Path]:
        home = self.work / f"home-{served.dataset}"
        shutil.rmtree(home, ignore_errors=True)
        run, summary = self.sync(home, [served.dataset])
        rows = int(summary["rows"])
        if not keep_home:
            shutil.rmtree(home)
        return Run(run.seconds, run.peak_rss_mib, rows, run.cpu_seconds), home

    def noop_resync(self, served: Served, home: Path) -> dict[str, Any]:
        before = len(self.mirror.requests)
        run, summary = self.sync(home, [served.dataset])
        served_now = self.mirror.requests[before:]
        return {
            "seconds": round(run.seconds, 3),
            "statuses": statuses_of(summary),
            "requests": len(served_now),
            "file_bytes": sum(request.bytes_sent for request in served_now if request.path.startswith("/resources/")),
            "api_bytes": sum(request.bytes_sent for request in served_now if request.path.startswith("/api/")),
        }

    def resync_many(self, tiny: list[Served], profile: bool) -> dict[str, Any]:
        home = self.work / "home-many"
        datasets = [served.dataset for served in tiny]
        log(f"first sync of {len(tiny)} small datasets")
        _, first = self.sync(home, datasets)
        loaded = statuses_of(first).get("loaded", 0)
        seconds, file_bytes, statuses = [], [], collections.Counter[str]()
        for _ in range(self.arguments.rounds):
            before = len(self.mirror.requests)
            run, summary = self.sync(home, datasets)
            seconds.append(round(run.seconds, 3))
            file_bytes.append(
                sum(r.bytes_sent for r in self.mirror.requests[before:] if r.path.startswith("/resources/"))
            )
            statuses.update(statuses_of(summary))
            log(f"re-sync of {len(tiny)} unchanged datasets: {run.seconds:.2f} s")
        # The same command for one unchanged dataset: process start, imports, catalog and state opening.
        one = sorted(self.sync(home, datasets[:1])[0].seconds for _ in range(self.arguments.rounds))
        profiled = self.profile(datasets, home, RESYNC_FUNCTIONS) if profile else None
        shutil.rmtree(home)
        return {
            "datasets": len(tiny),
            "first_sync_loaded": loaded,
            "seconds": seconds,
            "median_seconds": sorted(seconds)[len(seconds) // 2],
            "max_file_bytes": max(file_bytes),
            "statuses": dict(statuses),
            "startup_seconds": one[len(one) // 2],
            "profile": profiled,
        }

    def phases(self, home: Path, run: Run) -> dict[str, float]:
        """Download and load seconds as the sync recorded them in meta.ingestions; the rest of the wall time."""
        command = [self.civiclake, "sql", "SELECT download_seconds, load_seconds FROM meta.ingestions", "--format"]
        _, stdout = run_child([*command, "json"], self.sync_env(home), cwd=self.work)
        (row,) = [row for row in json.loads(stdout) if row["load_seconds"] is not None]
        download, load = float(row["download_seconds"]), float(row["load_seconds"])
        return {"total": run.seconds, "download": download, "load": load}

    def profile(self, datasets: Sequence[str], home: Path, functions: Mapping[str, str]) -> dict[str, Any] | None:
        """py-spy's samples of one `civiclake sync` of ``datasets`` in ``home``, summed per function."""
        py_spy = self.arguments.contenders_python.with_name("py-spy")
        if not py_spy.exists():
            log(f"no py-spy at {py_spy}: no profile")
            return None
        raw = self.work / "profile.txt"
        # --idle: the main thread waiting on polars' native threads (GIL released) is where the load's time is.
        command = [str(py_spy), "record", "--idle", "--rate", "100", "--format", "raw", "--output", str(raw), "--"]
        command += [self.civiclake, "sync"]
        for dataset in datasets:
            command += ["--dataset", dataset]
        log(f"profiling a sync of {len(datasets)} dataset(s) with py-spy")
        run_child(command, self.sync_env(home), cwd=self.work)
        return summarise_profile(raw.read_text().splitlines(), functions)

    # --- result ---

    def assemble(
        self,
        main_file: GeneratedFile,
        runs: dict[str, list[Run]],
        noop: list[dict[str, Any]],
        phases: list[dict[str, float]],
        small_file: GeneratedFile,
        small_runs: list[Run],
        many: dict[str, Any] | None,
        profile: dict[str, Any] | None,
    ) -> dict[str, Any]:
        size, rows = main_file.size_bytes, main_file.rows
        summaries = {name: report.summarise(found, size, rows) for name, found in runs.items()}
        cp1252 = {name: summaries.pop(name) for name in ("civiclake-cp1252", "pyarrow-cp1252") if name in summaries}
        contenders = {name: figures for name, figures in summaries.items()}
        others = {name: figures for name, figures in contenders.items() if name != CIVICLAKE}
        small = report.summarise(small_runs, small_file.size_bytes, small_file.rows)
        result: dict[str, Any] = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "rounds": self.arguments.rounds,
            "input": {
                "seed": self.arguments.seed,
                "size_bytes": size,
                "size_label": size_label(self.arguments.size),
                "rows": rows,
            },
            "contenders": contenders,
            "civiclake_ratio": report.ratios_to(contenders[CIVICLAKE], others),
            "cp1252": cp1252,
            "memory_scaling": {
                "small_label": size_label(self.arguments.small_size),
                "small_peak_rss_mib": small["peak_rss_mib"],
                "large_peak_rss_mib": contenders[CIVICLAKE]["peak_rss_mib"],
                "growth": report.rss_growth(small["peak_rss_mib"], contenders[CIVICLAKE]["peak_rss_mib"]),
                "small_runs": small["runs"],
            },
            "noop_resync": {
                "runs": noop,
                "median_seconds": sorted(item["seconds"] for item in noop)[len(noop) // 2],
                "max_file_bytes": max(item["file_bytes"] for item in noop),
                "max_requests": max(item["requests"] for item in noop),
            },
            "resync_many": many,
            "phases": median_phases(phases),
            "profile": profile,
        }
        if not many:
            result.pop("resync_many")
        result["targets"] = report.evaluate_targets(result)
        return result


def median_phases(phases: list[dict[str, float]]) -> dict[str, Any] | None:
    if not phases:
        return None
    total = sorted(item["total"] for item in phases)[len(phases) // 2]
    download = sorted(item["download"] for item in phases)[len(phases) // 2]
    load = sorted(item["load"] for item in phases)[len(phases) // 2]
    rest = max(total - download - load, 0.0)
    return {
        "total": round(total, 3),
        "parts": {
            "download over HTTP (sha256, sha1 and the write to disk on other threads meanwhile)": round(download, 3),
            "load: read, type, write Parquet, commit (all of loader.load)": round(load, 3),
            "the rest: start and imports, raw-zone copy, detection, meta tables": round(rest, 3),
        },
        "one_core_seconds": round(rest, 3),  # the rest runs on the main thread, nothing beside it
    }


def summarise_profile(lines: Sequence[str], functions: Mapping[str, str]) -> dict[str, Any]:
    """Inclusive share of py-spy's samples (raw, collapsed stacks) of the main thread spent in each function."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if not any(frame.startswith("<module> (civiclake") or "cli/main.py" in frame for frame in frames):
            continue  # another thread, or the interpreter before civiclake's code
        count = int(count_text)
        total += count
        names = {frame.split(" (", 1)[0] for frame in frames}
        for function in functions:
            if function in names:
                counts[function] += count
    shares = [
        {"function": function, "what": functions[function], "share": round(counts[function] / total, 3)}
        for function in functions
        if counts[function]
    ]
    return {"samples": total, "functions": sorted(shares, key=lambda item: -item["share"])}


def statuses_of(summary: Mapping[str, Any]) -> dict[str, int]:
    """Resources per status (loaded, unchanged...) in a `civiclake sync --summary-json` file."""
    return dict(summary["resources"])


def serve_file(mirror: MirrorServer, dataset: str, file: GeneratedFile) -> Served:
    """Register a dataset whose one resource is ``file``, served from disk with its size and checksum."""
    resource_id = hashlib.sha1(dataset.encode()).hexdigest()[:32]
    resource = {
        "id": resource_id,
        "title": file.path.stem,
        "format": "csv",
        "url": f"https://static.data.gouv.fr/resources/{dataset}/{STAMP}/{file.path.name}",
        "last_modified": "2026-01-01T00:00:00+00:00",
        "filesize": file.size_bytes,
        "checksum": {"type": "sha1", "value": file_sha1(file.path)},
    }
    mirror.add_dataset({"id": dataset, "title": dataset, "resources": [resource]})
    return Served(dataset, resource_id, file)


def run_child(command: list[str], env: dict[str, str], cwd: Path, ok: tuple[int, ...] = (0,)) -> tuple[Run, str]:
    """Run a child to completion: its wall time, its own peak RSS and CPU time (wait4), its standard output;
    an exit code not in ``ok`` raises."""
    # The previous children's files go to disk now, not while this one runs: a sync leaves its raw file (1 GiB)
    # in dirty pages, which the kernel would otherwise write back, with its own CPU, during a later child.
    os.sync()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if process.returncode not in ok:
        raise RuntimeError(f"{' '.join(command[:6])} ... exited with {process.returncode}:\n{stderr[-3000:]}")
    cpu = round(usage.ru_utime + usage.ru_stime, 3)
    return Run(round(elapsed, 3), round(usage.ru_maxrss / 1024, 1), cpu_seconds=cpu), stdout


def file_sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as handle:
        while chunk := handle.read(16 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def size_label(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} bytes"


def machine_facts(load_start: float, contenders_python: Path) -> dict[str, Any]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory_kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": memory_kib / 1024**2,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "civiclake_versions": versions(Path(sys.executable), ["polars", "pyarrow", "pyiceberg", "duckdb"]),
        "contender_versions": versions(contenders_python, ["duckdb", "polars", "pyarrow", "pandas", "dlt"]),
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
    }


def versions(python: Path, packages: list[str]) -> dict[str, str]:
    script = (
        "import importlib.metadata as m, json, sys\n"
        "found = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try: found[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: found[name] = 'absent'\n"
        "print(json.dumps(found))\n"
    )
    completed = subprocess.run([str(python), "-c", script, *packages], capture_output=True, text=True, check=True)
    return dict(json.loads(completed.stdout))


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()

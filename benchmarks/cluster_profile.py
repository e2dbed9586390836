"""`make bench` (second part): what the cluster profile costs against the local one, measured in one run.

    python -m benchmarks.cluster_profile [--size 1GiB] [--rounds 3] [--query-rounds 5]

The servers are `civiclake dev up`'s (PostgreSQL, MinIO, Trino, configured from the Helm chart). Three figures:

1. The S3 cost of a sync: the same 1 GiB messy CSV (benchmarks/messy_csv.py) synced by `civiclake sync` into a
   local lakehouse and into MinIO with the PostgreSQL catalog, rounds alternating, a fresh lakehouse (bucket and
   catalog database) each time. Target: MinIO within 1.3x of local disk.
2. The dbt build of the whole project: `civiclake demo` fills two lakehouses with the same four sources (one per
   profile), then `civiclake transform -- --full-refresh` rebuilds every model on DuckDB and on Trino, rounds
   alternating.
3. Five typical analyst queries on gold, on DuckDB (in process, over the published Iceberg tables) and on Trino:
   one warm-up, then the median of ``--query-rounds`` runs each; both engines' answers are compared.

Each command runs in its own child process; wall times, CPU seconds and peak RSS come from `wait4`. Figures go to
benchmarks/results/cluster.json and docs/performance-cluster.md. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.messy_csv import parse_size, write_messy_csv
from benchmarks.report import Run
from benchmarks.sync_throughput import log, machine_facts, run_child, serve_file, size_label
from civiclake.config import load_settings
from civiclake.demo.mirror.server import MirrorServer
from civiclake.servers.stack import ClusterServers, running_cluster

ROOT = Path(__file__).resolve().parents[1]
SYNC_TARGET_RATIO = 1.3
ANALYST_QUERIES = {
    "revenue by month and country (ShopStream)": """
        SELECT cast(date_trunc('month', order_date) AS date) AS month, shipping_country, sum(net_amount_eur) AS revenue
        FROM gold.fct_order_items WHERE is_revenue GROUP BY 1, 2 ORDER BY 1, 2""",
    "top customers by lifetime value (ShopStream)": """
        SELECT customer_id, country_code, customer_segment, lifetime_value_eur
        FROM gold.dim_customers ORDER BY lifetime_value_eur DESC, customer_id LIMIT 20""",
    "24h resolution rate by priority (incidents)": """
        SELECT priority, sum(incidents_opened) AS opened, sum(incidents_measurable) AS measurable
        FROM gold.mart_incident_resolution_24h GROUP BY priority ORDER BY priority""",
    "busiest days (Olist)": """
        SELECT order_date, total_orders, total_revenue FROM gold.gold_daily_sales
        ORDER BY total_orders DESC, order_date LIMIT 10""",
    "stations with the most travellers in 2022 (data.gouv.fr)": """
        SELECT s.station_uic_code, s.travellers FROM gold.fct_station_ridership AS s
        WHERE s.calendar_year = 2022 ORDER BY s.travellers DESC NULLS LAST, s.station_uic_code LIMIT 10""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"), help="sync input size (default 1GiB)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the sync comparison")
    parser.add_argument("--build-rounds", type=int, default=2, help="rounds of the full dbt rebuild")
    parser.add_argument("--query-rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "cluster.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance-cluster.md")
    arguments = parser.parse_args()
    arguments.work.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cluster-", dir=arguments.work) as scratch:
        work = Path(scratch)
        log("starting PostgreSQL, MinIO and Trino (civiclake dev up's launcher)")
        with running_cluster(work / "servers", progress=log) as cluster:
            bench = ClusterBench(work, cluster, arguments)
            result = {
                "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "trino": cluster.trino.install.version,
                "sync": bench.sync_cost(),
                "build": bench.build_cost(),
            }
            result["queries"] = bench.query_latency()
    result["machine"] = machine_facts(load_start, Path(sys.executable))
    arguments.results.parent.mkdir(parents=True, exist_ok=True)
    arguments.results.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    arguments.doc.write_text(render_markdown(result))
    print(json.dumps({"sync_ratio": result["sync"]["ratio"], "build_ratio": result["build"]["ratio"]}, indent=2))


class ClusterBench:
    def __init__(self, work: Path, cluster: ClusterServers, arguments: argparse.Namespace) -> None:
        self.work = work
        self.cluster = cluster
        self.arguments = arguments
        self.civiclake = str(Path(sys.executable).with_name("civiclake"))
        self.local_home = work / "demo-local"
        self.cluster_home = work / "demo-cluster"

    def local_env(self, home: Path) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("CIVICLAKE", "TRINO_", "DBT_"))}
        return {**clean, "CIVICLAKE_HOME": str(home)}

    def cluster_env(self, home: Path, lakehouse: str | None = None) -> dict[str, str]:
        """The cluster profile; with ``lakehouse``, a fresh bucket and catalog database of that name."""
        env = {**self.local_env(home), **self.cluster.environment}
        if lakehouse is not None:
            self.cluster.minio.create_bucket(lakehouse)
            self.cluster.postgres.create_database(lakehouse)
            env["CIVICLAKE__S3__BUCKET"] = lakehouse
            env["CIVICLAKE__CATALOG__URI"] = self.cluster.postgres.sqlalchemy_url(lakehouse)
        return env

    # --- 1. a sync to MinIO against a sync to local disk ---

    def sync_cost(self) -> dict[str, Any]:
        files = self.work / "files"
        files.mkdir()
        log(f"generating {size_label(self.arguments.size)} of messy CSV")
        generated = write_messy_csv(files / "messy.csv", self.arguments.size, seed=self.arguments.seed)
        empty_catalog = self.work / "catalog"
        empty_catalog.mkdir()
        runs: dict[str, list[Run]] = {"local": [], "minio": []}
        with MirrorServer(catalog_dir=empty_catalog, files_dir=files) as mirror:
            served = serve_file(mirror, "bench-messy", generated)
            for number in range(self.arguments.rounds):
                order = ["local", "minio"] if number % 2 == 0 else ["minio", "local"]
                for where in order:
                    home = self.work / f"sync-{where}-{number}"
                    env = (
                        self.local_env(home)
                        if where == "local"
                        else self.cluster_env(home, f"bench{uuid.uuid4().hex[:10]}")
                    )
                    env |= {
                        "CIVICLAKE__DATAGOUV__API_URL": mirror.api_url,
                        "CIVICLAKE__DATAGOUV__MAX_RESOURCE_BYTES": str(10**13),
                    }
                    run, _ = run_child([self.civiclake, "sync", "--dataset", served.dataset], env, cwd=self.work)
                    runs[where].append(run)
                    log(f"round {number + 1} sync to {where}: {run.seconds:.2f} s, {run.peak_rss_mib:.0f} MiB")
        local, minio = _summary(runs["local"]), _summary(runs["minio"])
        return {
            "size_bytes": generated.size_bytes,
            "rows": generated.rows,
            "local": local,
            "minio": minio,
            "ratio": round(minio["median_seconds"] / local["median_seconds"], 3),
            "target_ratio": SYNC_TARGET_RATIO,
        }

    # --- 2. the dbt build of the whole project on each engine ---

    def build_cost(self) -> dict[str, Any]:
        log("civiclake demo on the local profile (four sources, dbt on DuckDB)")
        demo_local, _ = run_child([self.civiclake, "demo"], self.local_env(self.local_home), cwd=self.work)
        log("civiclake demo on the cluster profile (the same sources, dbt on Trino)")
        demo_cluster, _ = run_child([self.civiclake, "demo"], self.cluster_env(self.cluster_home), cwd=self.work)
        runs: dict[str, list[Run]] = {"duckdb": [], "trino": []}
        for number in range(self.arguments.build_rounds):
            order = ["duckdb", "trino"] if number % 2 == 0 else ["trino", "duckdb"]
            for engine in order:
                env = self.local_env(self.local_home) if engine == "duckdb" else self.cluster_env(self.cluster_home)
                command = [self.civiclake, "transform", "--", "--full-refresh"]
                run, _ = run_child(command, env, cwd=self.work)
                runs[engine].append(run)
                log(f"round {number + 1} full dbt build on {engine}: {run.seconds:.1f} s")
        duckdb, trino = _summary(runs["duckdb"]), _summary(runs["trino"])
        nodes = _node_counts(self.cluster_home / "dbt" / "target" / "run_results.json")
        return {
            "demo_seconds": {"duckdb": demo_local.seconds, "trino": demo_cluster.seconds},
            "duckdb": duckdb,
            "trino": trino,
            "nodes": nodes,
            "ratio": round(trino["median_seconds"] / duckdb["median_seconds"], 3),
        }

    # --- 3. analysts' queries on gold ---

    def query_latency(self) -> dict[str, Any]:
        from civiclake.warehouse.catalog import open_catalog
        from civiclake.warehouse.duck import connect

        settings = load_settings(environ=self.local_env(self.local_home))
        duck = connect(settings, open_catalog(settings))
        trino = self.cluster.trino.connect(user="civiclake-bench")

        def on_duckdb(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in duck.execute(sql).fetchall()]

        def on_trino(sql: str) -> list[tuple[Any, ...]]:
            cursor = trino.cursor()
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]

        figures = {}
        for title, sql in ANALYST_QUERIES.items():
            duck_seconds, duck_rows = _timed(on_duckdb, sql, self.arguments.query_rounds)
            trino_seconds, trino_rows = _timed(on_trino, sql, self.arguments.query_rounds)
            figures[title] = {
                "duckdb_median_ms": round(statistics.median(duck_seconds) * 1000, 1),
                "trino_median_ms": round(statistics.median(trino_seconds) * 1000, 1),
                "rows": len(trino_rows),
                "same_answer": _normalised(duck_rows) == _normalised(trino_rows),
            }
            if not figures[title]["same_answer"]:
                differing = [pair for pair in zip(_normalised(duck_rows), _normalised(trino_rows), strict=False)]
                first = next((pair for pair in differing if pair[0] != pair[1]), None)
                figures[title]["first_difference"] = {"duckdb": first[0], "trino": first[1]} if first else None
            log(
                f"{title}: DuckDB {figures[title]['duckdb_median_ms']} ms, Trino {figures[title]['trino_median_ms']} ms"
            )
        trino.close()
        return figures


def _timed(
    run: Callable[[str], list[tuple[Any, ...]]], sql: str, rounds: int
) -> tuple[list[float], list[tuple[Any, ...]]]:
    rows = run(sql)  # warm-up: metadata and file caches, Trino's plan of the first query
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        rows = run(sql)
        seconds.append(time.perf_counter() - started)
    return seconds, rows


def _normalised(rows: list[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    """Rows comparable across engines: numbers rounded to 6 significant digits, dates and times as ISO text."""

    def cell(value: Any) -> str:
        if isinstance(value, float) or type(value).__name__ == "Decimal":
            return f"{float(value):.6g}"
        if hasattr(value, "isoformat"):
            return str(value.isoformat()).replace("+00:00", "")
        return str(value)

    return [tuple(cell(value) for value in row) for row in rows]


def _summary(runs: list[Run]) -> dict[str, Any]:
    return {
        "seconds": [run.seconds for run in runs],
        "median_seconds": round(statistics.median(run.seconds for run in runs), 3),
        "median_cpu_seconds": round(statistics.median(run.cpu_seconds or 0 for run in runs), 3),
        "peak_rss_mib": max(run.peak_rss_mib for run in runs),
    }


def _node_counts(run_results: Path) -> dict[str, int]:
    if not run_results.exists():
        return {}
    counts: dict[str, int] = {}
    for result in json.loads(run_results.read_text())["results"]:
        kind = result["unique_id"].split(".", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def render_markdown(result: Mapping[str, Any]) -> str:
    sync, build, queries = result["sync"], result["build"], result["queries"]
    verdict = "met" if sync["ratio"] <= sync["target_ratio"] else "**missed**"
    machine = result["machine"]
    lines = [
        "# Performance of the cluster profile",
        "",
        f"Measured by `make bench` (`benchmarks/cluster_profile.py`) on {result['date']}, on {machine['cpus']} "
        f"cores ({machine['cpu']}), against `civiclake dev up`'s servers: PostgreSQL (the Iceberg catalog), MinIO "
        f"(the lake) and Trino {result['trino']} (one node, 2 GB heap), configured from the Helm chart. Every "
        "command ran in its own child process; the servers share the machine's cores with it, as they would not "
        "on a cluster. Compare the ratios, measured in the same run, not the absolute figures.",
        "",
        "## A sync into MinIO against a sync to local disk",
        "",
        f"`civiclake sync` of one {size_label(sync['size_bytes'])} messy CSV ({sync['rows']:,} rows), served by the "
        f"bundled mirror, into a fresh lakehouse each round ({len(sync['local']['seconds'])} rounds, order "
        "alternating).",
        "",
        "| lakehouse | median seconds | CPU seconds | peak RSS (MiB) | rounds (s) |",
        "|---|---|---|---|---|",
    ]
    for label, key in (("local disk, SQLite catalog", "local"), ("MinIO, PostgreSQL catalog", "minio")):
        figures = sync[key]
        rounds = ", ".join(f"{s:.2f}" for s in figures["seconds"])
        lines.append(
            f"| {label} | {figures['median_seconds']:.2f} | {figures['median_cpu_seconds']:.1f} | "
            f"{figures['peak_rss_mib']:.0f} | {rounds} |"
        )
    lines += [
        "",
        f"MinIO ÷ local disk: **{sync['ratio']:.2f}x** (target ≤ {sync['target_ratio']}x: {verdict}).",
        "",
        "## The dbt build of the whole project",
        "",
        "`civiclake transform -- --full-refresh` on two lakehouses filled by `civiclake demo` with the same sources "
        "(DuckDB's figure includes publishing every silver and gold table to Iceberg, Trino writes them itself). "
        f"Nodes built and tested: {', '.join(f'{count} {kind}s' for kind, count in sorted(build['nodes'].items()))}.",
        "",
        "| engine | median seconds | CPU seconds of the civiclake process | rounds (s) |",
        "|---|---|---|---|",
    ]
    for engine in ("duckdb", "trino"):
        figures = build[engine]
        rounds = ", ".join(f"{s:.1f}" for s in figures["seconds"])
        lines.append(f"| {engine} | {figures['median_seconds']:.1f} | {figures['median_cpu_seconds']:.1f} | {rounds} |")
    lines += [
        "",
        f"Trino ÷ DuckDB: **{build['ratio']:.2f}x**. Trino's own CPU is not in its column: it runs in the Trino "
        "server, which shares the two cores.",
        "",
        "## Analysts' queries on gold",
        "",
        "One warm-up, then the median of the runs; the answers of both engines are compared.",
        "",
        "| query | DuckDB (ms) | Trino (ms) | rows | same answer |",
        "|---|---|---|---|---|",
    ]
    for title, figures in queries.items():
        lines.append(
            f"| {title} | {figures['duckdb_median_ms']} | {figures['trino_median_ms']} | {figures['rows']} | "
            f"{'yes' if figures['same_answer'] else 'no'} |"
        )
    lines += [
        "",
        "DuckDB answers in the analyst's own process; every Trino query is an HTTP round trip to a coordinator that "
        "plans, schedules and reads through the catalog and S3: on this data size Trino's fixed cost per query "
        "dominates. On a cluster the balance changes with data size and workers.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

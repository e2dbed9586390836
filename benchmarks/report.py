"""From measured runs to figures, ratios, targets and docs/performance.md. Pure functions: no process runs here.

Every figure is a ratio or a median taken in one run of the harness on one file, since the machine is shared and
its absolute speed varies from one hour to the next.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

MIB = 1024 * 1024
CIVICLAKE = "civiclake"
# Plain CSV -> Parquet converters: the sync's throughput target is set against the fastest of these.
FAST_CONVERTERS = ("polars", "duckdb")
THROUGHPUT_SHARE_TARGET = 0.7
DLT_ICEBERG = "dlt-iceberg"
DLT_ICEBERG_RATIO_TARGET = 2.0
PEAK_RSS_TARGET_MIB = 768
RSS_GROWTH_TARGET = 0.20
NOOP_SECONDS_PER_100_TARGET = 1.0

LABELS = {
    CIVICLAKE: "`civiclake sync` → Iceberg bronze (end to end)",
    "duckdb": "DuckDB `read_csv` → `COPY … TO parquet`",
    "polars": "polars `scan_csv` → `sink_parquet`",
    "pyarrow": "pyarrow `open_csv` (streaming) → `ParquetWriter`",
    "pandas": "pandas `read_csv` → `to_parquet`",
    "dlt-parquet": "dlt (Arrow batches) → Parquet on a local filesystem",
    "dlt-iceberg": "dlt (Arrow batches) → Iceberg on a local filesystem",
    "civiclake-cp1252": "`civiclake sync` of the cp1252 file",
    "pyarrow-cp1252": "pyarrow streaming of the cp1252 file",
}


DESIGN_NOTES = """## How a large CSV is synced, and what was tried

`civiclake sync` keeps its semantics on large files (types inferred over every row, codes kept as text,
encodings, dialect, ragged rows named by line, lineage, idempotency, checksums) and uses every core:

1. The download streams to disk. sha256, the catalogue's own digest (sha1 here) and the writing of the file
   each run on a thread of their own, fed blocks of 1 MiB (`civiclake.sources.digests`). The file goes into
   the raw zone as a hard link.
2. pyarrow's reader (the reference parser) reads the first 4 MiB: the header, and a sample that closes most type
   rules at once (a text column is decided by its first values) and proves the others. Meanwhile another
   thread scans the file for lone CRs.
3. When the sample decides every column (each type's rule is the first still open, and its settings are known:
   decimal separator, zone offsets, a day above 12), polars writes in one pass with the sample's types,
   every value held to its column's rule as it is converted (`polars_conversion(..., guarded=True)`). A row
   that refutes them (`2,5` in a column of integers, `007`, an empty last cell that could be a short row)
   stops the write; its file is deleted and the part takes the checked way of step 4.
4. Otherwise polars checks, over every row in one streaming pass, only the rules still open, then writes. The
   row structure is checked where polars and pyarrow could split rows differently (a row whose last cell is
   empty could be short; a lone CR ends a row for pyarrow only): pyarrow's parser then counts the rows. Any
   doubt (a refused quote, invalid UTF-8, a blank line) gives the file back to the reference reader, which
   loads it or names the bad row.
5. polars reads the CSV in 4 MiB chunks, adds the lineage columns and writes one zstd (level 1) Parquet file,
   registered with pyiceberg's `add_files` in one commit.

`tests/formats/test_fast_csv.py` holds both fast ways to the reference reader's schema and values on the real
data.gouv.fr and Olist files, the generated file (UTF-8 and cp1252) and every rule's edge cases, and checks which
cases the one-pass write tries and which later rows refute it.

Tried, measured on 256 MiB and 1 GiB inputs, and kept or dropped:

- The reference reader before this work: two pyarrow passes, type checks through pyarrow compute from Python
  (the day-first date check formatted every date back to text), about one core: 0.21x pyarrow's own conversion.
- Checks pass, then write (step 4 for every file): 0.47x polars. The check pass was 14% of the sync.
- One guarded write instead (step 3): about 10% less CPU than check pass plus write, where it applies. Kept.
  Numbers are then read as text (the guards need it): the native number parse of step 4 is not used.
- The guards, per million rows of the generated file on one core: 504 ms for its nine typed columns against
  215 ms unguarded. A guard that swapped an off-rule value for an unconvertible text built a new text column;
  a strict cast that overflows where the rule fails costs integer arithmetic only. The decimals' digit count,
  computed apart, went into their pattern (one alternative per digit count before the separator: the regular
  expression automaton costs the same). Dates and times parsed without polars' cache of parsed values: half the
  time of a date column. Together: 322 ms against 154 ms unguarded. Kept. Integer guards by prefix tests
  instead of a pattern: within the noise. Dropped.
- Hashing on the download's thread (1 MiB re-chunked by httpx): 2.2 s of 1 GiB. Chunks as the socket gives
  them, digests on two threads: 1.2 s. The file written by a thread of its own in 1 MiB blocks, instead of
  64 KiB at a time by the reading thread: 0.86 s. Kept. httpx itself reads 1 GiB in 0.3 s of CPU here; the
  rest is the two digests (0.5 s of CPU each), which bound the download on two cores.
- Copying the file into the raw zone: 0.3 s per GiB. A hard link (a copy when the lake is elsewhere). Kept.
- The lone-CR scan by regular expression on every chunk: 0.42 s per GiB. `memchr` from CR to CR, the regular
  expression only for CRLF text (a CR on every line): 0.16 s, run while the sample is parsed. Kept.
- zstd level 3 (polars' default) against level 1 (Arrow's default, which the batch path already used): level
  1 writes 10% larger files for 11% less CPU in the write. Level 1 for both writers. snappy or lz4: files a
  third larger. Dropped.
- Peak RSS: polars' CSV reader takes 32 MiB chunks and reads four ahead, each split into a text column per
  cell. 4 MiB chunks (`POLARS_CSV_CHUNK_SIZE`, an operator's own value kept): the write alone went from 650 to
  735 MiB over four runs to 450 to 530 MiB, at the same speed; a whole sync from 725 to 789 MiB to 520 to
  570 MiB. 1 MiB chunks: about 35 MiB less, 8% slower. 4 MiB kept. Chunk edges inside quoted cells change
  nothing: the generated file gives the same values read in 64 KiB chunks, and a test reads it in 16 KiB chunks.
- Row-group size, `low_memory`, allocator decay settings, fewer sink morsels in flight
  (`POLARS_INFLIGHT_SINK_MORSEL_LIMIT`): no change to the peak RSS beyond the noise. Not set. The sample read
  without pyarrow's read-ahead: 100 MB less kept by the allocator. Kept. Digests fed joined 1 MiB blocks rather
  than the socket's 64 KiB chunks: 20 MB less left in the allocator's heap. Kept.
- `pl.collect_all` of the type checks and the write over one scan: polars 2.1 scans twice (CPU is the sum)
  and the peak RSS grows by 300 MB. Dropped.
- polars imported only when a large CSV is read: 0.2 s less for every `civiclake` command that loads none
  (a no-op re-sync among them). openpyxl imported only when a workbook is read: 60 ms. Kept. The imports left
  take about 0.55 s of one core before the download starts (sqlalchemy and pyiceberg for the catalog, pyarrow,
  pydantic for the settings).
- The mirror served files through Python in 64 KiB chunks: 0.37 s of CPU per GiB, on the same two cores as the
  sync it serves. `sendfile`: 0.10 s. Kept (the mirror is what `make demo` and the tests download from too).
- numpy, which pyarrow loads, starts a BLAS thread per core that spins at start: 0.1 s of CPU per command in
  the profile. The command line keeps it to one thread (`OPENBLAS_NUM_THREADS`, an operator's value kept). Kept.
- Python's last search for reference cycles at exit: 0.15 to 0.2 s after each command had finished its work.
  The command line freezes its objects once the command is done: 0.03 s. Kept.
- The lineage columns cost 0.65 s of CPU in the write (the same write without them), half of it for the two
  long ones (`_raw_path`, `_raw_sha256`): polars' Parquet writer builds a dictionary of every string column,
  hashing each row's copy of the constant. Written as a polars `Enum` (one dictionary entry, no hashing) they
  cost next to nothing, but the file's Arrow schema then says `dictionary<string>`: pyiceberg logs a warning
  at each commit and returns dictionary arrays, and a table holding such files beside plain ones fails to
  read through pyiceberg (`Unable to merge: Field _source has incompatible types`). Dropped: bronze keeps
  plain strings.
- Importing the catalog's libraries while the download runs: the imports hold the interpreter lock and the
  download already keeps both cores busy (1.9 s of CPU per GiB: two digests, the kernel's copies, httpx). The
  pair took the same time as one after the other (1.55 s against 1.53 to 1.61 s, three runs each). Dropped.
- httpcore reads the socket 64 KiB at a time; 1 MiB reads took 0.92 to 0.97 s per GiB against 1.0 to 1.15 s.
  Not done: the read size is a constant inside httpcore, not a setting.
- Converting while downloading (blocks cut at row boundaries, written as they arrive) would overlap two steps
  that each keep both cores busy: the CPU they add up to is what it would take. Not done.
- Row-group size, data page size, lz4 instead of zstd: within the noise of three runs each. Not set.
"""


@dataclass(frozen=True)
class Run:
    """One child process: wall time, peak resident memory (its own, from the OS), rows it wrote."""

    seconds: float
    peak_rss_mib: float
    rows: int | None = None
    cpu_seconds: float | None = None  # user + system, all of the child's threads


def summarise(runs: Sequence[Run], size_bytes: int, rows: int) -> dict[str, Any]:
    """Median wall time, throughput at that median, and the largest peak RSS over the runs."""
    if not runs:
        raise ValueError("no run to summarise")
    seconds = statistics.median(run.seconds for run in runs)
    cpu = [run.cpu_seconds for run in runs if run.cpu_seconds is not None]
    return {
        "median_seconds": round(seconds, 3),
        "median_cpu_seconds": round(statistics.median(cpu), 3) if cpu else None,
        "mb_per_second": round(size_bytes / 1e6 / seconds, 1),
        "rows_per_second": round(rows / seconds),
        "peak_rss_mib": round(max(run.peak_rss_mib for run in runs), 1),
        "rows_written": sorted({run.rows for run in runs if run.rows is not None}),
        "runs": [asdict(run) for run in runs],
    }


def ratios_to(subject: Mapping[str, Any], others: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """The subject's throughput divided by each other's: above 1, the subject is faster."""
    # Same file for all, so the throughput ratio is the inverse ratio of the times.
    return {name: round(figures["median_seconds"] / subject["median_seconds"], 3) for name, figures in others.items()}


def evaluate_targets(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue with what was measured against it and whether it is met."""
    contenders = result["contenders"]
    ratios = result["civiclake_ratio"]
    targets: list[dict[str, Any]] = []
    fast = [name for name in FAST_CONVERTERS if name in contenders]
    if fast:
        fastest = min(fast, key=lambda name: contenders[name]["median_seconds"])
        targets.append(
            _target(
                f"sync throughput ≥ {THROUGHPUT_SHARE_TARGET}x the fastest plain converter ({fastest})",
                f"{ratios[fastest]:.2f}x",
                ratios[fastest] >= THROUGHPUT_SHARE_TARGET,
            )
        )
    if DLT_ICEBERG in contenders:
        targets.append(
            _target(
                f"sync throughput ≥ {DLT_ICEBERG_RATIO_TARGET:g}x dlt's Iceberg path",
                f"{ratios[DLT_ICEBERG]:.2f}x",
                ratios[DLT_ICEBERG] >= DLT_ICEBERG_RATIO_TARGET,
            )
        )
    peak = contenders[CIVICLAKE]["peak_rss_mib"]
    targets.append(
        _target(
            f"peak RSS ≤ {PEAK_RSS_TARGET_MIB} MiB at {result['input']['size_label']}",
            f"{peak:.0f} MiB",
            peak <= PEAK_RSS_TARGET_MIB,
        )
    )
    memory = result.get("memory_scaling")
    if memory:
        targets.append(
            _target(
                f"peak RSS within {RSS_GROWTH_TARGET:.0%} between {memory['small_label']} and "
                f"{result['input']['size_label']} inputs",
                f"{memory['small_peak_rss_mib']:.0f} → {memory['large_peak_rss_mib']:.0f} MiB "
                f"({memory['growth']:+.0%})",
                abs(memory["growth"]) <= RSS_GROWTH_TARGET,
            )
        )
    noop = result.get("noop_resync")
    if noop:
        targets.append(
            _target(
                "a no-op re-sync transfers 0 bytes of file content",
                f"{noop['max_file_bytes']} bytes",
                noop["max_file_bytes"] == 0,
            )
        )
    many = result.get("resync_many")
    if many:
        per_100 = seconds_per_100_datasets(many)
        targets.append(
            _target(
                f"a no-op re-sync takes < {NOOP_SECONDS_PER_100_TARGET:g} s per 100 datasets",
                f"{per_100:.2f} s per 100 beyond the first (the whole command for {many['datasets']}: "
                f"{many['median_seconds']:.2f} s, process start included)",
                per_100 < NOOP_SECONDS_PER_100_TARGET and many["max_file_bytes"] == 0,
            )
        )
    return targets


def seconds_per_100_datasets(many: Mapping[str, Any]) -> float:
    """What each unchanged dataset adds to a re-sync, per 100: the command for all of them less the command for
    one (process start, imports, opening the catalog: paid once whatever the count)."""
    extra = max(many["median_seconds"] - many["startup_seconds"], 0.0)
    return round(extra * 100 / max(many["datasets"] - 1, 1), 3)


def _target(name: str, measured: str, met: bool) -> dict[str, Any]:
    return {"target": name, "measured": measured, "met": bool(met)}


def rss_growth(small_peak_mib: float, large_peak_mib: float) -> float:
    return round((large_peak_mib - small_peak_mib) / small_peak_mib, 3)


def render_markdown(result: Mapping[str, Any]) -> str:
    """docs/performance.md from one result of the harness."""
    data = result["input"]
    machine = result["machine"]
    contenders = result["contenders"]
    ratios = result["civiclake_ratio"]
    order = sorted(contenders, key=lambda name: contenders[name]["median_seconds"])
    rows = []
    for name in order:
        figures = contenders[name]
        ratio = "—" if name == CIVICLAKE else f"{ratios[name]:.2f}x"
        rows.append(
            f"| {LABELS.get(name, name)} | {figures['median_seconds']:.2f} | {_cpu(figures)} "
            f"| {figures['mb_per_second']:.1f} | {figures['rows_per_second']:,} | {figures['peak_rss_mib']:.0f} "
            f"| {ratio} |"
        )
    encoding_rows = []
    for name in ("civiclake-cp1252", "pyarrow-cp1252"):
        figures = result.get("cp1252", {}).get(name)
        if figures:
            encoding_rows.append(
                f"| {LABELS[name]} | {figures['median_seconds']:.2f} | {figures['mb_per_second']:.1f} "
                f"| {figures['rows_per_second']:,} | {figures['peak_rss_mib']:.0f} |"
            )
    targets = "\n".join(
        f"| {item['target']} | {item['measured']} | {'met' if item['met'] else '**not met**'} |"
        for item in result["targets"]
    )
    sections = [
        "# Performance",
        "",
        f"Measured by `make bench` (`benchmarks/sync_throughput.py`) on {result['date']}: {result['rounds']} rounds, "
        "every contender run in alternation, each in its own child process, on the same file. Times are medians "
        "of the rounds; CPU seconds (user and system, every thread) and peak RSS are what the OS accounted to the "
        "child (`wait4`); the mirror serving the file runs in the harness and is not counted. The machine is shared "
        "and noisy: compare the ratios, measured in the same run, not the absolute figures.",
        "",
        "## Input",
        "",
        f"A generated messy French open-data CSV (`benchmarks/messy_csv.py`, seed {data['seed']}): "
        f"{data['size_bytes'] / 1e6:,.1f} MB ({data['size_label']}), {data['rows']:,} rows, 23 columns, `;` "
        "separated, shaped like DVF: codes with leading zeros (postal codes, INSEE codes with Corsica's `2A004` "
        "first seen about a fifth into the file, SIRET), dd/mm/yyyy dates, decimal-comma amounts and coordinates, "
        "integers with empty cells, accented free text with quoted `;`, doubled quotes and line breaks. It is "
        "served by the bundled data.gouv.fr mirror (`civiclake.demo.mirror`), from disk.",
        "",
        "civiclake is told nothing: it sniffs the encoding and separator and infers every type over every row. "
        "The contenders are told the separator, the decimal comma, the date format and which columns are codes "
        "(kept as text).",
        "",
        "## Results",
        "",
        "| what | seconds | CPU seconds | MB/s | rows/s | peak RSS (MiB) | civiclake's throughput ÷ this one's |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    if encoding_rows:
        sections += [
            "The cp1252 variant of the same file (same rows, Windows encoding and CRLF line ends):",
            "",
            "| what | seconds | MB/s | rows/s | peak RSS (MiB) |",
            "|---|---|---|---|---|",
            *encoding_rows,
            "",
        ]
    sections += ["## Targets", "", "| target | measured | status |", "|---|---|---|", targets, ""]
    sections += _resync_section(result)
    sections += _profile_section(result)
    sections += [*DESIGN_NOTES.splitlines(), ""]
    sections += [
        "## How to reproduce",
        "",
        "```bash",
        "make bench                                   # 1 GiB, 3 rounds: builds .venv-bench for the contenders",
        "make bench BENCH_ARGS='--size 64MiB --rounds 1'   # a quick look",
        ".venv/bin/python -m benchmarks.messy_csv data.csv --size 256MiB   # the input alone",
        "```",
        "",
        "Figures land in `benchmarks/results/latest.json` (every run of every contender) and in this page.",
        "",
        "## Machine",
        "",
        f"- {machine['cpu']}, {machine['cpus']} cores, {machine['memory_gib']:.1f} GiB RAM, {machine['system']}",
        f"- Python {machine['python']}; civiclake: {_versions(machine['civiclake_versions'])}",
        f"- contenders: {_versions(machine['contender_versions'])}",
        f"- load average (1 min) at start and end: {machine['load_start']:.2f}, {machine['load_end']:.2f}",
        "",
    ]
    return "\n".join(sections)


def _resync_section(result: Mapping[str, Any]) -> list[str]:
    noop, many = result.get("noop_resync"), result.get("resync_many")
    lines: list[str] = []
    if noop or many:
        lines += ["## Re-syncs of unchanged data", ""]
    if noop:
        lines.append(
            f"- The same dataset again, unchanged: {noop['median_seconds']:.2f} s (median), "
            f"{noop['max_file_bytes']} bytes of file content and {noop['max_requests']} requests to the mirror "
            "(catalogue API only): the change marker kept in the sync state says the file has not changed."
        )
    if many:
        lines.append(
            f"- {many['datasets']} unchanged datasets: {many['median_seconds']:.2f} s (median of "
            f"{len(many['seconds'])}) for the whole `civiclake sync` command, process start and imports included "
            f"({many['startup_seconds']:.2f} s for the same command naming one of them); "
            f"{many['max_file_bytes']} bytes of file content served."
        )
    if many and many.get("profile"):
        lines += [
            "",
            f"py-spy's samples of the re-sync of {many['datasets']} unchanged datasets (inclusive share):",
            "",
            *_profile_table(many["profile"]),
        ]
    if lines:
        lines.append("")
    return lines


def _profile_table(profile: Mapping[str, Any]) -> list[str]:
    return [
        "| function | what it does | share of samples |",
        "|---|---|---|",
        *(f"| `{item['function']}` | {item['what']} | {item['share']:.0%} |" for item in profile["functions"]),
    ]


def _profile_section(result: Mapping[str, Any]) -> list[str]:
    profile = result.get("profile")
    phases = result.get("phases")
    floor = cpu_floor(result)
    if not profile and not phases and floor is None:
        return []
    lines = ["## Where civiclake's time goes", ""]
    if phases:
        lines += [
            f"One `civiclake sync` of the {result['input']['size_label']} file, by phase (median over the rounds, "
            "from `meta.ingestions` and the child's wall time):",
            "",
            "| phase | seconds | share |",
            "|---|---|---|",
            *(
                f"| {name} | {seconds:.2f} | {seconds / phases['total']:.0%} |"
                for name, seconds in phases["parts"].items()
            ),
            "",
        ]
    if profile:
        lines += [
            "py-spy's samples of the sync's main thread (inclusive share; polars' worker threads are native and "
            "show as the Python call that waits on them):",
            "",
            *_profile_table(profile),
            "",
        ]
    if floor is not None:
        lines += [
            f"The CPU it takes: in this run a sync used {floor['civiclake_cpu']:.1f} CPU seconds, "
            f"{floor['fastest']} {floor['converter_cpu']:.1f}. On {floor['cores']} cores a sync cannot take less "
            f"than {floor['floor_seconds']:.2f} s of wall time, however well its steps overlap; "
            f"{THROUGHPUT_SHARE_TARGET}x {floor['fastest']}'s throughput means {floor['allowed_seconds']:.2f} s. "
            + (
                f"The CPU alone puts that target out of reach here: the sync spends {floor['extra_cpu']:.1f} CPU "
                f"seconds more than {floor['fastest']} (downloading, two digests of every byte, the type rules "
                "checked on every value, the lineage columns, the Iceberg commit, process start and imports), where "
                f"the target leaves {floor['room_cpu']:.1f}."
                if floor["floor_seconds"] > floor["allowed_seconds"]
                else _one_core_verdict(floor)
            ),
            "",
        ]
    return lines


def cpu_floor(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The least wall time a sync can take given its CPU time and the machine's cores, against the wall time the
    throughput target allows: above it, no overlapping of steps can meet the target."""
    contenders = result["contenders"]
    fast = [name for name in FAST_CONVERTERS if name in contenders]
    cores = result.get("machine", {}).get("cpus")
    civiclake_cpu = contenders[CIVICLAKE].get("median_cpu_seconds")
    if not fast or not cores or civiclake_cpu is None:
        return None
    fastest = min(fast, key=lambda name: contenders[name]["median_seconds"])
    converter_cpu = contenders[fastest].get("median_cpu_seconds") or 0.0
    allowed = contenders[fastest]["median_seconds"] / THROUGHPUT_SHARE_TARGET
    # Steps that take one core with nothing beside them (start, imports, detection, meta tables) leave the
    # other core idle: the rest of the CPU then shares the cores.
    one_core = (result.get("phases") or {}).get("one_core_seconds")
    return {
        "fastest": fastest,
        "cores": cores,
        "civiclake_cpu": civiclake_cpu,
        "converter_cpu": converter_cpu,
        "floor_seconds": round(civiclake_cpu / cores, 2),
        "one_core_seconds": one_core,
        "floor_with_one_core_steps": None
        if one_core is None
        else round(one_core + max(civiclake_cpu - one_core, 0.0) / cores, 2),
        "allowed_seconds": round(allowed, 2),
        "extra_cpu": round(civiclake_cpu - converter_cpu, 2),
        "room_cpu": round(allowed * cores - converter_cpu, 2),
    }


def _one_core_verdict(floor: Mapping[str, Any]) -> str:
    with_steps = floor.get("floor_with_one_core_steps")
    if with_steps is None:
        return "The CPU leaves room for the target: the rest of the gap is steps that run one after the other."
    said = (
        f"The CPU alone leaves room; but {floor['one_core_seconds']:.2f} s of the sync (start and imports, "
        "detection, meta tables) takes one core with nothing beside it, the other core idle, and with those steps "
        f"as they run a sync cannot take less than {with_steps:.2f} s. "
    )
    if with_steps > floor["allowed_seconds"]:
        return said + (
            "That puts the target out of reach as the steps run now. The imports could only overlap the download, "
            "which already keeps both cores busy (see below: measured, no gain)."
        )
    return said + "That leaves room: the rest of the gap is how the parallel steps share the cores."


def _cpu(figures: Mapping[str, Any]) -> str:
    cpu = figures.get("median_cpu_seconds")
    return "—" if cpu is None else f"{cpu:.1f}"


def _versions(versions: Mapping[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items())

"""`civiclake sync` as separate processes: two at once on one dataset, and runs killed with SIGKILL.

Every sync here is a real `civiclake sync` process against the data.gouv.fr mirror on loopback. Two syncs of one
changed resource released at the same instant (the mirror holds both downloads until both have asked) must load
it once: one run loads, the other finds the rows there and says "unchanged". That holds on SQLite, where the two
share a machine and a CIVICLAKE_HOME, and on the PostgreSQL catalog with the lake on MinIO, where they may be two
pods with nothing in common but the catalog and the bucket.

A run killed right after its bronze commit (SIGKILL sent from inside, through a patched commit: the only stand-in
here) leaves rows that ``meta.ingestions`` does not mention; the next run records them. A run killed mid-way
leaves its scratch files; the next run deletes them, but never those of a run still going.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from civiclake.config import load_settings
from civiclake.demo.mirror.server import Fault, MirrorServer
from civiclake.servers.process import wait_until
from civiclake.warehouse.state import SyncState
from tests.pipeline.lakehouse import CODES_POSTAUX, MIRROR_FILES, Lakehouse, zip_bytes
from tests.servers.cluster import fresh_cluster_lakehouse

pytestmark = pytest.mark.integration

ROWS = 100_000
DATASET = "lignes-concurrentes"
RESOURCE = "4b1c6f2e-0000-4000-8000-00000000c0c0"
TABLE = "bronze.datagouv__lignes_concurrentes__lignes"
CLI = "from civiclake.cli.main import main; main()"
SELECTION = ("--dataset", DATASET)
# Fault injection: the process kills itself with SIGKILL right after the bronze table's commit (before the run
# records it anywhere else), or right after a download (its scratch files still there).
KILL_AFTER_BRONZE_COMMIT = """
import os, signal
from civiclake.warehouse import bronze
commit = bronze.BronzeLoader._commit
def commit_then_die(self, *args, **kwargs):
    commit(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
bronze.BronzeLoader._commit = commit_then_die
"""
KILL_BEFORE_LOADING = """
import os, signal
from civiclake.warehouse import bronze
def die(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
bronze.BronzeLoader.load = die
"""


def lines_csv(version: int, rows: int = ROWS) -> bytes:
    header = "code_ligne;libelle;valeur\n"
    return (header + "".join(f"{i:06d};ligne {i} version {version};{i * version}\n" for i in range(rows))).encode()


def publish(mirror: MirrorServer, version: int, data: bytes, *, file_format: str = "csv") -> None:
    """The dataset at ``version``: new bytes and a new ``last_modified``, as data.gouv.fr shows a replaced file."""
    mirror.add_dataset(
        {
            "id": DATASET,
            "slug": DATASET,
            "title": "Lignes concurrentes",
            "resources": [
                {
                    "id": RESOURCE,
                    "title": "Lignes",
                    "format": file_format,
                    "last_modified": f"2026-0{version}-01T08:00:00+00:00",
                }
            ],
        },
        files={RESOURCE: data},
    )


class GatedMirror(MirrorServer):
    """The mirror, able to hold back downloads of one resource until the test lets them go."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier: threading.Barrier | None = None
        self.released = threading.Event()
        self.released.set()

    def hold_downloads(self, parties: int | None) -> None:
        """Hold each download until ``parties`` of them are waiting (all go together), or, with None, until
        ``release_downloads``."""
        if parties is None:
            self.released.clear()
        else:
            self.barrier = threading.Barrier(parties, timeout=120)

    def release_downloads(self) -> None:
        self.released.set()

    def take_fault(self, path: str) -> Fault | None:
        stored = self.catalog.file_at(path)
        if stored is not None and stored.resource["id"] == RESOURCE:
            if self.barrier is not None:
                self.barrier.wait()
            self.released.wait(timeout=120)
        return super().take_fault(path)


@pytest.fixture
def mirror() -> Iterator[GatedMirror]:
    with GatedMirror() as server:
        yield server


@dataclass
class Run:
    """One `civiclake sync` process."""

    process: subprocess.Popen[str]
    summary: Path

    def finish(self) -> tuple[int, str, dict[str, object]]:
        output, _ = self.process.communicate(timeout=600)
        summary = json.loads(self.summary.read_text()) if self.summary.exists() else {}
        return self.process.returncode, output, summary


def start_sync(environment: dict[str, str], summary: Path, *arguments: str, fault: str = "") -> Run:
    """`civiclake sync` of the test's dataset (or with ``arguments``), ``fault`` run first in the process."""
    process = subprocess.Popen(
        [sys.executable, "-c", fault + CLI, "sync", "--summary-json", str(summary), *(arguments or SELECTION)],
        env={**os.environ, **environment, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return Run(process, summary)


def sync(environment: dict[str, str], summary: Path, *arguments: str, fault: str = "") -> tuple[int, str]:
    code, output, _ = start_sync(environment, summary, *arguments, fault=fault).finish()
    return code, output


def environment_for(mirror: MirrorServer, home: Path) -> dict[str, str]:
    return {
        "CIVICLAKE_HOME": str(home),
        "CIVICLAKE__DATAGOUV__API_URL": mirror.api_url,
        "CIVICLAKE__HTTP__BACKOFF_INITIAL_SECONDS": "0.01",
        "CIVICLAKE__HTTP__BACKOFF_MAX_SECONDS": "0.05",
        "CIVICLAKE__HTTP__MAX_ATTEMPTS": "3",
    }


def ingestions_of(lakehouse: Lakehouse, sha256: str) -> list[dict[str, object]]:
    ingestions = lakehouse.meta("ingestions")
    rows = ingestions.filter(pc.equal(ingestions["raw_sha256"], sha256)).to_pylist()
    return sorted(rows, key=lambda row: str(row["status"]))


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def distinct_rows(table: pa.Table) -> int:
    keys = table.select(["_raw_sha256", "_row_number"]).group_by(["_raw_sha256", "_row_number"]).aggregate([])
    return keys.num_rows


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("sqlite", id="sqlite-catalog-one-home"),
        pytest.param("postgresql", id="postgresql-catalog-minio-one-home"),
        pytest.param("postgresql-pods", id="postgresql-catalog-minio-a-home-per-process"),
    ],
)
def test_two_syncs_of_a_changed_resource_at_once_load_it_once(
    backend: str, mirror: GatedMirror, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    shared = {}
    if backend.startswith("postgresql"):
        shared = fresh_cluster_lakehouse(request.getfixturevalue("cluster"))
    first_home = tmp_path / "home"
    second_home = tmp_path / "home-of-the-second-pod" if backend == "postgresql-pods" else first_home
    first = {**environment_for(mirror, first_home), **shared}
    second = {**environment_for(mirror, second_home), **shared}

    version_one, version_two = lines_csv(1), lines_csv(2)
    publish(mirror, 1, version_one)
    code, output = sync(first, tmp_path / "initial.json")
    assert code == 0, output

    publish(mirror, 2, version_two)
    mirror.hold_downloads(parties=2)  # both runs have the new file in hand at the same moment
    runs = [start_sync(first, tmp_path / "a.json"), start_sync(second, tmp_path / "b.json")]
    results = [run.finish() for run in runs]

    for code, output, _ in results:
        assert code == 0, output
    statuses = sorted(json.dumps(summary["resources"]) for _, _, summary in results)
    assert statuses == ['{"loaded": 1}', '{"unchanged": 1}'], [output for _, output, _ in results]
    lakehouse = Lakehouse(load_settings(environ=first))
    table = lakehouse.table(TABLE)
    assert table.num_rows == 2 * ROWS
    assert distinct_rows(table) == 2 * ROWS
    loaded, unchanged = ingestions_of(lakehouse, sha256_of(version_two))
    assert (loaded["status"], loaded["rows"], loaded["error"]) == ("loaded", ROWS, None)
    assert (unchanged["status"], unchanged["rows"], unchanged["error"]) == ("unchanged", 0, None)
    assert loaded["batch_id"] != unchanged["batch_id"]
    assert set(
        pc.unique(table.filter(pc.equal(table["_raw_sha256"], sha256_of(version_two)))["_batch_id"]).to_pylist()
    ) == {loaded["batch_id"]}
    state = SyncState(load_settings(environ=first).catalog_uri)
    try:
        (resource,) = state.all()
    finally:
        state.close()
    assert resource.sha256 == sha256_of(version_two) and resource.last_status in ("loaded", "unchanged")


@pytest.mark.parametrize(
    "backend",
    [pytest.param("sqlite", id="sqlite-catalog"), pytest.param("postgresql", id="postgresql-catalog-minio")],
)
def test_two_first_syncs_at_once_name_and_create_the_table_once(
    backend: str, mirror: GatedMirror, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    shared = fresh_cluster_lakehouse(request.getfixturevalue("cluster")) if backend == "postgresql" else {}
    environment = {**environment_for(mirror, tmp_path / "home"), **shared}
    data = lines_csv(1, rows=10_000)
    publish(mirror, 1, data)
    mirror.hold_downloads(parties=2)
    runs = [start_sync(environment, tmp_path / "a.json"), start_sync(environment, tmp_path / "b.json")]
    results = [run.finish() for run in runs]

    for code, output, _ in results:
        assert code == 0, output
    assert sorted(json.dumps(summary["resources"]) for _, _, summary in results) == [
        '{"loaded": 1}',
        '{"unchanged": 1}',
    ]
    lakehouse = Lakehouse(load_settings(environ=environment))
    assert lakehouse.table_names() == {TABLE}
    table = lakehouse.table(TABLE)
    assert table.num_rows == distinct_rows(table) == 10_000
    assert [row["status"] for row in ingestions_of(lakehouse, sha256_of(data))] == ["loaded", "unchanged"]


def test_rows_committed_just_before_a_kill_are_recorded_by_the_next_run(mirror: GatedMirror, tmp_path: Path) -> None:
    environment = environment_for(mirror, tmp_path / "home")
    data = lines_csv(1, rows=2_000)
    publish(mirror, 1, data)

    code, output = sync(environment, tmp_path / "killed.json", fault=KILL_AFTER_BRONZE_COMMIT)
    assert code == -signal.SIGKILL, output
    lakehouse = Lakehouse(load_settings(environ=environment))
    committed = lakehouse.table(TABLE)
    assert committed.num_rows == 2_000
    assert ingestions_of(lakehouse, sha256_of(data)) == []  # the kill came before the record
    (killed_batch,) = pc.unique(committed["_batch_id"]).to_pylist()

    code, output = sync(environment, tmp_path / "next.json")
    assert code == 0, output
    assert lakehouse.table(TABLE).num_rows == 2_000
    records = ingestions_of(lakehouse, sha256_of(data))
    assert [(row["status"], row["rows"], row["table_name"]) for row in records] == [
        ("loaded", 2_000, TABLE),
        ("unchanged", 0, TABLE),
    ]
    assert records[0]["batch_id"] == killed_batch and records[1]["batch_id"] != killed_batch

    # Recorded once: a full refresh finds the same bytes again and adds no second "loaded" record.
    code, output = sync(environment, tmp_path / "refresh.json", *SELECTION, "--full-refresh")
    assert code == 0, output
    assert [row["status"] for row in ingestions_of(lakehouse, sha256_of(data))] == ["loaded", "unchanged", "unchanged"]


def scratch_entries(home: Path) -> list[str]:
    scratch = home / "tmp"
    return sorted(str(path.relative_to(scratch)) for path in scratch.rglob("*")) if scratch.exists() else []


def test_a_finished_run_leaves_no_scratch_files_even_for_archives_with_inner_files(
    mirror: GatedMirror, tmp_path: Path
) -> None:
    environment = environment_for(mirror, tmp_path / "home")
    # Members read from a copy on disk (a workbook, an inner archive) beside ones streamed (CSV, gzipped CSV).
    archive = zip_bytes(
        {
            "lignes.csv": lines_csv(1, rows=50),
            "encore.csv.gz": gzip.compress(lines_csv(2, rows=50)),
            "accidents.xlsx": (MIRROR_FILES / "accidentalite-departements-2022-2023.xlsx").read_bytes(),
            "archives/anciennes.zip": zip_bytes({"vieilles.csv": lines_csv(3, rows=5)}),
        }
    )
    publish(mirror, 1, archive, file_format="zip")
    code, output = sync(environment, tmp_path / "zip.json")
    assert code == 0, output
    assert scratch_entries(tmp_path / "home") == []

    # A failing run too: the same archive with a member that cannot be read.
    broken = zip_bytes({"accidents.xlsx": b"PK\x03\x04 not a workbook", "lignes.csv": lines_csv(4, rows=50)})
    publish(mirror, 2, broken, file_format="zip")
    code, output = sync(environment, tmp_path / "broken.json")
    assert code == 1, output
    assert scratch_entries(tmp_path / "home") == []


def test_the_next_run_deletes_what_a_killed_run_left_in_scratch_but_not_a_running_one(
    mirror: GatedMirror, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    environment = environment_for(mirror, home)
    publish(mirror, 1, zip_bytes({"lignes.csv": lines_csv(1, rows=500)}), file_format="zip")

    code, output = sync(environment, tmp_path / "killed.json", fault=KILL_BEFORE_LOADING)
    assert code == -signal.SIGKILL, output
    left = scratch_entries(home)
    assert left, "the killed run left its download in scratch"

    # A run that is still going (held in its download) while another run starts and cleans up.
    publish(mirror, 2, zip_bytes({"lignes.csv": lines_csv(2, rows=500)}), file_format="zip")
    mirror.hold_downloads(parties=None)
    running = start_sync(environment, tmp_path / "running.json")
    try:
        wait_until(
            lambda: bool(set(scratch_entries(home)) - set(left)),
            timeout=60,
            what="the running sync's scratch files",
            diagnostics=lambda: str(scratch_entries(home)),
        )
        # That run cleaned up before making its own folder.
        in_flight = scratch_entries(home)
        assert not set(left) & set(in_flight), "the next run deleted what the killed run left"
        code, output = sync(environment, tmp_path / "other.json", "--dataset", CODES_POSTAUX)
        assert code == 0, output
        assert set(in_flight) <= set(scratch_entries(home)), "a run that cleans up leaves a running run's files"
    finally:
        mirror.release_downloads()
    code, output, summary = running.finish()
    assert code == 0, output
    assert summary["resources"] == {"loaded": 1}
    assert scratch_entries(home) == []

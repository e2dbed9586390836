"""data.gouv.fr -> raw zone -> Iceberg bronze, end to end against the bundled mirror."""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path

import pyarrow as pa
import pytest

from civiclake.demo.mirror.server import Fault, MirrorServer
from civiclake.pipeline import SyncPipeline
from civiclake.registry import DatagouvDataset, DatagouvSearch
from civiclake.sources.datagouv import DatagouvConnector, DatagouvSelection
from tests.pipeline.lakehouse import (
    ACCIDENTS,
    BAN,
    CODES_POSTAUX,
    DELETED,
    FREQUENTATION,
    GARES,
    IRVE,
    MIRROR_FILES,
    Lakehouse,
)

pytestmark = pytest.mark.integration

CODES_POSTAUX_TABLE = "bronze.datagouv__base_officielle_des_codes_postaux__base_officielle_des_codes_postaux"
CARACT_RESOURCE = "17ede5d7-693c-44cf-b0ac-38cff71a1136"


def file_downloads(mirror: MirrorServer) -> list[str]:
    return [record.path for record in mirror.requests if record.path.startswith("/resources/")]


def csv_row_count(path: Path, delimiter: str) -> int:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return sum(1 for _ in csv.reader(handle, delimiter=delimiter)) - 1


def test_every_tabular_resource_of_the_mirror_lands_in_bronze(lakehouse: Lakehouse) -> None:
    report = lakehouse.sync(CODES_POSTAUX, GARES, FREQUENTATION, ACCIDENTS, IRVE, BAN)

    assert report.exit_code == 0, [outcome.error for outcome in report.failed]
    assert {outcome.status for outcome in report.outcomes} == {"loaded"}
    tables = lakehouse.table_names()
    # A ZIP gives a table per member, a workbook a table per sheet; documentation and web pages none.
    assert len([name for name in tables if "lieux_2021_et_2022" in name]) == 2
    assert len([name for name in tables if "accidentalite_par_departement" in name]) == 2
    assert not [name for name in tables if "adresse" in name]

    codes = lakehouse.table(CODES_POSTAUX_TABLE)
    real_file = MIRROR_FILES / "019HexaSmal.csv"
    assert codes.num_rows == csv_row_count(real_file, ";")
    assert codes.schema.field("code_commune_insee").type == pa.string()
    assert "01001" in codes.column("code_commune_insee").to_pylist()
    assert "01400" in codes.column("code_postal").to_pylist()
    assert sorted(codes.column("_row_number").to_pylist()) == list(range(1, codes.num_rows + 1))
    sha256 = hashlib.sha256(real_file.read_bytes()).hexdigest()
    assert set(codes.column("_raw_sha256").to_pylist()) == {sha256}
    assert set(codes.column("_dataset_id").to_pylist()) == {CODES_POSTAUX}
    for lineage in ("_source", "_resource_id", "_extracted_at", "_ingested_at", "_raw_path", "_batch_id"):
        assert codes.column(lineage).null_count == 0, lineage

    raw_path = Path(codes.column("_raw_path")[0].as_py().removeprefix("file://"))
    assert raw_path.read_bytes() == real_file.read_bytes()
    assert "/raw/datagouv/base_officielle_des_codes_postaux/base_officielle_des_codes_postaux/extracted_at=" in str(
        raw_path
    )
    manifest = json.loads(Path(f"{raw_path}.manifest.json").read_text())
    assert manifest["sha256"] == sha256
    assert manifest["checksum_verified"] is True
    assert manifest["detected_format"]["delimiter"] == ";"
    assert manifest["final_url"].startswith("http://127.0.0.1")

    ingestions = lakehouse.meta("ingestions").to_pylist()
    resource_rows = [row for row in ingestions if row["resource_id"]]
    assert {row["status"] for row in resource_rows} == {"loaded"}
    assert sum(row["rows"] for row in resource_rows) == sum(outcome.rows for outcome in report.outcomes)
    # The BAN's resources are all web pages: one dataset-level row says why it loads nothing.
    [ban] = [row for row in ingestions if not row["resource_id"]]
    assert (ban["dataset_id"], ban["status"]) == (BAN, "skipped")
    assert ban["error"].startswith("every resource skipped: ")
    datasets = lakehouse.meta("datasets")
    assert set(datasets.column("dataset_id").to_pylist()) == {CODES_POSTAUX, GARES, FREQUENTATION, ACCIDENTS, IRVE, BAN}


def test_a_rerun_downloads_nothing_and_adds_no_rows(lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    lakehouse.sync(CODES_POSTAUX, GARES)
    downloads = len(file_downloads(mirror))
    rows = lakehouse.table(CODES_POSTAUX_TABLE).num_rows

    report = lakehouse.sync(CODES_POSTAUX, GARES)

    assert {outcome.status for outcome in report.outcomes} == {"unchanged"}
    assert len(file_downloads(mirror)) == downloads
    assert lakehouse.table(CODES_POSTAUX_TABLE).num_rows == rows


def test_a_full_refresh_downloads_again_but_identical_bytes_add_no_rows(
    lakehouse: Lakehouse, mirror: MirrorServer
) -> None:
    lakehouse.sync(CODES_POSTAUX)
    downloads = len(file_downloads(mirror))
    rows = lakehouse.table(CODES_POSTAUX_TABLE).num_rows

    report = lakehouse.sync(CODES_POSTAUX, full_refresh=True)

    assert len(file_downloads(mirror)) == downloads + 1
    assert [outcome.status for outcome in report.outcomes] == ["unchanged"]
    assert lakehouse.table(CODES_POSTAUX_TABLE).num_rows == rows


def test_a_new_version_of_a_file_appends_and_evolves_the_schema(lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    resource = {"id": "0b5e1b0e-0000-4000-8000-000000000001", "title": "Mesures", "format": "csv"}
    first = b"code;valeur\n01001;1\n01002;2\n"
    mirror.add_dataset(
        {"id": "mesures", "resources": [{**resource, "last_modified": "2026-01-01T00:00:00+00:00"}]},
        {resource["id"]: first},
    )
    assert lakehouse.sync("mesures").exit_code == 0

    second = b"code;valeur;commentaire\n01003;n/a;capteur en panne\n"
    mirror.add_dataset(
        {"id": "mesures", "resources": [{**resource, "last_modified": "2026-02-01T00:00:00+00:00"}]},
        {resource["id"]: second},
    )
    report = lakehouse.sync("mesures")

    assert [outcome.status for outcome in report.outcomes] == ["loaded"]
    table = lakehouse.table("bronze.datagouv__mesures__mesures")
    assert table.schema.field("valeur").type == pa.large_string() or table.schema.field("valeur").type == pa.string()
    rows = {row["code"]: row for row in table.to_pylist()}
    assert rows["01001"]["valeur"] == "1" and rows["01003"]["valeur"] == "n/a"
    assert rows["01003"]["commentaire"] == "capteur en panne" and rows["01001"]["commentaire"] is None
    changes = {(row["column_name"], row["change"]) for row in lakehouse.meta("schema_changes").to_pylist()}
    assert changes == {("valeur", "widened_to_string"), ("commentaire", "added")}


def test_an_http_500_fails_that_resource_only_and_a_rerun_recovers(lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    mirror.inject_fault(CARACT_RESOURCE, Fault.http_status(500), times=None)

    report = lakehouse.sync(ACCIDENTS)

    assert report.exit_code == 1
    failed = {outcome.resource_id: outcome for outcome in report.failed}
    assert list(failed) == [CARACT_RESOURCE]
    assert "Caractéristiques - 2023" in failed[CARACT_RESOURCE].error
    assert "HTTP 500" in failed[CARACT_RESOURCE].error
    assert {o.status for o in report.outcomes if o.resource_id != CARACT_RESOURCE} == {"loaded"}
    refused = [row for row in lakehouse.meta("ingestions").to_pylist() if row["status"] == "failed"]
    assert [row["resource_id"] for row in refused] == [CARACT_RESOURCE]
    assert not [name for name in lakehouse.table_names() if "caracteristiques" in name]

    mirror.clear_faults()
    again = lakehouse.sync(ACCIDENTS)
    statuses = {outcome.resource_id: outcome.status for outcome in again.outcomes}
    assert statuses[CARACT_RESOURCE] == "loaded"
    assert {status for rid, status in statuses.items() if rid != CARACT_RESOURCE} == {"unchanged"}


@pytest.mark.parametrize(
    "fault",
    [Fault.too_many_requests(retry_after=0), Fault.connection_reset(after_bytes=1000), Fault.slow(3)],
    ids=["429", "reset", "timeout"],
)
def test_transient_failures_are_retried(lakehouse: Lakehouse, mirror: MirrorServer, fault: Fault) -> None:
    mirror.inject_fault(CARACT_RESOURCE, fault, times=1)
    report = lakehouse.sync(ACCIDENTS)
    assert report.exit_code == 0, [outcome.error for outcome in report.failed]
    # The delayed first attempt is recorded by the mirror only when its delay ends, after the retry.
    deadline = time.monotonic() + 5
    while len(caract_downloads(mirror)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    failed_attempt, good_attempt = sorted(record.bytes_sent for record in caract_downloads(mirror))
    assert failed_attempt < good_attempt == (MIRROR_FILES / "caract-2023.csv").stat().st_size


def caract_downloads(mirror: MirrorServer) -> list:
    return [record for record in mirror.requests if record.path.endswith("caract-2023.csv")]


def test_a_checksum_mismatch_quarantines_the_bytes_and_loads_nothing(
    lakehouse: Lakehouse, mirror: MirrorServer
) -> None:
    mirror.inject_fault(CARACT_RESOURCE, Fault.corrupted(), times=None)

    report = lakehouse.sync(ACCIDENTS)

    (failed,) = report.failed
    assert failed.resource_id == CARACT_RESOURCE
    assert "do not match the catalogue's sha1" in failed.error
    quarantined = list((lakehouse.settings.home / "lake" / "quarantine").rglob("*caract-2023.csv"))
    assert len(quarantined) == 1 and quarantined[0].stat().st_size == (MIRROR_FILES / "caract-2023.csv").stat().st_size
    assert not list((lakehouse.settings.home / "lake" / "raw").rglob("*caract-2023.csv"))
    assert not [name for name in lakehouse.table_names() if "caracteristiques" in name]


def test_missing_and_deleted_datasets_are_reported_and_the_others_load(lakehouse: Lakehouse) -> None:
    report = lakehouse.sync("no-such-dataset", DELETED, CODES_POSTAUX)

    errors = {failure.reference: failure.error for failure in report.discovery_failures}
    assert "404" in errors["no-such-dataset"]
    assert "Dataset has been deleted" in errors[DELETED]
    assert [outcome.status for outcome in report.outcomes] == ["loaded"]
    assert report.exit_code == 1
    # Both are on record as dataset-level failures, with the reason the run reported.
    recorded = {row["dataset_id"]: row for row in lakehouse.meta("ingestions").to_pylist() if not row["resource_id"]}
    assert {key: (row["status"], row["error"]) for key, row in recorded.items()} == {
        "no-such-dataset": ("failed", "no-such-dataset: " + errors["no-such-dataset"]),
        DELETED: ("failed", f"{DELETED}: " + errors[DELETED]),
    }


def test_a_resource_over_the_size_limit_is_refused(lakehouse: Lakehouse) -> None:
    lakehouse.settings = lakehouse.settings.with_overrides(datagouv={"max_resource_bytes": 1_000_000})
    report = lakehouse.sync(CODES_POSTAUX)
    (refused,) = report.outcomes
    assert refused.status == "refused"
    assert "over the limit of 1000000" in refused.error
    assert [row["status"] for row in lakehouse.meta("ingestions").to_pylist()] == ["refused"]


def test_a_single_resource_can_be_given_a_larger_limit(lakehouse: Lakehouse) -> None:
    lakehouse.settings = lakehouse.settings.with_overrides(datagouv={"max_resource_bytes": 1_000})
    entry = DatagouvDataset(id=ACCIDENTS, resource_limits={"caract*": 10_000_000})
    connector = DatagouvConnector(
        lakehouse.settings.datagouv, lakehouse.settings.http, DatagouvSelection(datasets=[entry])
    )
    pipeline = SyncPipeline(lakehouse.settings)
    try:
        report = pipeline.sync(connector)
    finally:
        connector.close()
        pipeline.close()
    statuses = {outcome.resource: outcome.status for outcome in report.outcomes}
    assert statuses.pop("Caractéristiques - 2023") == "loaded"
    assert set(statuses.values()) == {"refused"}


def test_a_search_walks_every_page(lakehouse: Lakehouse) -> None:
    settings = lakehouse.settings.with_overrides(datagouv={"page_size": 1})
    selection = DatagouvSelection(searches=[DatagouvSearch(query="gares")])
    connector = DatagouvConnector(settings.datagouv, settings.http, selection)
    try:
        found = {item.dataset.dataset_id for item in connector.discover()}
    finally:
        connector.close()
    assert found == {GARES, FREQUENTATION}


def test_a_renamed_resource_keeps_its_table(lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    resource = {"id": "0b5e1b0e-0000-4000-8000-000000000002", "format": "csv"}
    mirror.add_dataset(
        {
            "id": "releves",
            "resources": [{**resource, "title": "Relevés 2025", "last_modified": "2026-01-01T00:00:00+00:00"}],
        },
        {resource["id"]: b"a;b\n1;2\n"},
    )
    lakehouse.sync("releves")
    mirror.add_dataset(
        {
            "id": "releves",
            "resources": [{**resource, "title": "Relevés (renommé)", "last_modified": "2026-03-01T00:00:00+00:00"}],
        },
        {resource["id"]: b"a;b\n3;4\n"},
    )
    lakehouse.sync("releves")
    assert lakehouse.table_names() == {"bronze.datagouv__releves__releves_2025"}
    assert lakehouse.table("bronze.datagouv__releves__releves_2025").num_rows == 2

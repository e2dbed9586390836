"""The catalogue on disk: complete API shapes, and sizes and checksums that match the files."""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from civiclake.demo.mirror import DEFAULT_CATALOG_DIR, DEFAULT_FILES_DIR, build_catalog

DATASET_FIELDS = {
    "id", "title", "acronym", "slug", "description", "description_short", "created_at", "last_modified",
    "deleted", "private", "tags", "badges", "resources", "frequency", "frequency_date", "extras", "harvest",
    "metrics", "organization", "owner", "schema", "temporal_coverage", "spatial", "license", "access_type",
    "uri", "page", "last_update", "archived", "quality", "internal", "contact_points", "featured",
}  # fmt: skip
RESOURCE_FIELDS = {
    "id", "title", "description", "filetype", "type", "format", "url", "latest", "checksum", "filesize",
    "mime", "created_at", "last_modified", "metrics", "harvest", "extras", "preview_url", "schema",
    "internal",
}  # fmt: skip
ORGANIZATION_FIELDS = {
    "name",
    "acronym",
    "uri",
    "slug",
    "page",
    "logo",
    "logo_thumbnail",
    "badges",
    "id",
    "class",
}
STATIC_PREFIX = re.compile(
    r"^https://static\.data\.gouv\.fr/resources/(?P<slug>[a-z0-9-]+)/\d{8}-\d{6}/(?P<file>[^/]+)$"
)


def _datasets() -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(DEFAULT_CATALOG_DIR.glob("*.json"))]


def _resources() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(dataset, resource) for dataset in _datasets() for resource in dataset["resources"]]


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_catalogue_has_six_live_datasets_and_one_deleted() -> None:
    datasets = _datasets()
    assert len([d for d in datasets if not d["deleted"]]) == 6
    assert len([d for d in datasets if d["deleted"]]) == 1
    assert len({d["id"] for d in datasets}) == len(datasets)
    assert len({d["slug"] for d in datasets}) == len(datasets)
    assert "53698f4ca3a729239d2036df" in {d["id"] for d in datasets}  # the real accidents dataset id


@pytest.mark.parametrize("dataset", _datasets(), ids=lambda d: d["slug"][:40])
def test_dataset_has_every_api_field(dataset: dict[str, Any]) -> None:
    assert set(dataset) == DATASET_FIELDS
    assert re.fullmatch(r"[0-9a-f]{24}", dataset["id"])
    assert dataset["organization"]["class"] == "Organization"
    assert set(dataset["organization"]) == ORGANIZATION_FIELDS
    assert dataset["frequency"] in {"unknown", "punctual", "irregular", "daily", "weekly", "monthly",
                                    "quarterly", "semiannual", "annual"}  # fmt: skip
    assert dataset["last_update"] == max(r["last_modified"] for r in dataset["resources"])
    for resource in dataset["resources"]:
        assert set(resource) == RESOURCE_FIELDS
        assert str(uuid.UUID(resource["id"])) == resource["id"]
        assert resource["latest"].endswith(f"/datasets/r/{resource['id']}")
        assert resource["type"] in {"main", "documentation", "update"}
        assert resource["filetype"] in {"file", "remote"}


def test_every_live_dataset_has_a_documentation_resource() -> None:
    for dataset in _datasets():
        if not dataset["deleted"]:
            assert any(r["type"] == "documentation" and r["format"] == "pdf" for r in dataset["resources"])


def test_formats_cover_what_producers_type() -> None:
    formats = {resource["format"] for _, resource in _resources()}
    assert {"csv", "CSV", "txt", "zip", "xlsx", "geojson", "json", "pdf", "www"} <= formats
    remote_www = [r for _, r in _resources() if r["format"] == "www"]
    assert remote_www and all(r["filetype"] == "remote" for r in remote_www)
    assert remote_www[0]["url"].startswith("https://adresse.data.gouv.fr/")


_FILE_RESOURCES = [(d, r) for d, r in _resources() if r["filetype"] == "file"]


@pytest.mark.parametrize(
    ("dataset", "resource"), _FILE_RESOURCES, ids=[r["url"].rsplit("/", 1)[1] for _, r in _FILE_RESOURCES]
)
def test_file_resources_match_the_bytes_on_disk(dataset: dict[str, Any], resource: dict[str, Any]) -> None:
    match = STATIC_PREFIX.match(resource["url"])
    assert match, resource["url"]
    assert match["slug"] == dataset["slug"]
    path = DEFAULT_FILES_DIR / match["file"]
    assert path.is_file()
    assert resource["filesize"] == path.stat().st_size
    assert resource["checksum"] == {"type": "sha1", "value": _sha1(path)}
    assert resource["extras"]["analysis:checksum"] == resource["checksum"]["value"]
    assert resource["extras"]["analysis:content-length"] == resource["filesize"]


def test_every_file_on_disk_belongs_to_a_resource() -> None:
    named = {STATIC_PREFIX.match(r["url"])["file"] for _, r in _resources() if r["filetype"] == "file"}  # type: ignore[index]
    assert {path.name for path in DEFAULT_FILES_DIR.iterdir()} == named


def test_real_files_are_kept_byte_for_byte() -> None:
    for name, sha1 in build_catalog.REAL_FILES.items():
        assert _sha1(DEFAULT_FILES_DIR / name) == sha1


def test_catalogue_is_what_the_build_script_writes() -> None:
    assert build_catalog.stale_catalog_files() == []


def test_synthetic_files_are_small_and_deterministic() -> None:
    for name, generate in build_catalog.synthetic_generators().items():
        first, second = generate(DEFAULT_FILES_DIR), generate(DEFAULT_FILES_DIR)
        assert first == second, name
        assert len(first) < 200_000, name
        if not name.endswith((".zip", ".xlsx")):  # deflate output may differ with another zlib
            assert first == (DEFAULT_FILES_DIR / name).read_bytes(), name


def test_synthetic_files_have_the_promised_shapes() -> None:
    from openpyxl import load_workbook

    workbook = load_workbook(DEFAULT_FILES_DIR / "accidentalite-departements-2022-2023.xlsx", read_only=True)
    assert workbook.sheetnames == ["2023", "2022"]
    workbook.close()

    with zipfile.ZipFile(DEFAULT_FILES_DIR / "baac-lieux-2021-2022.zip") as archive:
        assert archive.namelist() == ["lieux-2021.csv", "lieux-2022.csv", "LISEZMOI.txt"]

    geojson = json.loads((DEFAULT_FILES_DIR / "bornes-irve-eure-et-loir.geojson").read_bytes())
    assert geojson["type"] == "FeatureCollection"
    assert {f["geometry"]["type"] for f in geojson["features"]} == {"Point", "Polygon"}

    document = json.loads((DEFAULT_FILES_DIR / "irve-statique-eure-et-loir.json").read_bytes())
    assert isinstance(document["data"], list)
    assert all(isinstance(record["points_de_charge"], list) for record in document["data"])

    for pdf in DEFAULT_FILES_DIR.glob("*.pdf"):
        assert pdf.read_bytes().startswith(b"%PDF-1.4")

    old = (DEFAULT_FILES_DIR / "laposte_hexasmal_2014.csv").read_bytes()
    assert old.startswith(b"#Code_commune_INSEE")
    with pytest.raises(UnicodeDecodeError):
        old.decode("utf-8")  # latin-1, as older releases were
    assert io.BytesIO(old).readline().decode("latin-1").rstrip("\r\n").endswith("Libellé_acheminement;Ligne_5")

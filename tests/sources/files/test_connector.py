"""The connector on its own: what discovery reports for a landing folder, and how a file is copied."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from civiclake.config import load_settings
from civiclake.errors import SourceError, TooLargeError
from civiclake.sources.base import DiscoveredDataset, DiscoveryFailure
from civiclake.sources.files import FilesConnector
from tests.sources.files.lakehouse import FilesLakehouse


def discover(connector: FilesConnector) -> list[DiscoveredDataset | DiscoveryFailure]:
    return list(connector.discover())


def test_every_landed_file_is_a_resource_of_its_entity(lakehouse: FilesLakehouse) -> None:
    lakehouse.drop("batch=0002/olist_orders_dataset.csv", b"order_id\nb\n")
    lakehouse.drop("batch=0001/olist_orders_dataset.csv", b"order_id\na\n")
    lakehouse.drop("batch=0001/product_category_name_translation.csv", b"a,b\n1,2\n")
    connector = FilesConnector.from_settings(lakehouse.settings)

    (found,) = discover(connector)

    assert isinstance(found, DiscoveredDataset)
    assert found.name == "olist" and found.dataset.dataset_id == "olist" and found.skipped == []
    assert [(r.resource_id, r.entity) for r in found.resources] == [
        ("batch=0001/olist_orders_dataset.csv", "orders"),
        ("batch=0001/product_category_name_translation.csv", "product_category_name_translation"),
        ("batch=0002/olist_orders_dataset.csv", "orders"),  # sorted by path: batches in time order
    ]
    first = found.resources[0]
    assert first.source == "files" and first.declared_format == "csv" and first.filesize == 11
    assert first.url == f"{lakehouse.landing.resolve().as_uri()}/batch=0001/olist_orders_dataset.csv"
    assert first.checksum is None and first.last_modified is not None and first.last_modified.endswith("Z")


def test_the_change_marker_follows_size_and_modification_time(lakehouse: FilesLakehouse) -> None:
    path = lakehouse.drop("olist_orders_dataset.csv", b"order_id\na\n")

    def marker() -> str:
        (found,) = discover(FilesConnector.from_settings(lakehouse.settings))
        assert isinstance(found, DiscoveredDataset)
        return found.resources[0].change_marker

    first = marker()
    assert marker() == first
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000))
    touched = marker()
    assert touched != first
    path.write_bytes(b"order_id\nab\n")
    assert marker() != touched


def test_files_matching_no_pattern_are_reported_with_the_reason(lakehouse: FilesLakehouse) -> None:
    lakehouse.drop("olist_orders_dataset.csv", b"order_id\na\n")
    lakehouse.drop("README.txt", b"notes")
    lakehouse.drop(".olist_orders_dataset.csv.swp", b"x")
    lakehouse.drop(".replay-1234/batch=0001/olist_orders_dataset.csv", b"order_id\nz\n")
    lakehouse.drop("olist_sellers_dataset.csv.part", b"seller_id\n")
    connector = FilesConnector.from_settings(lakehouse.settings)

    olist, unmatched = discover(connector)

    assert isinstance(olist, DiscoveredDataset) and isinstance(unmatched, DiscoveredDataset)
    assert [r.resource_id for r in olist.resources] == ["olist_orders_dataset.csv"]
    assert unmatched.dataset.dataset_id == "unmatched" and unmatched.resources == []
    reasons = {skipped.resource_id: skipped.reason for skipped in unmatched.skipped}
    assert reasons == {
        ".olist_orders_dataset.csv.swp": "hidden or temporary (a name in its path starts with '.')",
        ".replay-1234/batch=0001/olist_orders_dataset.csv": "hidden or temporary (a name in its path starts with '.')",
        "README.txt": "matches no pattern in files.patterns",
        "olist_sellers_dataset.csv.part": "upload in progress (temporary file name)",
    }
    assert connector.skipped == unmatched.skipped


def test_a_missing_landing_zone_fails_only_when_the_settings_name_it(tmp_path: Path) -> None:
    named = load_settings(environ={"CIVICLAKE_HOME": str(tmp_path), "CIVICLAKE__FILES__LANDING": str(tmp_path / "x")})
    (failure,) = discover(FilesConnector.from_settings(named))
    assert isinstance(failure, DiscoveryFailure)
    assert failure.source == "files" and "does not exist" in failure.error and "/x" in failure.reference

    # The default landing zone ($CIVICLAKE_HOME/landing) appears with the first drop: nothing to do until then.
    default = load_settings(environ={"CIVICLAKE_HOME": str(tmp_path)})
    assert discover(FilesConnector.from_settings(default)) == []
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "olist_orders_dataset.csv").write_bytes(b"order_id\na\n")
    (found,) = discover(FilesConnector.from_settings(default))
    assert isinstance(found, DiscoveredDataset) and len(found.resources) == 1


def test_fetch_copies_in_chunks_and_hashes_the_bytes(lakehouse: FilesLakehouse, tmp_path: Path) -> None:
    data = b"order_id\n" + b"".join(b"%032x\n" % number for number in range(100_000))  # 3.3 MB
    lakehouse.drop("olist_orders_dataset.csv", data)
    connector = FilesConnector.from_settings(lakehouse.settings)
    (found,) = discover(connector)
    assert isinstance(found, DiscoveredDataset)
    chunks: list[int] = []

    download = connector.fetch(found.resources[0], tmp_path / "copy", chunks.append, None)

    assert (tmp_path / "copy").read_bytes() == data
    assert download.sha256 == hashlib.sha256(data).hexdigest() and download.size == len(data)
    assert len(chunks) == 4 and max(chunks) == 1024 * 1024 and sum(chunks) == len(data)  # never read whole
    assert download.headers["content-length"] == str(len(data))
    assert download.url == found.resources[0].url


def test_a_file_that_changes_while_being_copied_is_refused(lakehouse: FilesLakehouse, tmp_path: Path) -> None:
    path = lakehouse.drop("olist_orders_dataset.csv", b"order_id\na\n")
    connector = FilesConnector.from_settings(lakehouse.settings)
    (found,) = discover(connector)
    assert isinstance(found, DiscoveredDataset)
    path.write_bytes(b"order_id\na\nb\n")  # still being written when the copy starts

    with pytest.raises(SourceError, match="changed while being copied"):
        connector.fetch(found.resources[0], tmp_path / "copy", None, None)


def test_a_file_past_its_size_limit_is_refused_while_copying(tmp_path: Path) -> None:
    lakehouse = FilesLakehouse.at(tmp_path, CIVICLAKE__FILES__MAX_FILE_BYTES="5")
    lakehouse.drop("olist_orders_dataset.csv", b"order_id\na\n")
    connector = FilesConnector.from_settings(lakehouse.settings)
    (found,) = discover(connector)
    assert isinstance(found, DiscoveredDataset) and found.resources[0].max_bytes == 5

    with pytest.raises(TooLargeError, match="limit of 5 bytes"):
        connector.fetch(found.resources[0], tmp_path / "copy", None, None)

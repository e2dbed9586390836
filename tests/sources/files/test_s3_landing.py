"""A landing zone in a bucket: the same connector on a real S3 server (MinIO)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from civiclake.servers.minio import MinioServer
from tests.sources.files.lakehouse import FilesLakehouse, count_records

pytestmark = pytest.mark.integration


@pytest.fixture
def s3(minio_server: MinioServer) -> MinioServer:
    return minio_server


def upload(s3: MinioServer, key: str, data: bytes) -> None:
    with s3.filesystem().open_output_stream(key) as stream:
        stream.write(data)


def test_files_dropped_in_a_bucket_load_once(s3: MinioServer, tmp_path: Path, samples: Path) -> None:
    bucket = f"landing{uuid.uuid4().hex[:10]}"
    s3.create_bucket(bucket)
    lakehouse = FilesLakehouse.at(
        tmp_path,
        CIVICLAKE__FILES__LANDING=f"s3://{bucket}/drops",
        CIVICLAKE__S3__ENDPOINT_URL=s3.endpoint_url,
        CIVICLAKE__S3__REGION=s3.region,
        CIVICLAKE__S3__ACCESS_KEY_ID=s3.access_key_id,
        CIVICLAKE__S3__SECRET_ACCESS_KEY=s3.secret_access_key,
    )
    reviews = samples / "olist_order_reviews_dataset.csv"
    upload(s3, f"{bucket}/drops/batch=0001/{reviews.name}", reviews.read_bytes())
    upload(s3, f"{bucket}/drops/batch=0001/manifest.txt", b"not data")
    upload(s3, f"{bucket}/elsewhere/olist_orders_dataset.csv", b"order_id\na\n")  # outside the prefix

    report = lakehouse.sync()

    assert report.exit_code == 0
    (outcome,) = report.outcomes
    assert outcome.resource_id == "batch=0001/olist_order_reviews_dataset.csv" and outcome.status == "loaded"
    assert outcome.rows == count_records(reviews) == lakehouse.table("order_reviews").num_rows
    resource_ids = set(lakehouse.table("order_reviews").column("_resource_id").to_pylist())
    assert resource_ids == {"batch=0001/olist_order_reviews_dataset.csv"}
    assert lakehouse.last_connector is not None
    assert [skipped.resource_id for skipped in lakehouse.last_connector.skipped] == ["batch=0001/manifest.txt"]
    (ingestion,) = [row for row in lakehouse.meta("ingestions").to_pylist() if row["status"] == "loaded"]
    assert ingestion["raw_path"].startswith("file://")  # the lake stays local; only the landing zone is S3

    again = lakehouse.sync()
    assert [(o.status, o.bytes) for o in again.outcomes] == [("unchanged", 0)]
    assert lakehouse.table("order_reviews").num_rows == outcome.rows

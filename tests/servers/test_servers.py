"""The cluster profile's pieces, for real on this machine: PostgreSQL, MinIO, and an Iceberg catalog on both."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from civiclake.servers.chart import chart_versions
from civiclake.servers.minio import MinioServer, install_minio, running_minio

from .postgres import PostgresServer, running_postgres

pytestmark = pytest.mark.integration

FIVE_MB = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    with running_postgres(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture
def s3(minio_server: MinioServer) -> MinioServer:
    return minio_server


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child not yet reaped by its parent is a zombie: dead for our purpose.
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return status != "Z"


def test_postgres_runs_sql_through_psycopg2(postgres: PostgresServer) -> None:
    import psycopg2

    connection = psycopg2.connect(postgres.dsn)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("CREATE TABLE datasets (id integer PRIMARY KEY, title text NOT NULL)")
            cursor.executemany("INSERT INTO datasets (id, title) VALUES (%s, %s)", [(1, "Élections"), (2, "Budget")])
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, title FROM datasets ORDER BY id")
            assert cursor.fetchall() == [(1, "Élections"), (2, "Budget")]
            cursor.execute("SHOW fsync")
            assert cursor.fetchone() == ("off",)
    finally:
        connection.close()
    assert postgres.host == "127.0.0.1"
    assert postgres.sqlalchemy_url("x") == f"postgresql+psycopg2://postgres@127.0.0.1:{postgres.port}/x"


def test_postgres_create_database(postgres: PostgresServer) -> None:
    import psycopg2

    postgres.create_database("Odd-Name")
    connection = psycopg2.connect(postgres.database_dsn("Odd-Name"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone() == ("Odd-Name",)
    finally:
        connection.close()


def test_postgres_keeps_its_files_in_a_reachable_base_dir_and_removes_them() -> None:
    # pytest's own temporary directories are 0700 and so out of the postgres user's reach (the module fixture
    # falls back to a private directory): check the ordinary case too.
    base_dir = Path(tempfile.mkdtemp(prefix="civiclake-pg-test-"))
    base_dir.chmod(0o711)
    try:
        with running_postgres(base_dir) as server:
            assert server.data_dir == base_dir / "postgres" / "data"
            assert (server.socket_dir / f".s.PGSQL.{server.port}").is_socket()
            postmaster_pid = int((server.data_dir / "postmaster.pid").read_text().splitlines()[0])
            assert _alive(postmaster_pid)
        assert not (base_dir / "postgres").exists()
        assert not _alive(postmaster_pid)
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)


def test_s3_bucket_and_five_megabyte_object_round_trip(s3: MinioServer) -> None:
    s3.create_bucket("roundtrip")
    fs = pafs.S3FileSystem(
        endpoint_override=s3.endpoint_url.removeprefix("http://"),
        scheme="http",
        access_key=s3.access_key_id,
        secret_key=s3.secret_access_key,
        region=s3.region,
    )
    payload = os.urandom(FIVE_MB) + b"tail"  # not a multiple of any part size
    with fs.open_output_stream("roundtrip/raw/blob.bin") as stream:
        stream.write(payload)

    with fs.open_input_stream("roundtrip/raw/blob.bin") as stream:
        read_back = stream.read()
    assert hashlib.sha256(read_back).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert read_back == payload

    buckets = {info.path for info in fs.get_file_info(pafs.FileSelector(""))}
    assert "roundtrip" in buckets
    listing = fs.get_file_info(pafs.FileSelector("roundtrip", recursive=True))
    files = {info.path: info.size for info in listing if info.type == pafs.FileType.File}
    assert files == {"roundtrip/raw/blob.bin": len(payload)}


def test_pyiceberg_sql_catalog_on_postgres_with_warehouse_on_s3(postgres: PostgresServer, s3: MinioServer) -> None:
    import psycopg2
    from pyiceberg.catalog.sql import SqlCatalog

    postgres.create_database("iceberg_catalog")
    s3.create_bucket("lakehouse")
    catalog = SqlCatalog(
        "civiclake",
        uri=postgres.sqlalchemy_url("iceberg_catalog"),
        warehouse="s3://lakehouse/warehouse",
        **{
            "s3.endpoint": s3.endpoint_url,
            "s3.access-key-id": s3.access_key_id,
            "s3.secret-access-key": s3.secret_access_key,
            "s3.region": s3.region,
        },
    )
    rows = pa.table(
        {
            "commune": pa.array(["01001", "2A004", "97411"], pa.string()),
            "population": pa.array([832, 68633, 153810], pa.int64()),
        }
    )
    catalog.create_namespace("bronze")
    table = catalog.create_table("bronze.communes", schema=rows.schema)
    table.append(rows)

    reloaded = catalog.load_table("bronze.communes")
    assert reloaded.scan().to_arrow().sort_by("commune").equals(rows)
    # The SQL catalog lays tables out as <warehouse>/<namespace>/<table> (no ".db" suffix).
    assert reloaded.metadata_location.startswith("s3://lakehouse/warehouse/bronze/communes/metadata/")

    # The files are really in the bucket, and the table's pointer is really in PostgreSQL.
    fs = s3.filesystem()
    stored = [
        info.path
        for info in fs.get_file_info(pafs.FileSelector("lakehouse/warehouse", recursive=True))
        if info.type == pafs.FileType.File
    ]
    assert any(path.endswith(".parquet") for path in stored)
    assert any(path.endswith(".metadata.json") for path in stored)
    connection = psycopg2.connect(postgres.database_dsn("iceberg_catalog"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT table_namespace, table_name, metadata_location FROM iceberg_tables")
            assert cursor.fetchall() == [("bronze", "communes", reloaded.metadata_location)]
    finally:
        connection.close()


def test_minio_stops_its_process_when_the_block_exits(tmp_path: Path) -> None:
    binary = install_minio(chart_versions().minio)
    with running_minio(binary, tmp_path / "data", access_key_id="probe", secret_access_key="probe-secret") as server:
        server.create_bucket("probe")
        assert _alive(server.pid)
    assert not _alive(server.pid)

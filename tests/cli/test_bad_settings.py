"""Bad settings, run as an operator runs them: the real `civiclake` process exits 2 at once, names the setting to fix,
and shows no traceback (nor the password of a URL it refuses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMAND = [sys.executable, "-c", "from civiclake.cli.main import main; main()"]
PASSWORD = "s3cr3t-pass"


def civiclake(tmp_path: Path, *arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    variables = {name: value for name, value in os.environ.items() if not name.startswith("CIVICLAKE")}
    variables.update(
        CIVICLAKE_HOME=str(tmp_path / "home"),
        CIVICLAKE_SECRETS_DIR=str(tmp_path / "no-secrets"),
        CIVICLAKE__HTTP__BACKOFF_INITIAL_SECONDS="0",
        COLUMNS="300",
    )
    variables.update(environment)
    return subprocess.run(
        COMMAND + list(arguments), capture_output=True, text=True, env=variables, cwd=tmp_path, timeout=120
    )


def assert_refused(result: subprocess.CompletedProcess[str], *named: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    for name in named:
        assert name in output, (name, output)


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        ("datagouv:\n  api_url: [unclosed\n", ("civiclake.yaml", "line 3", "not valid YAML")),
        ("http:\n  read_timeout_seconds: fast\n", ("http.read_timeout_seconds",)),
        ("datagouv: 5\n", ("datagouv",)),
        ("- a list\n- of things\n", ("civiclake.yaml", "mapping")),
        ("http:\n  read_timout_seconds: 5\n", ("http.read_timout_seconds",)),
    ],
    ids=["syntax", "wrong-type", "section-not-a-mapping", "not-a-mapping", "mistyped-key"],
)
def test_a_malformed_civiclake_yaml_exits_2_naming_what_to_fix(
    tmp_path: Path, yaml_text: str, named: tuple[str, ...]
) -> None:
    (tmp_path / "civiclake.yaml").write_text(yaml_text)
    assert_refused(civiclake(tmp_path, "tables"), *named)


def test_a_civiclake_yaml_that_is_not_utf8_exits_2(tmp_path: Path) -> None:
    (tmp_path / "civiclake.yaml").write_bytes("datagouv:\n  api_url: https://café.example/api\n".encode("cp1252"))
    assert_refused(civiclake(tmp_path, "tables"), "civiclake.yaml", "UTF-8")


@pytest.mark.parametrize("home", ["a-file", "a-file/home"])
def test_civiclake_home_on_a_file_exits_2(tmp_path: Path, home: str) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    assert_refused(civiclake(tmp_path, "tables", CIVICLAKE_HOME=str(tmp_path / home)), "CIVICLAKE_HOME", "a file")


@pytest.mark.parametrize("uri", ["nonsense://catalog", "not a url", "mysqlx+nodriver://u:p@h/db"])
def test_a_catalog_uri_that_is_not_a_database_url_exits_2(tmp_path: Path, uri: str) -> None:
    assert_refused(civiclake(tmp_path, "tables", CIVICLAKE__CATALOG__URI=uri), "CIVICLAKE__CATALOG__URI")


def test_a_catalog_database_that_cannot_be_reached_exits_2_without_its_password(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    uri = f"postgresql+psycopg2://iceberg:{PASSWORD}@127.0.0.1:1/iceberg"
    result = civiclake(tmp_path, "tables", CIVICLAKE__CATALOG__URI=uri)
    assert_refused(result, "CIVICLAKE__CATALOG__URI", "127.0.0.1")
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize("url", ["not a url", "ftp://www.data.gouv.fr/api", "https://", "http://host:port/api"])
def test_a_datagouv_api_url_that_is_not_http_exits_2_before_any_request(tmp_path: Path, url: str) -> None:
    result = civiclake(tmp_path, "sync", "--dataset", "x", CIVICLAKE__DATAGOUV__API_URL=url)
    assert_refused(result, "CIVICLAKE__DATAGOUV__API_URL", "http")
    assert "attempts" not in result.stdout + result.stderr  # refused, not retried


def test_credentials_in_the_datagouv_api_url_are_refused_and_never_shown(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    result = civiclake(
        tmp_path,
        "sync",
        "--dataset",
        "x",
        "--summary-json",
        str(summary),
        CIVICLAKE__DATAGOUV__API_URL=f"http://etl:{PASSWORD}@127.0.0.1:1/api",
    )
    assert_refused(result, "CIVICLAKE__DATAGOUV__API_URL", "credentials")
    assert PASSWORD not in result.stdout + result.stderr
    assert not summary.exists() or PASSWORD not in summary.read_text()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CIVICLAKE__HTTP__READ_TIMEOUT_SECONDS", "0"),
        ("CIVICLAKE__HTTP__CONNECT_TIMEOUT_SECONDS", "-1"),
        ("CIVICLAKE__READING__MAX_COMPRESSION_RATIO", "0"),
        ("CIVICLAKE__HTTP__MAX_CONCURRENT_DOWNLOADS", "0"),
        ("CIVICLAKE__HTTP__MAX_CONNECTIONS_PER_HOST", "0"),
        ("CIVICLAKE__HTTP__MAX_REQUESTS_PER_SECOND_PER_HOST", "-1"),
    ],
)
def test_zero_or_negative_timeouts_and_limits_exit_2(tmp_path: Path, variable: str, value: str) -> None:
    assert_refused(civiclake(tmp_path, "sync", "--dataset", "x", **{variable: value}), variable)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CIVICLAKE__S3__ENDPOINT_URL", f"http://minio:{PASSWORD}@127.0.0.1:9000"),
        ("CIVICLAKE__METRICS__PUSHGATEWAY_URL", f"http://push:{PASSWORD}@127.0.0.1:9091"),
    ],
)
def test_credentials_in_other_urls_are_refused_too(tmp_path: Path, variable: str, value: str) -> None:
    result = civiclake(tmp_path, "tables", **{variable: value})
    assert_refused(result, variable, "credentials")
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize("days", ["0", "a year"])
def test_an_audit_retention_that_is_not_a_positive_number_of_days_exits_2_naming_it(tmp_path: Path, days: str) -> None:
    result = civiclake(tmp_path, "audit", "load", CIVICLAKE__AUDIT__RETENTION_DAYS=days)
    assert_refused(result, "CIVICLAKE__AUDIT__RETENTION_DAYS")

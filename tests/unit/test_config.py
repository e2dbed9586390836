from pathlib import Path

import pytest

from civiclake.config import load_settings
from civiclake.errors import ConfigurationError


def test_defaults_are_the_local_profile(tmp_path: Path) -> None:
    settings = load_settings(environ={})
    assert settings.profile == "local"
    assert settings.datagouv.api_url == "https://www.data.gouv.fr/api"
    assert settings.catalog_uri.startswith("sqlite:///") and settings.catalog_uri.endswith(".civiclake/catalog.db")


def test_environment_overrides_yaml_and_secret_files_fill_secrets(tmp_path: Path) -> None:
    config = tmp_path / "civiclake.yaml"
    config.write_text("datagouv:\n  api_url: http://yaml.example/api\n  page_size: 10\ns3:\n  bucket: lake\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "CIVICLAKE__S3__SECRET_ACCESS_KEY").write_text("s3cr3t\n")
    settings = load_settings(
        environ={
            "CIVICLAKE_CONFIG": str(config),
            "CIVICLAKE_SECRETS_DIR": str(secrets),
            "CIVICLAKE__DATAGOUV__API_URL": "http://env.example/api",
            "CIVICLAKE_PROFILE": "cluster",
            "CIVICLAKE__CATALOG__URI": "postgresql+psycopg2://iceberg:pw@db/iceberg",
        }
    )
    assert settings.datagouv.api_url == "http://env.example/api"
    assert settings.datagouv.page_size == 10
    assert settings.s3.secret_access_key is not None
    assert settings.s3.secret_access_key.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(settings) and "pw@" not in repr(settings)
    assert settings.catalog_uri == "postgresql+psycopg2://iceberg:pw@db/iceberg"


def test_a_mistyped_variable_names_itself() -> None:
    with pytest.raises(ConfigurationError, match="CIVICLAKE__DATAGOUV__PAGE_SIZE"):
        load_settings(environ={"CIVICLAKE__DATAGOUV__PAGE_SIZE": "many"})
    with pytest.raises(ConfigurationError, match=r"s3\.bukcet"):
        load_settings(environ={"CIVICLAKE__S3__BUKCET": "lake"})


def test_the_cluster_profile_requires_a_catalog_database() -> None:
    settings = load_settings(environ={"CIVICLAKE_PROFILE": "cluster"})
    with pytest.raises(ConfigurationError, match="CIVICLAKE__CATALOG__URI"):
        _ = settings.catalog_uri

"""Typed settings, read from ``civiclake.yaml``, ``CIVICLAKE__SECTION__KEY`` variables and secret files.

Precedence, lowest first: defaults, the YAML file (``$CIVICLAKE_CONFIG`` or ``./civiclake.yaml``), one
file per setting in ``$CIVICLAKE_SECRETS_DIR`` (where Kubernetes mounts Secrets; each file is named
like the variable, e.g. ``CIVICLAKE__S3__SECRET_ACCESS_KEY``), then environment variables.
``CIVICLAKE_HOME`` and ``CIVICLAKE_PROFILE`` are the two top-level switches. Secrets are ``SecretStr``:
printing the settings never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from civiclake.errors import ConfigurationError

ENV_PREFIX = "CIVICLAKE__"
HOME_VARIABLE = "CIVICLAKE_HOME"
PROFILE_VARIABLE = "CIVICLAKE_PROFILE"
CONFIG_VARIABLE = "CIVICLAKE_CONFIG"
SECRETS_DIR_VARIABLE = "CIVICLAKE_SECRETS_DIR"
DEFAULT_SECRETS_DIR = "/run/secrets/civiclake"
DEFAULT_HOME = ".civiclake"


class _Section(BaseModel):
    # A mistyped key in civiclake.yaml or in a variable name is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class S3Settings(_Section):
    endpoint_url: str | None = Field(None, description="S3 endpoint, e.g. http://civiclake-minio:9000")
    bucket: str | None = Field(None, description="Lake bucket: raw files under raw/, Iceberg under warehouse/")
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None


class CatalogSettings(_Section):
    uri: SecretStr | None = Field(
        None, description="SQLAlchemy URL of the Iceberg SQL catalog; default: SQLite in CIVICLAKE_HOME"
    )
    name: str = Field("civiclake", description="Catalog name; Trino's iceberg.jdbc-catalog.catalog-name")


class HttpSettings(_Section):
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 60.0
    max_attempts: int = Field(5, ge=1, description="Tries per request, the first included")
    backoff_initial_seconds: float = Field(1.0, ge=0)
    backoff_max_seconds: float = Field(60.0, ge=0)
    user_agent: str = "civiclake/0.1 (+https://github.com/civiclake/civiclake)"


class DatagouvSettings(_Section):
    api_url: str = "https://www.data.gouv.fr/api"
    page_size: int = Field(50, ge=1, le=200)
    resource_types: tuple[str, ...] = ("main", "update")
    max_resource_bytes: int = Field(2 * 1024**3, ge=0, description="Larger resources are skipped")


class RegistrySettings(_Section):
    path: Path | None = Field(None, description="Dataset registry YAML; default: datasets.yaml if present")


class MetricsSettings(_Section):
    pushgateway_url: str | None = None


class ReadingSettings(_Section):
    max_archive_members: int = 1000
    max_expanded_bytes: int = 20 * 1024**3
    max_compression_ratio: float = 200.0


class Settings(_Section):
    profile: Literal["local", "cluster"] = "local"
    home: Path = Path(DEFAULT_HOME)
    s3: S3Settings = S3Settings()
    catalog: CatalogSettings = CatalogSettings()
    http: HttpSettings = HttpSettings()
    datagouv: DatagouvSettings = DatagouvSettings()
    registry: RegistrySettings = RegistrySettings()
    metrics: MetricsSettings = MetricsSettings()
    reading: ReadingSettings = ReadingSettings()

    @property
    def catalog_uri(self) -> str:
        if self.catalog.uri is not None:
            return self.catalog.uri.get_secret_value()
        if self.profile == "cluster":
            raise ConfigurationError(
                "the cluster profile needs a catalog database: set CIVICLAKE__CATALOG__URI "
                "(e.g. postgresql+psycopg2://iceberg:...@civiclake-postgresql:5432/iceberg)"
            )
        return f"sqlite:///{self.home.resolve() / 'catalog.db'}"

    @property
    def scratch_dir(self) -> Path:
        """Local working space for downloads in flight, on every profile."""
        return self.home / "tmp"

    def with_overrides(self, **sections: Mapping[str, Any]) -> Settings:
        """A copy with some keys of some sections replaced (the demo points data.gouv.fr at its mirror)."""
        data = self.model_dump()
        for section, values in sections.items():
            data[section] = {**data[section], **values}
        return _validate(_reveal_secrets(data), origin="overrides")


def load_settings(environ: Mapping[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Settings from defaults, YAML, secret files and environment, in that order of precedence."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    path = config_file or Path(environ.get(CONFIG_VARIABLE, "civiclake.yaml"))
    if path.is_file():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigurationError(f"{path}: expected a mapping of sections at the top level")
        data = loaded
    elif config_file is not None or CONFIG_VARIABLE in environ:
        raise ConfigurationError(f"configuration file {path} does not exist ({CONFIG_VARIABLE})")

    secrets_dir = Path(environ.get(SECRETS_DIR_VARIABLE, DEFAULT_SECRETS_DIR))
    if secrets_dir.is_dir():
        for secret_file in sorted(secrets_dir.iterdir()):
            if secret_file.name.startswith(ENV_PREFIX) and secret_file.is_file():
                _set_path(data, secret_file.name, secret_file.read_text(encoding="utf-8").strip())
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX):
            _set_path(data, name, value)
    if HOME_VARIABLE in environ:
        data["home"] = environ[HOME_VARIABLE]
    if PROFILE_VARIABLE in environ:
        data["profile"] = environ[PROFILE_VARIABLE]
    return _validate(data, origin=str(path) if path.is_file() else "environment")


def _set_path(data: dict[str, Any], variable: str, value: str) -> None:
    keys = [part.lower() for part in variable[len(ENV_PREFIX) :].split("__")]
    if len(keys) != 2 or not all(keys):
        raise ConfigurationError(f"{variable}: expected CIVICLAKE__<SECTION>__<KEY>, e.g. CIVICLAKE__S3__BUCKET")
    section = data.setdefault(keys[0], {})
    if not isinstance(section, dict):
        raise ConfigurationError(f"{variable}: section {keys[0]!r} is not a mapping in the configuration")
    section[keys[1]] = value


def _reveal_secrets(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {key: _reveal_secrets(item) for key, item in value.items()}
    return value


def _validate(data: dict[str, Any], origin: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            location = [str(part) for part in issue["loc"]]
            variable = ENV_PREFIX + "__".join(part.upper() for part in location) if len(location) == 2 else None
            where = ".".join(location) + (f" (variable {variable})" if variable else "")
            problems.append(f"{where}: {issue['msg']}")
        raise ConfigurationError(f"invalid settings from {origin}: " + "; ".join(problems)) from None

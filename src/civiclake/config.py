"""Typed settings, read from ``civiclake.yaml``, ``CIVICLAKE__SECTION__KEY`` variables and secret files.

Precedence, lowest first: defaults, the YAML file (``$CIVICLAKE_CONFIG`` or ``./civiclake.yaml``), one
file per setting in ``$CIVICLAKE_SECRETS_DIR`` (where Kubernetes mounts Secrets; each file is named
like the variable, e.g. ``CIVICLAKE__S3__SECRET_ACCESS_KEY``), then environment variables.
``CIVICLAKE_HOME`` and ``CIVICLAKE_PROFILE`` are the two top-level switches. Secrets are ``SecretStr``:
printing the settings never shows them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from civiclake.errors import ConfigurationError
from civiclake.redaction import redact_url

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


def http_url(value: str, credentials_go: str) -> str:
    """``value`` if it is an http(s) URL without credentials; else a ValueError saying what is wrong.

    Credentials in a URL would be printed and recorded wherever the URL is (errors, manifests, meta tables):
    ``credentials_go`` says where they belong instead."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{redact_url(value)!r} is not an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"remove the credentials from the URL ({redact_url(value)}): {credentials_go}")
    return value


class S3Settings(_Section):
    endpoint_url: str | None = Field(None, description="S3 endpoint, e.g. http://civiclake-minio:9000")
    bucket: str | None = Field(None, description="Lake bucket: raw files under raw/, Iceberg under warehouse/")
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str | None) -> str | None:
        keys = "S3 keys go in CIVICLAKE__S3__ACCESS_KEY_ID and CIVICLAKE__S3__SECRET_ACCESS_KEY (or secret files)"
        return http_url(value, keys) if value else None  # an empty variable is an unset one


class CatalogSettings(_Section):
    uri: SecretStr | None = Field(
        None, description="SQLAlchemy URL of the Iceberg SQL catalog; default: SQLite in CIVICLAKE_HOME"
    )
    name: str = Field("civiclake", description="Catalog name; Trino's iceberg.jdbc-catalog.catalog-name")

    @field_validator("uri")
    @classmethod
    def _uri_is_a_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked here, where the error can name the setting; the messages never quote the URL (it holds a password).
        if value is None:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            make_url(value.get_secret_value()).get_dialect()
        except ArgumentError:
            raise ValueError(
                "not a SQLAlchemy database URL (e.g. postgresql+psycopg2://user:password@host:5432/iceberg)"
            ) from None
        except NoSuchModuleError:
            name = value.get_secret_value().partition(":")[0]
            raise ValueError(f"no SQLAlchemy driver for {name!r} (use postgresql+psycopg2:// or sqlite:///)") from None
        return value


class HttpSettings(_Section):
    connect_timeout_seconds: float = Field(10.0, gt=0)
    read_timeout_seconds: float = Field(60.0, gt=0)
    max_attempts: int = Field(5, ge=1, description="Tries per request, the first included")
    backoff_initial_seconds: float = Field(1.0, ge=0)
    backoff_max_seconds: float = Field(60.0, ge=0)
    # A server can drip a byte just inside every read timeout: a whole download has a deadline too, of
    # max(floor, announced size / minimum throughput), retries included.
    download_deadline_floor_seconds: float = Field(
        600.0, gt=0, description="Least time a download may take, whatever its size"
    )
    download_min_bytes_per_second: float = Field(
        100_000.0, gt=0, description="Slowest throughput a download may average before its deadline passes"
    )
    user_agent: str = "civiclake/0.1 (+https://github.com/civiclake/civiclake)"
    # Within one sync, files of different resources download at once while the main thread loads the ones already
    # there; every request to one host (API calls and downloads) shares that host's limits.
    max_concurrent_downloads: int = Field(
        4, ge=1, le=64, description="Resources downloaded at once within one sync (1: one after the other)"
    )
    max_connections_per_host: int = Field(4, ge=1, le=64, description="Requests open at once to one host")
    max_requests_per_second_per_host: float = Field(
        25.0, ge=0, description="Requests started per second to one host, at most (0: no limit)"
    )


class DatagouvSettings(_Section):
    api_url: str = "https://www.data.gouv.fr/api"
    page_size: int = Field(50, ge=1, le=200)
    resource_types: tuple[str, ...] = ("main", "update")
    max_resource_bytes: int = Field(2 * 1024**3, ge=0, description="Larger resources are skipped")

    @field_validator("api_url")
    @classmethod
    def _api_url_is_a_url(cls, value: str) -> str:
        return http_url(value, "data.gouv.fr's API is read without credentials (a proxy's go in HTTPS_PROXY)")


class FilesPattern(_Section):
    """Which landing-zone files belong to which dataset and entity (table)."""

    match: str = Field(
        description="File name pattern: `*` matches within a name, `{entity}` captures the entity; a pattern "
        "with a `/` is matched against the path relative to the landing root"
    )
    dataset: str = Field(description="Dataset the matching files belong to (bronze.files__<dataset>__<entity>)")
    entity: str | None = Field(None, description="The entity, when the pattern has no {entity} placeholder")


class FilesSettings(_Section):
    landing: str | None = Field(
        None, description="Landing zone: a local folder or s3://bucket/prefix; default: CIVICLAKE_HOME/landing"
    )
    patterns: tuple[FilesPattern, ...] = (
        FilesPattern(match="olist_{entity}_dataset.csv", dataset="olist"),
        FilesPattern(
            match="product_category_name_translation.csv",
            dataset="olist",
            entity="product_category_name_translation",
        ),
    )
    max_file_bytes: int = Field(2 * 1024**3, ge=0, description="Larger files are refused")

    @field_validator("patterns", mode="before")
    @classmethod
    def _patterns_from_json(cls, value: Any) -> Any:
        # CIVICLAKE__FILES__PATTERNS can only carry text: a JSON list of {match, dataset, entity}.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as error:
                raise ValueError(f"expected a JSON list of {{match, dataset, entity}}: {error}") from None
        return value


class PostgresSettings(_Section):
    """An OLTP PostgreSQL database extracted incrementally (the ShopStream schema by default)."""

    # `schema` is the setting's name but shadows a BaseModel attribute: the field is `schema_name`, read under
    # either name (with_overrides dumps by field name).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    host: str | None = Field(None, description="Database host; unset: `civiclake sync` without --source skips it")
    port: int = Field(5432, ge=1, le=65535)
    database: str = Field("shopstream", description="Database name; the dataset id of its tables")
    user: str = "civiclake"
    password: SecretStr | None = Field(None, description="CIVICLAKE__POSTGRES__PASSWORD or a secret file")
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    schema_name: str = Field("public", alias="schema", description="PostgreSQL schema holding the tables")
    dataset: str = Field("shopstream", description="Dataset name: bronze.postgres__<dataset>__<table>")
    tables: tuple[str, ...] = ("users", "products", "orders", "order_items", "events", "crm_contacts")
    hard_delete_tables: tuple[str, ...] = Field(
        ("crm_contacts", "users"), description="Tables whose deleted rows become tombstones (key set compared)"
    )
    cursor_column: str = Field("updated_at", description="Incremental cursor: (cursor_column, key_column) > saved")
    key_column: str = "id"
    fetch_batch_size: int = Field(10_000, ge=1, description="Rows per server-side cursor fetch and Parquet row group")
    connect_timeout_seconds: int = Field(10, ge=1)
    frequency: str | None = Field("daily", description="Declared update frequency, for freshness alerts")

    @field_validator("tables", "hard_delete_tables", mode="before")
    @classmethod
    def _tables_from_text(cls, value: Any) -> Any:
        # CIVICLAKE__POSTGRES__TABLES can only carry text: a comma-separated list.
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value


RestAuth = Literal["none", "bearer", "basic"]


class RestEndpointSettings(_Section):
    """One paginated collection of a REST API, extracted incrementally; defaults fit ServiceNow's Table API
    (and ``civiclake serve incidents-api``)."""

    name: str = Field("incidents", description="Dataset name: bronze.rest__<name>__<resource>")
    base_url: str | None = Field(None, description="API root, e.g. https://acme.service-now.com; else rest.base_url")
    path: str = Field("/api/now/table/incident", description="Collection path under base_url")
    resource: str | None = Field(None, description="Resource (table) name; default: the path's last segment")
    records_field: str = Field("result", description="Member of each JSON answer holding the list of records")
    pagination: Literal["offset", "link"] = Field(
        "offset", description="offset: limit/offset pages keyed on the cursor; link: follow Link rel=next"
    )
    page_size: int = Field(1000, ge=1, le=10_000)
    limit_param: str = "sysparm_limit"
    offset_param: str = "sysparm_offset"
    query_param: str = Field("sysparm_query", description="Parameter taking the encoded query (cursor filter, order)")
    params: dict[str, str] = Field(default_factory=dict, description="Extra query parameters sent on every page")
    cursor_field: str = Field("sys_updated_on", description="Field that grows when a record changes")
    cursor_format: str = Field("%Y-%m-%d %H:%M:%S", description="strptime format of the cursor field's values")
    key_field: str = Field("sys_id", description="Field identifying a record")
    start: str | None = Field(None, description="Earliest cursor value extracted on a first run (cursor_format)")
    frequency: str | None = Field("hourly", description="Declared update frequency, for freshness alerts")
    auth: RestAuth | None = Field(None, description="none, bearer or basic; default: rest.auth")
    token: SecretStr | None = Field(None, description="Bearer token; default: rest.token")
    username: str | None = Field(None, description="Basic auth user; default: rest.username")
    password: SecretStr | None = Field(None, description="Basic auth password; default: rest.password")


class RestSettings(_Section):
    """REST APIs; what endpoints leave unset comes from here, so one service needs only variables."""

    base_url: str | None = Field(
        None, description="Default API root; unset and no endpoints: `civiclake sync` without --source skips rest"
    )
    auth: RestAuth = "bearer"
    token: SecretStr | None = Field(None, description="CIVICLAKE__REST__TOKEN or a secret file")
    username: str | None = None
    password: SecretStr | None = Field(None, description="CIVICLAKE__REST__PASSWORD or a secret file")
    endpoints: tuple[RestEndpointSettings, ...] = Field(
        (), description="Collections to sync; none listed but base_url set: the incidents table at base_url"
    )

    @field_validator("endpoints", mode="before")
    @classmethod
    def _endpoints_from_json(cls, value: Any) -> Any:
        # CIVICLAKE__REST__ENDPOINTS can only carry text: a JSON list of endpoint mappings.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as error:
                raise ValueError(f"expected a JSON list of endpoints ({{name, path, ...}}): {error}") from None
        return value

    def configured_endpoints(self) -> tuple[RestEndpointSettings, ...]:
        """The endpoints to sync: those listed, else the default (incidents) one when base_url is set."""
        if self.endpoints:
            return self.endpoints
        return (RestEndpointSettings(),) if self.base_url else ()


class RegistrySettings(_Section):
    path: Path | None = Field(None, description="Dataset registry YAML; default: datasets.yaml if present")


class MetricsSettings(_Section):
    pushgateway_url: str | None = None

    @field_validator("pushgateway_url")
    @classmethod
    def _pushgateway_is_a_url(cls, value: str | None) -> str | None:
        return http_url(value, "the Pushgateway is pushed to without credentials") if value else None


class AuditSettings(_Section):
    # How long meta.query_audit keeps a query's row (and the raw audit files their day): `civiclake audit load`
    # deletes older ones and the snapshots that still hold them.
    retention_days: int = Field(365, gt=0)


class ReadingSettings(_Section):
    max_archive_members: int = Field(1000, gt=0)
    max_expanded_bytes: int = Field(20 * 1024**3, gt=0)
    max_compression_ratio: float = Field(200.0, gt=0)


class TransformSettings(_Section):
    project_dir: Path | None = Field(
        None, description="The dbt project; default: the dbt/ folder of the civiclake checkout, else ./dbt"
    )
    target: Literal["duckdb", "trino"] | None = Field(
        None, description="dbt target; default: duckdb on the local profile, trino on the cluster profile"
    )


class PrivacySettings(_Section):
    pseudonymisation_key: SecretStr | None = Field(
        None,
        description=(
            "HMAC-SHA256 key of the pseudonyms (64 hex digits): CIVICLAKE__PRIVACY__PSEUDONYMISATION_KEY or a secret "
            "file; unset on the local profile: generated once into <home>/privacy.key (mode 0600)"
        ),
    )

    @field_validator("pseudonymisation_key")
    @classmethod
    def _key_is_32_bytes_of_hex(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", value.get_secret_value().strip()):
            raise ValueError("must be 64 hex digits (32 random bytes, e.g. `openssl rand -hex 32`)")
        return value


class Settings(_Section):
    profile: Literal["local", "cluster"] = "local"
    home: Path = Path(DEFAULT_HOME)
    s3: S3Settings = S3Settings()
    catalog: CatalogSettings = CatalogSettings()
    http: HttpSettings = HttpSettings()
    datagouv: DatagouvSettings = DatagouvSettings()
    files: FilesSettings = FilesSettings()
    postgres: PostgresSettings = PostgresSettings()
    rest: RestSettings = RestSettings()
    registry: RegistrySettings = RegistrySettings()
    metrics: MetricsSettings = MetricsSettings()
    reading: ReadingSettings = ReadingSettings()
    transform: TransformSettings = TransformSettings()
    privacy: PrivacySettings = PrivacySettings()
    audit: AuditSettings = AuditSettings()

    @field_validator("home")
    @classmethod
    def _home_is_a_folder(cls, value: Path) -> Path:
        # The nearest part of the path that exists must be a folder: everything civiclake keeps goes under it.
        for existing in (value, *value.parents):
            if existing.exists():
                if not existing.is_dir():
                    where = "is" if existing == value else f"is under {existing}, which is"
                    raise ValueError(f"{value} {where} a file, not a folder")
                break
        return value

    @property
    def catalog_uri(self) -> str:
        if self.catalog.uri is not None:
            return self.catalog.uri.get_secret_value()
        if self.profile == "cluster":
            raise ConfigurationError(
                "the cluster profile needs a catalog database: set CIVICLAKE__CATALOG__URI "
                "(e.g. postgresql+psycopg2://iceberg:...@civiclake-postgresql:5432/iceberg)"
            )
        return f"sqlite:///{self.local_catalog_file.resolve()}"

    @property
    def local_catalog_file(self) -> Path:
        """The local profile's SQLite catalog: its presence is what makes ``home`` a lakehouse."""
        return self.home / "catalog.db"

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
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or " ".join(str(error).split())
            raise ConfigurationError(f"{path}{where} is not valid YAML: {problem} ({CONFIG_VARIABLE})") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"{path} cannot be read as UTF-8 text: {error}") from None
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


_TOP_LEVEL_VARIABLES: dict[tuple[str, ...], str | None] = {("home",): HOME_VARIABLE, ("profile",): PROFILE_VARIABLE}


def _validate(data: dict[str, Any], origin: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            location = [str(part) for part in issue["loc"]]
            variable = ENV_PREFIX + "__".join(part.upper() for part in location) if len(location) == 2 else None
            variable = _TOP_LEVEL_VARIABLES.get(tuple(location), variable)
            where = ".".join(location) + (f" (variable {variable})" if variable else "")
            problems.append(f"{where}: {issue['msg'].removeprefix('Value error, ')}")
        raise ConfigurationError(f"invalid settings from {origin}: " + "; ".join(problems)) from None

"""What the launcher takes from the Helm chart, so a laptop's servers are configured as the cluster's are.

- Versions: ``trino.image.tag`` and ``minio.image.tag`` in charts/civiclake/values.yaml are the Trino and MinIO
  the chart deploys; the launcher fetches or builds exactly those.
- Trino's Iceberg catalog: the properties text is ``trino.catalogs.iceberg`` (the Trino chart mounts it verbatim
  as catalog/iceberg.properties), and its ``${ENV:...}`` variables are the ConfigMap the chart renders
  (``civiclake-trino-catalog-env``) plus the Secrets' keys, exactly as Trino's pod receives them.
- The pipeline's settings: the ``<release>-pipeline-env`` ConfigMap the chart renders for every pipeline pod.

The chart is rendered with helm-python-sdk (Helm's Go SDK: no helm binary, no cluster), with every dependency
turned off and ``external.*`` pointing at the launcher's servers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from civiclake.errors import ConfigurationError

# src/civiclake/servers/chart.py -> <checkout>/charts/civiclake
CHECKOUT_CHART_DIR = Path(__file__).resolve().parents[3] / "charts" / "civiclake"
RELEASE = "civiclake"
NAMESPACE = "civiclake"


@dataclass(frozen=True)
class ChartVersions:
    trino: str
    minio: str


def chart_dir() -> Path:
    if not (CHECKOUT_CHART_DIR / "values.yaml").is_file():
        raise ConfigurationError(
            f"the Helm chart is not at {CHECKOUT_CHART_DIR}: `civiclake dev` runs from a civiclake checkout "
            "(git clone, then `make install`)"
        )
    return CHECKOUT_CHART_DIR


@functools.cache
def chart_values() -> dict[str, Any]:
    values = yaml.safe_load((chart_dir() / "values.yaml").read_text(encoding="utf-8"))
    assert isinstance(values, dict)
    return values


def chart_versions() -> ChartVersions:
    values = chart_values()
    return ChartVersions(trino=str(values["trino"]["image"]["tag"]), minio=str(values["minio"]["image"]["tag"]))


def trino_iceberg_properties() -> str:
    """The Iceberg catalog file Trino reads, with its ``${ENV:...}`` placeholders."""
    return str(chart_values()["trino"]["catalogs"]["iceberg"])


# Where the Trino chart puts its configuration in the pods (its value server.config.path).
TRINO_CONFIG_DIR = "/etc/trino"


def trino_coordinator_files(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The files the chart's values add to the Trino coordinator's configuration directory, by path relative to it:
    access-control.properties (``trino.accessControl``, type ``properties``), the files of
    ``trino.coordinator.additionalConfigFiles``, event-listener.properties (``trino.eventListenerProperties``),
    and the keys of each ConfigMap of ``trino.coordinator.configMounts`` (taken from the rendered ``objects``).
    Their text still names the pod's paths (``TRINO_CONFIG_DIR``): the launcher rewrites them to its own."""
    trino = chart_values()["trino"]
    files: dict[str, str] = {}
    access_control = trino.get("accessControl") or {}
    if access_control:
        if access_control.get("type") != "properties":
            raise ConfigurationError(
                "trino.accessControl.type: the launcher applies type `properties` only, got "
                f"{access_control.get('type')!r}"
            )
        files["access-control.properties"] = str(access_control["properties"])
    coordinator = trino.get("coordinator") or {}
    files.update({name: str(text) for name, text in (coordinator.get("additionalConfigFiles") or {}).items()})
    if trino.get("eventListenerProperties"):
        files["event-listener.properties"] = "\n".join(str(line) for line in trino["eventListenerProperties"]) + "\n"
    config_maps = {obj["metadata"]["name"]: obj.get("data") or {} for obj in objects if obj.get("kind") == "ConfigMap"}
    for mount in coordinator.get("configMounts") or []:
        path = str(mount["path"])
        if not path.startswith(TRINO_CONFIG_DIR + "/"):
            raise ConfigurationError(
                f"trino.coordinator.configMounts {mount['name']}: path {path} is outside {TRINO_CONFIG_DIR}"
            )
        if mount["configMap"] not in config_maps:
            raise ConfigurationError(
                f"trino.coordinator.configMounts {mount['name']}: the chart rendered no ConfigMap {mount['configMap']}"
            )
        relative = path.removeprefix(TRINO_CONFIG_DIR + "/")
        for key, text in config_maps[mount["configMap"]].items():
            files[f"{relative}/{key}"] = str(text)
    return files


def render_for_servers(
    *, s3_endpoint: str, postgresql_host: str, postgresql_port: int, trino_url: str, trino_enabled: bool
) -> list[dict]:
    """Every object the chart renders when its services are the given external ones. With ``trino_enabled`` the
    chart renders Trino's catalog ConfigMap; without, its pods reach Trino at ``trino_url``."""
    import helm_python

    helm_python.disable_logging()
    values = values_for_servers(
        s3_endpoint=s3_endpoint,
        postgresql_host=postgresql_host,
        postgresql_port=postgresql_port,
        trino_url=trino_url,
        trino_enabled=trino_enabled,
    )
    rendered = helm_python.Chart.load(chart_dir()).render(values, name=RELEASE, namespace=NAMESPACE)
    objects: list[dict] = []
    for template, text in rendered.items():
        if template.endswith(".yaml"):
            objects.extend(document for document in yaml.safe_load_all(text) if document)
    return objects


def values_for_servers(
    *, s3_endpoint: str, postgresql_host: str, postgresql_port: int, trino_url: str, trino_enabled: bool
) -> dict[str, Any]:
    """The values that turn the chart's dependencies off and point ``external.*`` at the given servers."""
    return {
        "trino": {"enabled": trino_enabled},
        "airflow": {"enabled": False},
        "minio": {"enabled": False},
        "postgresql": {"enabled": False},
        # Kept on for its Pushgateway URL, which the launcher drops: no Prometheus runs here.
        "prometheus": {"enabled": True},
        "grafana": {"enabled": False},
        "catalog": {"port": postgresql_port},
        "external": {
            "s3Endpoint": s3_endpoint,
            "postgresqlHost": postgresql_host,
            "trinoUrl": trino_url,
        },
    }

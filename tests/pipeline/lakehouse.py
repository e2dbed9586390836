"""Helpers for pipeline tests: a lakehouse to sync into, with the bundled mirror standing in for data.gouv.fr."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from civiclake.config import Settings
from civiclake.demo.mirror.server import MirrorServer
from civiclake.pipeline import SyncPipeline, SyncReport
from civiclake.registry import DatagouvDataset
from civiclake.sources.datagouv import DatagouvConnector, DatagouvSelection
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.meta import MetaTables

# Ids of the bundled mirror's datasets (src/civiclake/demo/mirror/catalog/).
CODES_POSTAUX = "53d65eb8bd2bb1511380c55a"
CODES_POSTAUX_CSV = "9f697a55-e3cd-4d2f-bad0-58cbe0e01944"
GARES = "581c510f9f9d1d436acab664"
FREQUENTATION = "5ce572bf226c7f3345dfbc63"
ACCIDENTS = "53698f4ca3a729239d2036df"
IRVE = "604f3a7237e3d1284af2d2f4"
BAN = "5530fbacc751df5ff937dddb"
DELETED = "542d130caaa9942b00d06dd4"
MIRROR_FILES = Path(__file__).resolve().parents[2] / "src" / "civiclake" / "demo" / "mirror" / "files"


def fast_retries(settings: Settings, mirror: MirrorServer) -> Settings:
    """Point data.gouv.fr at the mirror and keep the backoff short: the waits themselves are not tested here."""
    return settings.with_overrides(
        datagouv={"api_url": mirror.api_url},
        http={
            "backoff_initial_seconds": 0.01,
            "backoff_max_seconds": 0.05,
            "max_attempts": 3,
            "read_timeout_seconds": 2,
        },
    )


@dataclass
class Lakehouse:
    settings: Settings

    def sync(self, *dataset_ids: str, full_refresh: bool = False) -> SyncReport:
        selection = DatagouvSelection(datasets=[DatagouvDataset(id=dataset_id) for dataset_id in dataset_ids])
        connector = DatagouvConnector(self.settings.datagouv, self.settings.http, selection)
        pipeline = SyncPipeline(self.settings)
        try:
            return pipeline.sync(connector, full_refresh=full_refresh)
        finally:
            connector.close()
            pipeline.close()

    def table(self, name: str) -> pa.Table:
        return open_catalog(self.settings).load_table(name).scan().to_arrow()

    def table_names(self, namespace: str = "bronze") -> set[str]:
        return {".".join(identifier) for identifier in open_catalog(self.settings).list_tables(namespace)}

    def meta(self, name: str) -> pa.Table:
        return MetaTables(open_catalog(self.settings)).read(name)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()

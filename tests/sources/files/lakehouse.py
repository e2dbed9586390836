"""A local lakehouse whose ``files`` source reads a landing folder of the test's own."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from civiclake.config import Settings, load_settings
from civiclake.pipeline import SyncPipeline, SyncReport
from civiclake.sources.files import FilesConnector
from civiclake.warehouse.catalog import open_catalog
from civiclake.warehouse.meta import MetaTables
from tests.samples import OLIST_SAMPLES


def olist_samples() -> Path:
    """The real Olist samples; their absence fails the test (it must not pass without them)."""
    assert OLIST_SAMPLES.is_dir(), f"the real Olist samples are missing: expected them in {OLIST_SAMPLES}"
    files = sorted(OLIST_SAMPLES.glob("*.csv"))
    assert len(files) == 8, f"expected the 8 Olist sample files in {OLIST_SAMPLES}, found {len(files)}"
    return OLIST_SAMPLES


def count_records(path: Path) -> int:
    """Records of a CSV as Python's csv module counts them (a multi-line value is one record)."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as stream:
        return sum(1 for row in csv.reader(stream) if row) - 1


@dataclass
class FilesLakehouse:
    settings: Settings
    last_connector: FilesConnector | None = None

    @classmethod
    def at(cls, base: Path, **environ: str) -> FilesLakehouse:
        landing = base / "landing"
        landing.mkdir(parents=True, exist_ok=True)
        defaults = {"CIVICLAKE_HOME": str(base / "home"), "CIVICLAKE__FILES__LANDING": str(landing)}
        return cls(load_settings(environ={**defaults, **environ}))

    @property
    def landing(self) -> Path:
        assert self.settings.files.landing is not None
        return Path(self.settings.files.landing)

    def drop(self, relative: str, data: bytes) -> Path:
        target = self.landing / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def drop_file(self, source: Path, relative: str | None = None) -> Path:
        target = self.landing / (relative or source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return target

    def sync(self, *, full_refresh: bool = False) -> SyncReport:
        self.last_connector = FilesConnector.from_settings(self.settings)
        pipeline = SyncPipeline(self.settings)
        try:
            return pipeline.sync(self.last_connector, full_refresh=full_refresh)
        finally:
            self.last_connector.close()
            pipeline.close()

    def table(self, entity: str, dataset: str = "olist") -> pa.Table:
        return open_catalog(self.settings).load_table(f"bronze.files__{dataset}__{entity}").scan().to_arrow()

    def table_names(self) -> set[str]:
        return {".".join(identifier) for identifier in open_catalog(self.settings).list_tables("bronze")}

    def meta(self, name: str) -> pa.Table:
        return MetaTables(open_catalog(self.settings)).read(name)

    def raw_files(self) -> list[Path]:
        lake = self.settings.home / "lake"
        return sorted(path for path in lake.rglob("*") if path.is_file() and not path.name.endswith(".json"))

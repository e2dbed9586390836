"""The dataset registry: which datasets each source syncs, and how.

A YAML file (``datasets.yaml`` by default, ``CIVICLAKE__REGISTRY__PATH`` otherwise). A typo in it is an
error that names the entry and the key, before anything is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from civiclake.errors import ConfigurationError

Frequency = Literal[
    "unknown", "punctual", "irregular", "continuous", "hourly", "fourTimesADay", "threeTimesADay",
    "semidaily", "daily", "fourTimesAWeek", "threeTimesAWeek", "semiweekly", "weekly", "biweekly",
    "threeTimesAMonth", "semimonthly", "monthly", "bimonthly", "quarterly", "threeTimesAYear",
    "semiannual", "annual", "biennial", "triennial", "quinquennial",
]  # fmt: skip


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatagouvDataset(_Entry):
    id: str = Field(description="data.gouv.fr dataset id (preferred: slugs change) or slug")
    name: str | None = Field(None, description="Name used in table names; default: the dataset's slug")
    frequency: Frequency | None = Field(None, description="Overrides the catalogue's declared frequency")
    resources: list[str] | None = Field(None, description="Resource ids or title globs to keep; default: all")
    max_resource_bytes: int | None = Field(None, ge=0, description="Overrides the default size limit")
    resource_limits: dict[str, int] = Field(
        default_factory=dict, description="Size limits for single resources, by resource id or title glob"
    )


class DatagouvSearch(_Entry):
    query: str | None = None
    organization: str | None = None
    tags: list[str] = Field(default_factory=list)
    max_datasets: int = Field(20, ge=1, le=1000)

    @model_validator(mode="after")
    def _needs_a_criterion(self) -> DatagouvSearch:
        if not (self.query or self.organization or self.tags):
            raise ValueError("a search needs at least one of query, organization, tags")
        return self


class DatagouvRegistry(_Entry):
    datasets: list[DatagouvDataset] = Field(default_factory=list)
    searches: list[DatagouvSearch] = Field(default_factory=list)


class Registry(_Entry):
    datagouv: DatagouvRegistry = DatagouvRegistry()


def load_registry(path: Path | None) -> Registry:
    """The registry at ``path``; an empty one when no path is set and no ``datasets.yaml`` exists."""
    if path is None:
        default = Path("datasets.yaml")
        if not default.is_file():
            return Registry()
        path = default
    if not path.is_file():
        raise ConfigurationError(f"dataset registry {path} does not exist (CIVICLAKE__REGISTRY__PATH)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigurationError(f"dataset registry {path} is not valid YAML: {error}") from None
    try:
        return Registry.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" for issue in error.errors()
        )
        raise ConfigurationError(f"dataset registry {path}: {problems}") from None

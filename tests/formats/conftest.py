"""Fixtures for the format readers: the real sample files, and helpers to read parts whole."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from civiclake.formats import TabularPart
from tests.samples import SAMPLE_DATA

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real sample files the repository carries (tests/data)."""
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def datagouv_dir(real_data_dir: Path) -> Path:
    return real_data_dir / "datagouv"


@pytest.fixture(scope="session")
def olist_dir(real_data_dir: Path) -> Path:
    return real_data_dir / "olist"


def read_part(part: TabularPart) -> pa.Table:
    """All batches of a part as one table, checking each conforms to the announced schema."""
    batches = list(part.batches())
    for batch in batches:
        assert batch.schema.equals(part.schema, check_metadata=True)
    return pa.Table.from_batches(batches, schema=part.schema)


def original_names(schema: pa.Schema) -> list[str]:
    return [field.metadata[b"original_name"].decode() for field in schema]

"""Where the real sample files live (tests/data, with their provenance in its README): the one place that knows."""

from __future__ import annotations

from pathlib import Path

SAMPLE_DATA = Path(__file__).resolve().parent / "data"
DATAGOUV_SAMPLES = SAMPLE_DATA / "datagouv"
OLIST_SAMPLES = SAMPLE_DATA / "olist"

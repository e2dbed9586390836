"""ShopStream: the e-commerce OLTP schema civiclake's PostgreSQL source is built and tested against."""

from civiclake.demo.shopstream.generator import (
    DEFAULT_AS_OF,
    DEFAULT_SEED,
    DayOfChanges,
    ShopstreamCounts,
    apply_day_of_changes,
    generate_shopstream,
    table_fingerprints,
)
from civiclake.demo.shopstream.schema import TABLES, create_schema

__all__ = [
    "DEFAULT_AS_OF",
    "DEFAULT_SEED",
    "TABLES",
    "DayOfChanges",
    "ShopstreamCounts",
    "apply_day_of_changes",
    "create_schema",
    "generate_shopstream",
    "table_fingerprints",
]

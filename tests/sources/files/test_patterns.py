"""Which dataset and entity a landed file goes to; bad patterns are configuration errors."""

from __future__ import annotations

import json

import pytest

from civiclake.config import FilesPattern, load_settings
from civiclake.errors import ConfigurationError
from civiclake.sources.files import FilePatterns, PatternMatch


def default_patterns() -> FilePatterns:
    return FilePatterns(load_settings(environ={}).files.patterns)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("olist_orders_dataset.csv", PatternMatch("olist", "orders")),
        ("batch=0003/olist_order_items_dataset.csv", PatternMatch("olist", "order_items")),
        ("2018/01/olist_geolocation_dataset.csv", PatternMatch("olist", "geolocation")),
        (
            "batch=0001/product_category_name_translation.csv",
            PatternMatch("olist", "product_category_name_translation"),
        ),
        ("olist_orders_dataset.csv.gz", None),
        ("orders.csv", None),
        ("olist__dataset.csv", None),
    ],
)
def test_the_default_patterns_map_olist_files_to_their_entity(path: str, expected: PatternMatch | None) -> None:
    assert default_patterns().match(path) == expected


def test_a_pattern_with_a_folder_matches_the_whole_path_and_the_first_match_wins() -> None:
    patterns = FilePatterns(
        [
            FilesPattern(match="exports/*/{entity}.csv", dataset="crm"),
            FilesPattern(match="*.csv", dataset="misc", entity="everything"),
        ]
    )
    assert patterns.match("exports/2024-01/contacts.csv") == PatternMatch("crm", "contacts")
    assert patterns.match("contacts.csv") == PatternMatch("misc", "everything")  # the first needs the folders
    assert patterns.match("exports/a/b/contacts.csv") == PatternMatch("misc", "everything")  # `*` stops at `/`
    assert patterns.datasets == ["crm", "misc"]


def test_patterns_come_from_a_json_variable() -> None:
    value = json.dumps([{"match": "ventes_{entity}.csv", "dataset": "ventes"}])
    settings = load_settings(environ={"CIVICLAKE__FILES__PATTERNS": value})
    assert FilePatterns(settings.files.patterns).match("x/ventes_2024.csv") == PatternMatch("ventes", "2024")


def test_a_malformed_patterns_variable_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="CIVICLAKE__FILES__PATTERNS"):
        load_settings(environ={"CIVICLAKE__FILES__PATTERNS": "olist_*.csv"})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (FilesPattern(match="olist_*.csv", dataset="olist"), "needs an {entity} placeholder or an `entity`"),
        (FilesPattern(match="{entity}.csv", dataset="olist", entity="x"), "both"),
        (FilesPattern(match="{entity}_{entity}.csv", dataset="olist"), "more than once"),
        (FilesPattern(match="{entity}.csv", dataset=" "), "empty `dataset`"),
    ],
)
def test_a_bad_pattern_is_refused_with_the_reason(pattern: FilesPattern, reason: str) -> None:
    with pytest.raises(ConfigurationError, match=r"files\.patterns") as raised:
        FilePatterns([pattern])
    assert reason in str(raised.value)


def test_no_pattern_at_all_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="empty"):
        FilePatterns([])

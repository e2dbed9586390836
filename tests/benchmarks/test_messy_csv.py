"""The benchmark's input generator: seeded, bounded in size, as messy as promised, typed as civiclake reads it."""

from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path

import pytest
from benchmarks.messy_csv import EXPECTED_TYPES, HEADER, parse_size, write_messy_csv

from civiclake.formats import detect_format, open_tabular

SIZE = 400_000


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_and_size_give_the_same_bytes(tmp_path: Path) -> None:
    first = write_messy_csv(tmp_path / "a.csv", SIZE, seed=7)
    second = write_messy_csv(tmp_path / "b.csv", SIZE, seed=7)
    other = write_messy_csv(tmp_path / "c.csv", SIZE, seed=8)
    assert digest(first.path) == digest(second.path)
    assert digest(first.path) != digest(other.path)


@pytest.mark.parametrize("size", [2_000, 150_000, 1_000_003])
def test_the_file_never_exceeds_the_size_and_ends_with_a_whole_row(tmp_path: Path, size: int) -> None:
    generated = write_messy_csv(tmp_path / "m.csv", size)
    data = generated.path.read_bytes()
    assert len(data) == generated.size_bytes <= size
    assert size - len(data) < 400  # at most one row short of the size asked
    assert data.endswith(b"\n")
    with generated.path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert rows[0] == HEADER
    assert len(rows) - 1 == generated.rows
    assert {len(row) for row in rows} == {len(HEADER)}


def test_the_messy_parts_are_there(tmp_path: Path) -> None:
    generated = write_messy_csv(tmp_path / "m.csv", 4_000_000)
    with generated.path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    comments = [row["Commentaire"] for row in rows if row["Commentaire"]]
    assert any(";" in comment for comment in comments) and any("\n" in comment for comment in comments)
    assert any('"' in comment for comment in comments)
    assert any(row["Code postal"].startswith("0") for row in rows)
    corsica = [index for index, row in enumerate(rows) if row["Code commune"].startswith(("2A", "2B"))]
    # Corsica comes in department order, about a fifth into the file: past any sample on a large file.
    assert corsica and corsica[0] > len(rows) * 0.15
    assert any("," in row["Valeur foncière"] for row in rows)
    assert sum(not row["Surface terrain"] for row in rows) > len(rows) // 4
    assert any(int(row["Date mutation"][:2]) > 12 for row in rows)
    assert all(len(row["SIRET"]) in (0, 14) for row in rows)


def test_civiclake_reads_the_types_it_is_expected_to(tmp_path: Path) -> None:
    generated = write_messy_csv(tmp_path / "m.csv", 300_000)
    (part,) = open_tabular(generated.path)
    assert dict(zip(part.schema.names, part.schema.types, strict=True)) == EXPECTED_TYPES


def test_the_cp1252_variant_is_the_same_text_in_another_encoding(tmp_path: Path) -> None:
    utf8 = write_messy_csv(tmp_path / "u.csv", SIZE)
    windows = write_messy_csv(tmp_path / "w.csv", SIZE, encoding="cp1252")
    assert detect_format(windows.path).encoding == "cp1252"
    assert detect_format(windows.path).delimiter == ";"
    with utf8.path.open(encoding="utf-8", newline="") as handle:
        utf8_rows = list(csv.reader(handle, delimiter=";"))
    with windows.path.open(encoding="cp1252", newline="") as handle:
        windows_rows = list(csv.reader(handle, delimiter=";"))
    shared = min(len(utf8_rows), len(windows_rows))
    assert shared > len(utf8_rows) * 0.95
    assert windows_rows[:shared] == utf8_rows[:shared]
    assert windows.path.read_bytes().count(b"\r\n") >= shared
    assert "€" in windows.path.read_bytes().decode("cp1252")


def test_unknown_encodings_and_tiny_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="encoding"):
        write_messy_csv(tmp_path / "m.csv", SIZE, encoding="latin-1")
    with pytest.raises(ValueError, match="header"):
        write_messy_csv(tmp_path / "m.csv", 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1GiB", 1024**3), ("256MiB", 256 * 1024**2), ("64MB", 64_000_000), ("1000", 1000), ("1.5 GiB", 3 * 1024**3 // 2)],
)
def test_sizes_are_read_with_their_units(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_a_size_without_a_number_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a size"):
        parse_size("big")

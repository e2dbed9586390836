"""A seeded generator of messy French open-data CSV, shaped like DVF (valeurs foncières) and the accidents files.

`;` separated, 23 columns: codes with leading zeros (postal codes, INSEE codes with Corsica's `2A004`, SIRET),
dd/mm/yyyy dates, decimal-comma amounts and coordinates, integers with empty cells, accented free text with quoted
`;`, doubled quotes and line breaks. Rows come by department in file order, as DVF's do: Corsica's letter codes
first show up about a fifth into the file, past the first rows an engine samples to guess types.

Columns are built with pyarrow compute over blocks of rows (no per-row Python), so 1 GiB takes seconds. The same
seed and size give the same bytes; the cp1252 variant is the same text encoded for Windows, with CRLF line ends.
"""

from __future__ import annotations

import argparse
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

HEADER = [
    "Identifiant de mutation",
    "Date mutation",
    "No disposition",
    "Nature mutation",
    "Valeur foncière",
    "No voie",
    "B/T/Q",
    "Voie",
    "Code postal",
    "Code commune",
    "Commune",
    "Code département",
    "SIRET",
    "Nombre de lots",
    "Type local",
    "Surface réelle bâti",
    "Nombre pièces principales",
    "Surface terrain",
    "Longitude",
    "Latitude",
    "Commentaire",
    "Date publication",
    "Heure",
]
# The column names civiclake gives these headers, and the types its inference must find.
EXPECTED_TYPES: dict[str, pa.DataType] = {
    "identifiant_de_mutation": pa.string(),
    "date_mutation": pa.date32(),
    "no_disposition": pa.string(),
    "nature_mutation": pa.string(),
    "valeur_fonciere": pa.float64(),
    "no_voie": pa.string(),
    "b_t_q": pa.string(),
    "voie": pa.string(),
    "code_postal": pa.string(),
    "code_commune": pa.string(),
    "commune": pa.string(),
    "code_departement": pa.string(),
    "siret": pa.string(),
    "nombre_de_lots": pa.int64(),
    "type_local": pa.string(),
    "surface_reelle_bati": pa.int64(),
    "nombre_pieces_principales": pa.int64(),
    "surface_terrain": pa.int64(),
    "longitude": pa.float64(),
    "latitude": pa.float64(),
    "commentaire": pa.string(),
    "date_publication": pa.date32(),
    "heure": pa.string(),
}
# Code-like columns: every engine is told to keep them as text (a sample cannot prove `2A004` will come).
CODE_COLUMNS = [HEADER[index] for index in (0, 2, 5, 8, 9, 11, 12)]
DATE_COLUMNS = ["Date mutation", "Date publication"]
DECIMAL_COMMA_COLUMNS = ["Valeur foncière", "Longitude", "Latitude"]

DEPARTMENTS = [f"{number:02d}" for number in range(1, 20)] + ["2A", "2B"] + [f"{n}" for n in range(21, 96)]
POSTAL_PREFIXES = ["20" if code in ("2A", "2B") else code for code in DEPARTMENTS]  # Corsica's postal codes: 20xxx
NATURES = ["Vente", "Vente", "Vente", "Vente en l'état futur d'achèvement", "Échange", "Adjudication"]
STREET_KINDS = ["RUE", "AV", "BD", "CHE", "IMP", "PL", "ALL", "RTE", "LD"]
STREET_NAMES = [
    "DE LA RÉPUBLIQUE",
    "DE L'ÉGLISE",
    "DES ÉCOLES",
    "JEAN JAURÈS",
    "DU GÉNÉRAL DE GAULLE",
    "SAINT-EXUPÉRY",
    "DES PRÉS",
    "DU CHÂTEAU",
    "DE LA FORÊT",
    "PASTEUR",
    "VICTOR HUGO",
    "DES ÇEDRES",
    "FRANÇOIS MITTERRAND",
    "DU MOULIN",
    "LES HAUTS DE LA CÔTE",
]
TOWNS = [
    "L'Abergement-Clémenciat",
    "Saint-Étienne",
    "Ajaccio",
    "Bastia",
    "Châteauroux",
    "Évreux",
    "Besançon",
    "Nîmes",
    "Orléans",
    "Cœuvres-et-Valsery",
    "Saint-Rémy-de-Provence",
    "Aÿ-Champagne",
    "La Bâthie",
    "Montbéliard",
    "Lons-le-Saunier",
    "Pont-l'Évêque",
]
LOCAL_TYPES = ["", "", "Maison", "Appartement", "Dépendance", "Local industriel. commercial ou assimilé"]
SUFFIXES = ["", "", "", "", "", "", "", "", "", "B", "T", "Q"]
COMMENTS = [
    "Vente ; libre d'occupation",
    "Travaux à prévoir\nToiture refaite en 2019",
    'Bien dit "La Roseraie" ; jardin arboré',
    "Prix net vendeur : 12 500 € ; frais d\u2019agence inclus",
    "Cœur de ville\r\nproche écoles ; commerces",
    "Lot n° 3 ; cave et parking",
    "«Ancienne ferme» ; dépendances ; 2 ha",
]
_ROWS_PER_BLOCK = 16_384
_AVERAGE_ROW_BYTES = 175  # of a UTF-8 row, measured over large files


@dataclass(frozen=True)
class GeneratedFile:
    path: Path
    rows: int
    size_bytes: int
    encoding: str


def parse_size(text: str) -> int:
    """`1GiB`, `256MiB`, `64MB`, `1000000` -> bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMG]i?B?|B)?\s*", text, flags=re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (say 64MiB, 1GiB or a number of bytes)")
    number, unit = float(match.group(1)), (match.group(2) or "B").upper().rstrip("B") or "B"
    factors = {"B": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "KI": 1024, "MI": 1024**2, "GI": 1024**3}
    return int(number * factors[unit])


def write_messy_csv(path: Path, size_bytes: int, *, seed: int = 20240101, encoding: str = "utf-8") -> GeneratedFile:
    """Write about ``size_bytes`` (never more) of messy CSV to ``path``; same seed and size, same bytes."""
    if encoding not in ("utf-8", "cp1252"):
        raise ValueError(f"encoding must be utf-8 or cp1252, not {encoding!r}")
    line_end = "\r\n" if encoding == "cp1252" else "\n"
    header = (";".join(HEADER) + line_end).encode(encoding)
    if size_bytes < len(header):
        raise ValueError(f"{size_bytes} bytes cannot even hold the header ({len(header)} bytes)")
    rows = 0
    written = len(header)
    with path.open("wb") as handle:
        handle.write(header)
        # Departments follow the row's position in the file, estimated from the size asked, so that both
        # encodings hold the same rows in the same order.
        expected_rows = max(size_bytes // _AVERAGE_ROW_BYTES, 1)
        for block_number in itertools.count():
            first_row = block_number * _ROWS_PER_BLOCK
            spread = (
                first_row * len(DEPARTMENTS) / expected_rows,
                (first_row + _ROWS_PER_BLOCK) * len(DEPARTMENTS) / expected_rows,
            )
            lines = _block_lines(seed, block_number, spread, line_end)
            encoded = [line.encode(encoding) for line in lines]
            fitting = _count_fitting(encoded, size_bytes - written)
            handle.write(b"".join(encoded[:fitting]))
            rows += fitting
            written += sum(len(line) for line in encoded[:fitting])
            if fitting < len(encoded):
                break
    return GeneratedFile(path, rows, written, encoding)


def _count_fitting(lines: list[bytes], room: int) -> int:
    used = 0
    for count, line in enumerate(lines):
        used += len(line)
        if used > room:
            return count
    return len(lines)


class _Randoms:
    """Independent seeded uniform draws for one block: one stream per column."""

    def __init__(self, seed: int, block_number: int, size: int) -> None:
        self._base = (seed * 1_000_003 + block_number * 7919) % (2**62)
        self._size = size
        self._drawn = 0

    def uniform(self) -> pa.Array:
        self._drawn += 1
        return pc.random(self._size, initializer=self._base + self._drawn)

    def integers(self, low: int, high: int) -> pa.Array:
        """Uniform integers in [low, high)."""
        scaled = pc.floor(pc.multiply(self.uniform(), high - low))
        return pc.add(pc.cast(scaled, pa.int64()), low)

    def pick(self, pool: list[str]) -> pa.Array:
        return pc.take(pa.array(pool, pa.string()), self.integers(0, len(pool)))

    def emptied(self, values: pa.Array, share_empty: float) -> pa.Array:
        return pc.if_else(pc.less(self.uniform(), share_empty), "", values)


def _text(values: pa.Array) -> pa.Array:
    return pc.cast(values, pa.string())


def _padded(values: pa.Array, width: int) -> pa.Array:
    return pc.utf8_lpad(_text(values), width=width, padding="0")


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _decimal_comma(units: pa.Array, decimals: int) -> pa.Array:
    """Integers counted in 10**-decimals, written as French decimals: -1553621 -> `-1,553621`."""
    scale = 10**decimals
    magnitude = pc.abs(units)
    sign = pc.if_else(pc.less(units, 0), "-", "")
    whole = pc.divide(magnitude, scale)  # integer division
    fraction = pc.subtract(magnitude, pc.multiply(whole, scale))
    return _join(sign, _text(whole), ",", _padded(fraction, decimals))


def _day_first_dates(randoms: _Randoms, first_year: int, last_year: int) -> pa.Array:
    day, month, year = randoms.integers(1, 29), randoms.integers(1, 13), randoms.integers(first_year, last_year + 1)
    return _join(_padded(day, 2), "/", _padded(month, 2), "/", _text(year))


def _block_lines(seed: int, block_number: int, departments: tuple[float, float], line_end: str) -> list[str]:
    size = _ROWS_PER_BLOCK
    randoms = _Randoms(seed, block_number, size)
    positions = pa.array(range(size), pa.int64())
    counter = pc.add(positions, block_number * size + 1)
    commune_number = randoms.integers(1, 400)
    first, last = departments
    spread = pc.add(pc.multiply(pc.cast(positions, pa.float64()), (last - first) / size), first)
    department_index = pc.min_element_wise(pc.cast(pc.floor(spread), pa.int64()), len(DEPARTMENTS) - 1)
    department_code = pc.take(pa.array(DEPARTMENTS), department_index)
    postal_prefix = pc.take(
        pa.array(["20" if code in ("2A", "2B") else code for code in DEPARTMENTS]), department_index
    )
    comments = [f'"{comment.replace(chr(34), chr(34) * 2)}"' for comment in COMMENTS]
    columns = [
        _join("2023-", _padded(counter, 7)),
        _day_first_dates(randoms, 2019, 2023),
        _padded(randoms.integers(1, 4), 6),
        randoms.pick(NATURES),
        randoms.emptied(_decimal_comma(randoms.integers(1_500_00, 950_000_00), 2), 0.02),
        randoms.emptied(_text(randoms.integers(1, 250)), 0.3),
        randoms.pick(SUFFIXES),
        _join(randoms.pick(STREET_KINDS), " ", randoms.pick(STREET_NAMES)),
        _join(postal_prefix, _padded(pc.multiply(randoms.integers(0, 100), 10), 3)),
        _join(department_code, _padded(commune_number, 3)),
        randoms.pick(TOWNS),
        department_code,
        randoms.emptied(_join("3", _padded(randoms.integers(0, 10**13), 13)), 0.6),
        _text(randoms.integers(0, 6)),
        randoms.pick(LOCAL_TYPES),
        randoms.emptied(_text(randoms.integers(9, 400)), 0.4),
        randoms.emptied(_text(randoms.integers(0, 10)), 0.4),
        randoms.emptied(_text(randoms.integers(20, 20_000)), 0.5),
        _decimal_comma(randoms.integers(-4_700_000, 9_500_000), 6),
        _decimal_comma(randoms.integers(41_400_000, 51_000_000), 6),
        randoms.emptied(randoms.pick(comments), 0.85),
        randoms.emptied(_day_first_dates(randoms, 2023, 2024), 0.05),
        _join(_padded(randoms.integers(0, 24), 2), ":", _padded(randoms.integers(0, 60), 2)),
    ]
    lines = pc.binary_join_element_wise(*columns, ";")
    return [line + line_end for line in lines.to_pylist()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--encoding", choices=["utf-8", "cp1252"], default="utf-8")
    arguments = parser.parse_args()
    generated = write_messy_csv(arguments.path, arguments.size, seed=arguments.seed, encoding=arguments.encoding)
    print(f"{generated.path}: {generated.size_bytes:,} bytes, {generated.rows:,} rows, {generated.encoding}")


if __name__ == "__main__":
    main()

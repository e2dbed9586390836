"""Type inference for text columns (CSV, TXT), vectorised with pyarrow.compute over every row.

A column gets a type only when every non-empty value proves it and the conversion keeps the information;
anything ambiguous stays a string. Code-like columns (postal codes, INSEE, SIRET, identifiers) stay strings
whatever their values, since `01001` and `1001` are different codes.

Empty strings become null in every column, strings included: a text file cannot tell an empty value from a
missing one, and a single convention keeps `IS NULL` filters the same on every column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

_INTEGER = r"^(0|-?[1-9][0-9]{0,18})$"
_DECIMAL = r"^-?(0|[1-9][0-9]*)([.,][0-9]+)?$"
# float64 round-trips 17 significant digits; longer numbers (identifiers, mostly) stay text.
_MAX_DECIMAL_DIGITS = 17
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DAY_FIRST_DATE = r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$"
_ISO_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_ZONE_OFFSET = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"
ISO_DATE_FORMAT = "%Y-%m-%d"
DAY_FIRST_DATE_FORMAT = "%d/%m/%Y"

# Whole words of a normalised column name that mark a code or an identifier.
_CODE_WORDS = frozenset(
    {
        "code",
        "codes",
        "insee",
        "siret",
        "siren",
        "uic",
        "zip",
        "zipcode",
        "postal",
        "postcode",
        "codepostal",
        "cp",
        "cog",
        "id",
        "ids",
        "uuid",
        "guid",
        "nir",
        "finess",
        "rna",
        "uai",
    }
)
# First words that mean "number of this thing" as an identifier (`num_acc`, `numero_voie`), not a count.
_IDENTIFIER_PREFIXES = frozenset({"num", "numero", "no"})
_ID_GLUED = re.compile(r"^id[a-z]")  # `idreseau`, `identifiant`


def is_code_like_name(normalised_name: str) -> bool:
    words = normalised_name.split("_")
    if any(word in _CODE_WORDS for word in words):
        return True
    return words[0] in _IDENTIFIER_PREFIXES or bool(_ID_GLUED.match(words[0]))


@dataclass(frozen=True)
class InferredType:
    """The decided type and how to convert the text to it."""

    arrow_type: pa.DataType
    decimal_comma: bool = False
    date_format: str | None = None


STRING = InferredType(pa.string())


class TextColumnInference:
    """Accumulates, batch after batch, which types every non-empty value of one column still allows."""

    def __init__(self, normalised_name: str) -> None:
        code_like = is_code_like_name(normalised_name)
        self._maybe_integer = not code_like
        self._maybe_decimal = not code_like
        self._maybe_iso_date = True
        self._maybe_day_first_date = True
        self._maybe_timestamp = True
        self._saw_dot = False
        self._saw_comma = False
        self._saw_day_over_12 = False
        self._saw_zone_offset = False
        self._saw_no_zone_offset = False
        self._saw_value = False

    @property
    def _undecided(self) -> bool:
        return (
            self._maybe_integer
            or self._maybe_decimal
            or self._maybe_iso_date
            or self._maybe_day_first_date
            or self._maybe_timestamp
        )

    def update(self, column: pa.Array) -> None:
        if not self._undecided:
            return
        values = pc.drop_null(pc.filter(column, pc.not_equal(column, "")))
        if len(values) == 0:
            return
        self._saw_value = True
        if self._maybe_integer:
            self._maybe_integer = _all_match(values, _INTEGER) and _casts(values, pa.int64())
        if self._maybe_decimal:
            self._update_decimal(values)
        if self._maybe_iso_date:
            self._maybe_iso_date = _all_match(values, _ISO_DATE) and _parses(values, ISO_DATE_FORMAT)
        if self._maybe_day_first_date:
            self._update_day_first_date(values)
        if self._maybe_timestamp:
            self._update_timestamp(values)

    def _update_decimal(self, values: pa.Array) -> None:
        if not _all_match(values, _DECIMAL):
            self._maybe_decimal = False
            return
        digit_counts = pc.utf8_length(pc.replace_substring_regex(values, "[^0-9]", ""))
        if pc.max(digit_counts).as_py() > _MAX_DECIMAL_DIGITS:
            self._maybe_decimal = False
            return
        self._saw_dot = self._saw_dot or _any_contains(values, ".")
        self._saw_comma = self._saw_comma or _any_contains(values, ",")
        if self._saw_dot and self._saw_comma:
            self._maybe_decimal = False  # `1.5` and `1,5` together: thousands separators or a mess

    def _update_day_first_date(self, values: pa.Array) -> None:
        if not (_all_match(values, _DAY_FIRST_DATE) and _parses(values, DAY_FIRST_DATE_FORMAT)):
            self._maybe_day_first_date = False
            return
        days = pc.cast(pc.utf8_slice_codeunits(values, 0, 2), pa.int8())
        self._saw_day_over_12 = self._saw_day_over_12 or bool(pc.any(pc.greater(days, 12)).as_py())

    def _update_timestamp(self, values: pa.Array) -> None:
        if not _all_match(values, _ISO_TIMESTAMP):
            self._maybe_timestamp = False
            return
        with_offset = pc.match_substring_regex(values, _ZONE_OFFSET)
        offset_count = pc.sum(with_offset).as_py() or 0
        self._saw_zone_offset = self._saw_zone_offset or offset_count > 0
        self._saw_no_zone_offset = self._saw_no_zone_offset or offset_count < len(values)
        if self._saw_zone_offset and self._saw_no_zone_offset:
            self._maybe_timestamp = False  # mixing local and offset times cannot be put on one axis
            return
        self._maybe_timestamp = _casts(values, _timestamp_type(self._saw_zone_offset))

    def result(self) -> InferredType:
        if not self._saw_value:
            return STRING
        if self._maybe_integer:
            return InferredType(pa.int64())
        if self._maybe_decimal:
            return InferredType(pa.float64(), decimal_comma=self._saw_comma)
        if self._maybe_iso_date:
            return InferredType(pa.date32(), date_format=ISO_DATE_FORMAT)
        if self._maybe_day_first_date and self._saw_day_over_12:
            return InferredType(pa.date32(), date_format=DAY_FIRST_DATE_FORMAT)
        if self._maybe_timestamp:
            return InferredType(_timestamp_type(self._saw_zone_offset))
        return STRING


def convert_text_column(column: pa.Array, inferred: InferredType) -> pa.Array:
    """Cast a column of text to its inferred type, empty strings becoming null."""
    column = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    if pa.types.is_string(inferred.arrow_type):
        return column
    if inferred.date_format is not None:
        return pc.cast(pc.strptime(column, format=inferred.date_format, unit="s"), pa.date32())
    if inferred.decimal_comma:
        column = pc.replace_substring(column, ",", ".")
    return pc.cast(column, inferred.arrow_type)


def _timestamp_type(with_zone_offset: bool) -> pa.DataType:
    return pa.timestamp("us", tz="UTC") if with_zone_offset else pa.timestamp("us")


def _all_match(values: pa.Array, pattern: str) -> bool:
    return bool(pc.all(pc.match_substring_regex(values, pattern)).as_py())


def _any_contains(values: pa.Array, text: str) -> bool:
    return bool(pc.any(pc.match_substring(values, text)).as_py())


def _casts(values: pa.Array, arrow_type: pa.DataType) -> bool:
    try:
        pc.cast(values, arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _parses(values: pa.Array, date_format: str) -> bool:
    # strptime rolls impossible dates over (30 February becomes 2 March): formatting the parsed dates
    # back must give the text again.
    parsed = pc.strptime(values, format=date_format, unit="s", error_is_null=True)
    if parsed.null_count:
        return False
    return bool(pc.all(pc.equal(pc.strftime(parsed, format=date_format), values)).as_py())

"""Type inference for text columns (CSV, TXT), vectorised over every row.

A column gets a type only when every non-empty value proves it and the conversion keeps the information;
anything ambiguous stays a string. Code-like columns (postal codes, INSEE, SIRET, identifiers) stay strings
whatever their values, since `01001` and `1001` are different codes.

Empty strings become null in every column, strings included: a text file cannot tell an empty value from a
missing one, and a single convention keeps `IS NULL` filters the same on every column.

The rules exist twice, side by side: with pyarrow.compute, batch after batch (``TextColumnInference.update``,
``convert_text_column``), and as polars expressions over a whole file in one multi-threaded pass
(``TextColumnInference.whole_file_checks`` then ``settle``, ``polars_conversion``). Both use the same patterns;
tests/formats/test_fast_csv.py holds them to the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import polars as pl

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
# The same shape with the offset required, and with no offset at all.
_OFFSET_TIMESTAMP = _ISO_TIMESTAMP.removesuffix(")?$") + ")$"
_LOCAL_TIMESTAMP = _ISO_TIMESTAMP.removesuffix(r"(Z|[+-][0-9]{2}:?[0-9]{2})?$") + "$"
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
        # Whole-file checking (polars): the rule being checked, rules that need their exact check next.
        self._settled = False
        self._checking: str | None = None
        self._precise: set[str] = set()

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

    def decided_by_sample(self) -> bool:
        """Whether ``result()`` already is the whole file's type provided its rule holds on every later row.

        True when the type's rule is the first one still open (or none is: text, which no later value can
        change) and the sample fixed the type's settings: a decimal separator, the zone offsets, a day above
        12. Then a write guarded by ``polars_conversion(..., guarded=True)`` checks that rule as it converts,
        and the separate whole-file pass is not needed. False when a later value could still change the type
        without breaking a rule (a column empty so far, dates not yet proven day-first, decimals with no
        separator seen).
        """
        if not self._saw_value:
            return False
        rule = self._first_open_rule()
        if rule == "decimal":
            return self._decimal_style() is not None
        if rule == "day_first_date":
            return self._saw_day_over_12
        return True

    def whole_file_checks(self, column: str) -> dict[str, pl.Expr]:
        """Polars aggregations over every row of ``column`` (read as text, empty cells as "") for the next rule.

        Rules are settled in the order ``result`` decides them, and only the first one still open is checked:
        when it holds over the whole file, the ones after it cannot matter. A sample (``update`` on the
        first rows) has usually closed every rule of a text column and proved the right one for the others,
        so most files need one pass with one or two checks per typed column. An empty dict: nothing to check.
        Hand the answers to ``settle``, then ask again until the dict is empty.
        """
        self._checking = None if self._settled else self._first_open_rule()
        if self._checking is None:
            return {}
        import polars as pl  # here, not at the top: a run that reads no large file never imports polars

        text = pl.col(column)
        empty_count = (text == "").sum()
        checks: dict[str, pl.Expr] = {"longest": text.str.len_bytes().max()}
        if not self._saw_value:
            checks["value"] = empty_count < pl.len()
        rule, precise = self._checking, self._checking in self._precise
        if rule == "integer":
            checks["shape"] = _all_or_empty(text, _INTEGER)
            if precise:  # 19 digits: only the cast tells whether the value fits in int64
                checks["fits"] = text.str.to_integer(strict=False).null_count() == empty_count
        elif rule == "decimal":
            style = self._decimal_style()
            if precise or style is None:
                shape, digits = _all_or_empty(text, _DECIMAL), _digit_count(text).max().fill_null(0)
                checks.update(shape=shape, fits=digits <= _MAX_DECIMAL_DIGITS)
                checks.update(dot=_any(text.str.contains(".", literal=True)))
                checks.update(comma=_any(text.str.contains(",", literal=True)))
            else:  # the sample's separator only: the other one nowhere, so the sample's flags hold
                checks["shape"] = _all_or_empty(text, _DECIMAL.replace("[.,]", re.escape(style)))
        elif rule in ("iso_date", "day_first_date"):
            pattern, date_format = _DATE_RULES[rule]
            checks["shape"] = _all_or_empty(text, pattern)
            # chrono refuses impossible dates (30 February) where pyarrow's strptime rolls them over: the
            # round trip the batch rules need is built in.
            checks["parses"] = text.str.to_date(date_format, strict=False, cache=False).null_count() == empty_count
            if rule == "day_first_date" and not self._saw_day_over_12:
                checks["day_over_12"] = _any(text.str.slice(0, 2).str.to_integer(strict=False) > 12)
        else:
            values = text.filter(text != "")
            with_offset = values.str.contains(_ZONE_OFFSET)
            checks["shape"] = _all(values.str.contains(_ISO_TIMESTAMP))
            checks["zone_offset"], checks["no_zone_offset"] = _any(with_offset), _any(~with_offset)
            checks["parses_local"] = _all(_parse_timestamp(values, with_zone_offset=False).is_not_null())
            checks["parses_offset"] = _all(_parse_timestamp(values, with_zone_offset=True).is_not_null())
        return checks

    def settle(self, facts: Mapping[str, object]) -> None:
        """Take the answers to the last ``whole_file_checks`` (computed over every row, the sample's included)."""
        rule = self._checking
        if rule is None:
            return
        self._saw_value = self._saw_value or bool(facts.get("value", False))
        if not self._saw_value:
            self._settled = True  # every cell of the file is empty: text
            return
        holds = bool(facts["shape"])
        longest = int(facts["longest"] or 0)  # type: ignore[call-overload]
        if rule == "integer":
            if holds and longest >= 19 and "fits" not in facts:
                self._precise.add(rule)
                return
            holds = holds and bool(facts.get("fits", True))
            self._maybe_integer = holds
        elif rule == "decimal":
            if "fits" in facts:
                self._saw_dot, self._saw_comma = bool(facts["dot"]), bool(facts["comma"])
                holds = holds and bool(facts["fits"]) and not (self._saw_dot and self._saw_comma)
            elif not holds or longest > _MAX_DECIMAL_DIGITS:
                self._precise.add(rule)  # the other separator, or long values: count exactly
                return
            self._maybe_decimal = holds
        elif rule == "iso_date":
            self._maybe_iso_date = holds and bool(facts["parses"])
            holds = self._maybe_iso_date
        elif rule == "day_first_date":
            self._saw_day_over_12 = self._saw_day_over_12 or bool(facts.get("day_over_12", False))
            # Without a day above 12 the dates are not proven day-first: ``result`` moves on, and so do checks.
            holds = holds and bool(facts["parses"]) and self._saw_day_over_12
            self._maybe_day_first_date = holds
        else:
            self._saw_zone_offset, self._saw_no_zone_offset = bool(facts["zone_offset"]), bool(facts["no_zone_offset"])
            parses = facts["parses_offset"] if self._saw_zone_offset else facts["parses_local"]
            mixed = self._saw_zone_offset and self._saw_no_zone_offset
            holds = holds and not mixed and bool(parses)
            self._maybe_timestamp = holds
        self._settled = holds

    def _first_open_rule(self) -> str | None:
        rules = (
            ("integer", self._maybe_integer),
            ("decimal", self._maybe_decimal),
            ("iso_date", self._maybe_iso_date),
            ("day_first_date", self._maybe_day_first_date),
            ("timestamp", self._maybe_timestamp),
        )
        return next((rule for rule, still_open in rules if still_open), None)

    def _decimal_style(self) -> str | None:
        """The one decimal separator the sample showed, if it showed exactly one."""
        if self._saw_comma != self._saw_dot:
            return "," if self._saw_comma else "."
        return None

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


def polars_conversion(column: str, inferred: InferredType, *, guarded: bool = False) -> pl.Expr:
    """``convert_text_column`` as a polars expression: the same values, computed by polars' threads.

    Conversions are strict: a value that does not convert stops the query. ``guarded`` is for a type that
    only a sample decided (``decided_by_sample``): every value is also held to the type's rule (the shape a
    strict parse alone would let through: `007`, `+5`, `1e5`, `1/2/2020`), so the query fails on the first
    value that refutes the sample. Unguarded, a failure means the file changed since its types were checked.
    """
    import polars as pl

    text = pl.col(column)
    value: pl.Expr = pl.when(text != "").then(text)
    if inferred.date_format is not None:
        # No cache of parsed values, here and for every date and time: hashing each value to look it up cost
        # more than parsing it, even with 1,680 distinct dates a million rows (half the CPU time without it).
        converted = value.str.to_date(inferred.date_format, strict=True, cache=False)
    elif pa.types.is_timestamp(inferred.arrow_type):
        converted = _parse_timestamp(value, with_zone_offset=inferred.arrow_type.tz is not None, strict=True)
    elif pa.types.is_integer(inferred.arrow_type):
        converted = value.str.to_integer(strict=True)
    elif pa.types.is_floating(inferred.arrow_type):
        if inferred.decimal_comma:
            value = value.str.replace(",", ".", literal=True)
        converted = value.cast(pl.Float64, strict=True)
    else:
        return value
    rule = _guard_pattern(inferred) if guarded else None
    if rule is None:
        return converted
    return pl.when(query_fails_where((text != "") & ~text.str.contains(rule))).then(converted)


def query_fails_where(mask: pl.Expr) -> pl.Expr:
    """True on every row, and the query fails on a row where ``mask`` holds.

    polars has no assertion expression; a strict cast that overflows is the cheapest failure there is: integer
    arithmetic on the mask, where a guard that swapped the offending text for an unconvertible one cost a new
    text column (a third of the guards' time).
    """
    import polars as pl

    return (mask.cast(pl.UInt16) * 256).cast(pl.UInt8, strict=True) == 0


def _guard_pattern(inferred: InferredType) -> str | None:
    """The rule every value of a column of this type follows, as one regular expression; None for text."""
    arrow_type = inferred.arrow_type
    if pa.types.is_integer(arrow_type):
        return _INTEGER
    if pa.types.is_floating(arrow_type):
        return _bounded_decimal("," if inferred.decimal_comma else ".")
    if inferred.date_format is not None:
        return _DATE_RULES["iso_date" if inferred.date_format == ISO_DATE_FORMAT else "day_first_date"][0]
    if pa.types.is_timestamp(arrow_type):
        return _OFFSET_TIMESTAMP if arrow_type.tz is not None else _LOCAL_TIMESTAMP
    return None


def _bounded_decimal(separator: str) -> str:
    """``_DECIMAL`` with this one separator and at most ``_MAX_DECIMAL_DIGITS`` digits, as one expression.

    One alternative per count of digits before the separator. polars' regular expressions run as automata,
    whose cost is per byte, not per alternative: this costs what the shape alone does, where counting the
    digits apart cost as much again.
    """
    most = _MAX_DECIMAL_DIGITS
    alternatives = [f"0|[1-9][0-9]{{0,{most - 1}}}"]
    for before in range(1, most):
        whole = "[0-9]" if before == 1 else f"[1-9][0-9]{{{before - 1}}}"
        alternatives.append(f"{whole}{re.escape(separator)}[0-9]{{1,{most - before}}}")
    return "^-?(" + "|".join(alternatives) + ")$"


def _parse_timestamp(values: pl.Expr, *, with_zone_offset: bool, strict: bool = False) -> pl.Expr:
    """ISO timestamps as pyarrow's cast reads them: `T` or a space, seconds and fraction optional, `Z` or offset.

    Values are first brought to one layout (`YYYY-MM-DD hh:mm:ss[.f][+hh:mm]`) that a single strict format reads.
    chrono takes second 60 as a leap second where pyarrow refuses it: such a value is made unparseable here.
    """
    import polars as pl

    layout = pl.concat_str([values.str.slice(0, 10), pl.lit(" "), values.str.slice(11)])
    layout = layout.str.replace(r"^(.{16})($|[Z+-])", "${1}:00${2}")
    layout = pl.when(layout.str.slice(17, 2) == "60").then(pl.lit("leap second")).otherwise(layout)
    if with_zone_offset:
        layout = layout.str.replace(r"Z$", "+00:00")
        return layout.str.to_datetime(
            "%Y-%m-%d %H:%M:%S%.f%z", time_unit="us", time_zone="UTC", strict=strict, cache=False
        )
    return layout.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=strict, cache=False)


# Where year, month and day are written in each date format's text.
_DATE_PART_SPANS = {
    ISO_DATE_FORMAT: ((0, 4), (5, 7), (8, 10)),
    DAY_FIRST_DATE_FORMAT: ((6, 10), (3, 5), (0, 2)),
}
_DATE_RULES = {
    "iso_date": (_ISO_DATE, ISO_DATE_FORMAT),
    "day_first_date": (_DAY_FIRST_DATE, DAY_FIRST_DATE_FORMAT),
}


def _all_or_empty(text: pl.Expr, pattern: str) -> pl.Expr:
    """Every cell empty or matching: one regular expression pass, no filtering."""
    return text.str.contains(f"^(?:|{pattern.removeprefix('^').removesuffix('$')})$").all()


def _digit_count(text: pl.Expr) -> pl.Expr:
    """Digits of a value with the decimal shape: its length less the sign and the separator."""
    import polars as pl

    separator = text.str.contains(".", literal=True) | text.str.contains(",", literal=True)
    return text.str.len_bytes() - text.str.starts_with("-").cast(pl.UInt32) - separator.cast(pl.UInt32)


def _all(mask: pl.Expr) -> pl.Expr:
    return mask.all(ignore_nulls=True)


def _any(mask: pl.Expr) -> pl.Expr:
    return mask.any(ignore_nulls=True).fill_null(False)


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
    """Every value (already of the format's shape) is a real date.

    strptime rolls impossible dates over (30 February becomes 2 March): the parsed day, month and year must be
    the ones written. Comparing the parts costs far less than formatting every date back to text.
    """
    parsed = pc.strptime(values, format=date_format, unit="s", error_is_null=True)
    if parsed.null_count:
        return False
    for extract, (start, stop) in zip((pc.year, pc.month, pc.day), _DATE_PART_SPANS[date_format], strict=True):
        written = pc.cast(pc.utf8_slice_codeunits(values, start, stop), pa.int64())
        if not pc.all(pc.equal(extract(parsed), written)).as_py():
            return False
    return True

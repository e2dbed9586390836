"""Type inference rules for text columns: a type only when every value proves it without loss."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa
import pytest

from civiclake.formats.inference import (
    InferredType,
    TextColumnInference,
    convert_text_column,
    is_code_like_name,
    polars_conversion,
)


def infer(values: list[str], name: str = "value", batch_size: int = 2) -> tuple[pa.DataType, list[object]]:
    """Infer over batches of ``batch_size`` (types must hold across batches), then convert."""
    inference = TextColumnInference(name)
    for start in range(0, len(values), batch_size):
        inference.update(pa.array(values[start : start + batch_size], pa.string()))
    inferred = inference.result()
    return inferred.arrow_type, convert_text_column(pa.array(values, pa.string()), inferred).to_pylist()


@pytest.mark.parametrize(
    ("values", "expected_type", "expected"),
    [
        (["1", "-42", "0", ""], pa.int64(), [1, -42, 0, None]),
        (["9223372036854775807"], pa.int64(), [9223372036854775807]),
        (["12,5", "3", "-0,25"], pa.float64(), [12.5, 3.0, -0.25]),
        (["12.5", "3"], pa.float64(), [12.5, 3.0]),
        (["2023-01-31", "", "2024-02-29"], pa.date32(), [dt.date(2023, 1, 31), None, dt.date(2024, 2, 29)]),
        (["01/02/2023", "13/02/2023"], pa.date32(), [dt.date(2023, 2, 1), dt.date(2023, 2, 13)]),
        (
            ["2017-10-02 10:56:33", "2017-10-02T11:07"],
            pa.timestamp("us"),
            [dt.datetime(2017, 10, 2, 10, 56, 33), dt.datetime(2017, 10, 2, 11, 7)],
        ),
        (
            ["2024-03-14T12:17:42.708+01:00", "2024-03-14T12:00:00Z"],
            pa.timestamp("us", tz="UTC"),
            [
                dt.datetime(2024, 3, 14, 11, 17, 42, 708000, tzinfo=dt.UTC),
                dt.datetime(2024, 3, 14, 12, 0, tzinfo=dt.UTC),
            ],
        ),
    ],
)
def test_typed_columns(values: list[str], expected_type: pa.DataType, expected: list[object]) -> None:
    arrow_type, converted = infer(values)
    assert arrow_type == expected_type
    assert converted == expected


@pytest.mark.parametrize(
    ("values", "why"),
    [
        (["01001", "1002"], "a leading zero is a code"),
        (["007.5", "1.5"], "a leading zero in a decimal's integer part"),
        (["2A004", "75101"], "letters"),
        (["2.023E+11"], "exponent notation is a spreadsheet's mangling"),
        (["1 234", "5"], "a thousands separator"),
        (["1.5", "1,5"], "two decimal separators"),
        (["1.234,5"], "thousands and decimal separators"),
        (["01/02/2023", "03/04/2023"], "day-first is not proven when no day is above 12"),
        (["2023-02-30"], "not a real date"),
        (["2023-01-31", "31/01/2023"], "two date formats"),
        (["2024-03-14T12:00:00+01:00", "2024-03-14T12:00:00"], "offset and local times mixed"),
        (["2017-10-02 10:56:33.1234567"], "sub-microsecond precision"),
        (["1.23456789012345678"], "more digits than float64 holds"),
        (["9223372036854775808"], "past int64, and more digits than float64 holds"),
        (["31/02/2023", "13/01/2023"], "not a real day-first date"),
        (["", ""], "all empty"),
        (["O", "N"], "text"),
        ([" 12", "13"], "padded"),
    ],
)
def test_ambiguous_columns_stay_strings(values: list[str], why: str) -> None:
    arrow_type, converted = infer(values)
    assert arrow_type == pa.string(), why
    assert converted == [value or None for value in values]


@pytest.mark.parametrize(
    "name",
    [
        "code_postal",
        "code_commune_insee",
        "customer_zip_code_prefix",
        "siret",
        "siren",
        "code_uic",
        "num_acc",
        "cog",
        "cp",
        "order_item_id",
        "idreseau",
        "identifiant",
        "numero_voie",
    ],
)
def test_code_like_names_stay_strings(name: str) -> None:
    assert is_code_like_name(name)
    arrow_type, converted = infer(["12345", "67890"], name=name)
    assert arrow_type == pa.string()
    assert converted == ["12345", "67890"]


@pytest.mark.parametrize(
    "name", ["population", "total_voyageurs_2022", "nb_victimes", "product_name_lenght", "idle_time", "price"]
)
def test_other_names_are_typed(name: str) -> None:
    assert not is_code_like_name(name) or name == "idle_time"
    if name != "idle_time":
        assert infer(["1", "2"], name=name)[0] == pa.int64()


def test_a_later_batch_can_demote_a_column() -> None:
    arrow_type, _ = infer(["1", "2", "3", "4", "x"], batch_size=2)
    assert arrow_type == pa.string()


DECIMAL_EDGES = [
    "", "1", "0", "-0", "007", "-07", "0{s}5", "-0{s}5", "00{s}5", "+1", "{s}5", "5{s}", "1{s}2{s}3", "1e5",
    "inf", "nan",
    " 1", "1 ", "12345678901234567", "123456789012345678", "-12345678901234567", "1234567890123456{s}7",
    "12345678901234567{s}8", "-1234567890123456{s}7", "1{s}2345678901234567", "1{s}23456789012345678",
    "0{s}1234567890123456", "0{s}12345678901234567", "1{o}5",
]  # fmt: skip


@pytest.mark.parametrize("separator", [",", "."])
def test_the_guard_on_a_sampled_decimal_type_lets_through_exactly_what_the_rules_type(separator: str) -> None:
    """The one-pass write's guard (shape and digit count in one expression) against the batch rules."""
    other = "." if separator == "," else ","
    inferred = InferredType(pa.float64(), decimal_comma=separator == ",")
    guarded = polars_conversion("value", inferred, guarded=True)
    for edge in DECIMAL_EDGES:
        value = edge.format(s=separator, o=other)
        rules = TextColumnInference("value")
        rules.update(pa.array([f"1{separator}5", value], pa.string()))
        try:
            pl.DataFrame({"value": [value]}).select(guarded)
            let_through = True
        except pl.exceptions.PolarsError:
            let_through = False
        assert let_through == (rules.result() == inferred), value

"""The readers on real files, taken as they were published (quirks included)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pytest

from civiclake.formats import DetectedFormat, detect_format, open_tabular

from .conftest import original_names, read_part


def csv_module_rows(path: Path, delimiter: str) -> list[list[str]]:
    """Data rows as Python's csv module reads them: the reference count."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [row for row in csv.reader(handle, delimiter=delimiter) if row][1:]


def single_part_table(path: Path) -> tuple[pa.Schema, pa.Table]:
    (part,) = open_tabular(path)
    assert part.name is None
    table = read_part(part)
    assert part.rows_read == table.num_rows
    return part.schema, table


def test_la_poste_postal_codes_keep_leading_zeros(datagouv_dir: Path) -> None:
    path = datagouv_dir / "019HexaSmal.csv"
    assert detect_format(path) == DetectedFormat("csv", encoding="utf-8", delimiter=";")

    schema, table = single_part_table(path)

    assert schema.names == [
        "code_commune_insee",
        "nom_de_la_commune",
        "code_postal",
        "libelle_d_acheminement",
        "ligne_5",
    ]
    assert original_names(schema)[3] == "Libellé_d_acheminement"
    assert table.num_rows == len(csv_module_rows(path, ";"))
    assert schema.field("code_commune_insee").type == pa.string()
    assert schema.field("code_postal").type == pa.string()
    assert table["code_commune_insee"][0].as_py() == "01001"
    assert table["code_postal"][0].as_py() == "01400"
    # The mostly empty last column is read, its empty cells as nulls.
    assert schema.field("ligne_5").type == pa.string()
    assert table["ligne_5"].null_count > table.num_rows // 2


def test_sncf_stations_bom_crlf_and_embedded_geojson(datagouv_dir: Path) -> None:
    path = datagouv_dir / "liste-des-gares.csv"
    assert detect_format(path) == DetectedFormat("csv", encoding="utf-8-sig", delimiter=";")

    schema, table = single_part_table(path)

    assert schema.names[0] == "code_uic"
    assert original_names(schema)[0] == "code_uic"  # the BOM is not part of the name
    assert table.num_rows == len(csv_module_rows(path, ";"))
    shape = json.loads(table["geo_shape"][0].as_py())
    assert shape["type"] == "Point"
    assert shape["coordinates"] == [1.93695919364811, 49.16261162951619]
    assert all(not value.endswith("\r") for value in table["geo_shape"].to_pylist() if value)
    for coordinate in ("x_wgs84", "y_wgs84", "x_l93", "y_l93"):
        assert schema.field(coordinate).type == pa.float64()
    assert table["y_wgs84"][0].as_py() == 49.162611630469804
    assert schema.field("code_uic").type == pa.string()


def test_station_attendance_duplicate_headers_and_year_columns(datagouv_dir: Path) -> None:
    path = datagouv_dir / "frequentation-gares.csv"

    schema, table = single_part_table(path)

    assert schema.names[:4] == ["nom_de_la_gare", "nom_de_la_gare_2", "code_uic", "code_postal"]
    assert schema.names[-1] == "code_postal_2"
    assert original_names(schema)[:2] == ["Nom de la gare", "Nom de la gare"]
    assert original_names(schema)[3] == "Code postal"
    assert original_names(schema)[-1] == "Code Postal"
    for year in range(2015, 2023):
        assert schema.field(f"total_voyageurs_{year}").type == pa.int64()
        assert schema.field(f"total_voyageurs_non_voyageurs_{year}").type == pa.int64()
    assert schema.field("code_postal").type == pa.string()
    assert table.num_rows == len(csv_module_rows(path, ";"))
    assert table["total_voyageurs_2022"][0].as_py() == 6584031


def test_accidents_spreadsheet_copy_keeps_mangled_key_as_text(datagouv_dir: Path) -> None:
    path = datagouv_dir / "caract-2023.csv"
    assert detect_format(path).delimiter == ","

    schema, table = single_part_table(path)

    assert schema.field("num_acc").type == pa.string()
    assert set(table["num_acc"].to_pylist()) == {"2.023E+11"}
    assert schema.field("jour").type == pa.int64()
    assert table.num_rows == len(csv_module_rows(path, ","))


OLIST_FILES = [
    "olist_customers_dataset.csv",
    "olist_order_items_dataset.csv",
    "olist_order_payments_dataset.csv",
    "olist_order_reviews_dataset.csv",
    "olist_orders_dataset.csv",
    "olist_products_dataset.csv",
    "olist_sellers_dataset.csv",
    "product_category_name_translation.csv",
]


@pytest.mark.parametrize("file_name", OLIST_FILES)
def test_olist_files_load_with_csv_module_row_counts(olist_dir: Path, file_name: str) -> None:
    path = olist_dir / file_name

    schema, table = single_part_table(path)

    reference = csv_module_rows(path, ",")
    assert table.num_rows == len(reference)
    assert len(schema) == len(reference[0])


def test_olist_is_all_the_files_but_geolocation(olist_dir: Path) -> None:
    assert sorted(path.name for path in olist_dir.glob("*.csv")) == sorted(OLIST_FILES)


def test_olist_translation_bom_is_stripped(olist_dir: Path) -> None:
    schema, _ = single_part_table(olist_dir / "product_category_name_translation.csv")
    assert schema.names == ["product_category_name", "product_category_name_english"]
    assert original_names(schema)[0] == "product_category_name"


def test_olist_multi_line_review_comments_stay_whole(olist_dir: Path) -> None:
    path = olist_dir / "olist_order_reviews_dataset.csv"
    reference = csv_module_rows(path, ",")
    multi_line = [row[4] for row in reference if "\n" in row[4]]
    assert multi_line, "the sample is expected to hold multi-line comments"

    _, table = single_part_table(path)

    messages = table["review_comment_message"].to_pylist()
    assert [message for message in messages if message and "\n" in message] == multi_line
    assert table["review_score"].type == pa.int64()
    assert table["review_answer_timestamp"].type == pa.timestamp("us")


def test_olist_zip_prefixes_keep_leading_zeros(olist_dir: Path) -> None:
    _, customers = single_part_table(olist_dir / "olist_customers_dataset.csv")
    _, sellers = single_part_table(olist_dir / "olist_sellers_dataset.csv")

    assert customers["customer_zip_code_prefix"].type == pa.string()
    assert "09790" in customers["customer_zip_code_prefix"].to_pylist()
    assert sellers["seller_zip_code_prefix"].type == pa.string()
    assert "04195" in sellers["seller_zip_code_prefix"].to_pylist()


def test_olist_products_misspelt_columns_are_kept(olist_dir: Path) -> None:
    schema, table = single_part_table(olist_dir / "olist_products_dataset.csv")
    assert "product_name_lenght" in schema.names
    assert "product_description_lenght" in schema.names
    assert table["product_name_lenght"].type == pa.int64()


def test_olist_prices_are_decimals(olist_dir: Path) -> None:
    schema, table = single_part_table(olist_dir / "olist_order_items_dataset.csv")
    assert schema.field("price").type == pa.float64()
    assert table["price"][0].as_py() == 58.9

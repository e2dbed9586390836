"""JSON, NDJSON and GeoJSON tables."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from civiclake.errors import FormatError
from civiclake.formats import open_tabular
from civiclake.formats.geojson import geometry_to_wkt
from civiclake.formats.records import BATCH_ROWS

from .conftest import original_names, read_part


def write_json(tmp_path: Path, name: str, document: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_array_of_objects_keeps_json_types_and_nests_as_text(tmp_path: Path) -> None:
    path = write_json(
        tmp_path,
        "records.json",
        [
            {"Code INSEE": "01001", "population": 859, "surface": 15.95, "actif": True, "tags": ["a", "b"]},
            {"Code INSEE": "2A004", "population": 71361, "surface": 82, "adresse": {"rue": "Cours Napoléon"}},
        ],
    )
    (part,) = open_tabular(path)
    table = read_part(part)

    assert part.schema.names == ["code_insee", "population", "surface", "actif", "tags", "adresse"]
    assert original_names(part.schema)[0] == "Code INSEE"
    assert part.schema.types == [pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.string(), pa.string()]
    rows = table.to_pylist()
    assert rows[0]["code_insee"] == "01001"
    assert json.loads(rows[0]["tags"]) == ["a", "b"]
    assert json.loads(rows[1]["adresse"]) == {"rue": "Cours Napoléon"}
    assert rows[1]["tags"] is None
    assert part.rows_read == 2


def test_mixed_value_types_become_text(tmp_path: Path) -> None:
    path = write_json(tmp_path, "mixed.json", [{"v": 1}, {"v": "deux"}, {"v": None}, {"v": 2.5}, {"v": False}])
    (part,) = open_tabular(path)
    assert read_part(part)["v"].to_pylist() == ["1", "deux", None, "2.5", "false"]


def test_data_array_in_an_envelope(tmp_path: Path) -> None:
    path = write_json(
        tmp_path,
        "page.json",
        {"meta": {"page": 1}, "links": [], "data": [{"__id": 1, "nom": "a"}, {"__id": 2, "nom": "b"}]},
    )
    (part,) = open_tabular(path, "json")
    assert part.schema.names == ["id", "nom"]
    assert read_part(part)["nom"].to_pylist() == ["a", "b"]


def test_object_without_records_is_not_tabular(tmp_path: Path) -> None:
    path = write_json(tmp_path, "config.json", {"version": 2, "values": [1, 2, 3]})
    with pytest.raises(FormatError, match=r"^not a tabular file: JSON object holds no array of objects$"):
        open_tabular(path)


def test_array_of_scalars_is_refused(tmp_path: Path) -> None:
    (part,) = open_tabular(write_json(tmp_path, "scalars.json", [{"a": 1}, 2]))
    with pytest.raises(FormatError, match=r"^item 2 of the JSON array is int, not an object$"):
        read_part(part)


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"a": 1}, {"a": ')
    (part,) = open_tabular(path)
    with pytest.raises(FormatError, match=r"^invalid JSON: "):
        read_part(part)


def test_big_array_comes_in_batches(tmp_path: Path) -> None:
    count = BATCH_ROWS * 2 + 5
    path = write_json(tmp_path, "big.json", [{"n": index, "s": f"ligne {index}"} for index in range(count)])
    (part,) = open_tabular(path)
    sizes = [batch.num_rows for batch in part.batches()]
    assert sizes == [BATCH_ROWS, BATCH_ROWS, 5]
    assert part.rows_read == count


def test_ndjson(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text('{"id": 1, "payload": {"k": [1, 2]}}\n\n{"id": 2, "extra": "x"}\r\n', encoding="utf-8")
    (part,) = open_tabular(path)
    assert part.format.format == "ndjson"
    table = read_part(part)
    assert table.schema.names == ["id", "payload", "extra"]
    assert table["payload"].to_pylist() == ['{"k": [1, 2]}', None]


def test_ndjson_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"id": 1}\n{"id": 2}\n{"id": \n', encoding="utf-8")
    (part,) = open_tabular(path)
    with pytest.raises(FormatError, match=r"^line 3 is not valid JSON: "):
        read_part(part)


def test_json_in_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "latin.json"
    path.write_bytes('[{"libellé": "Cœur \u2013 été"}]'.encode("cp1252"))
    (part,) = open_tabular(path)
    assert part.format.encoding == "cp1252"
    assert read_part(part).to_pylist() == [{"libelle": "Cœur \u2013 été"}]


def test_json_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"a": 1}]).encode())
    (part,) = open_tabular(path)
    assert read_part(part).to_pylist() == [{"a": 1}]


FEATURE_COLLECTION = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "gare-1",
            "geometry": {"type": "Point", "coordinates": [2.3522, 48.8566]},
            "properties": {"nom": "Paris", "voyageurs": 1200, "id": "propriété id"},
        },
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[0, 0], [1, 0], [1, 1], [0, 0]],
                    [[0.2, 0.2], [0.5, 0.2], [0.2, 0.5], [0.2, 0.2]],
                ],
            },
            "properties": {"nom": "Zone", "surface": 0.5},
        },
        {"type": "Feature", "geometry": None, "properties": None},
    ],
}


def test_geojson_points_and_polygons(tmp_path: Path) -> None:
    path = write_json(tmp_path, "gares.geojson", FEATURE_COLLECTION)
    (part,) = open_tabular(path, "geojson")
    table = read_part(part)

    assert part.format.format == "geojson"
    assert table.schema.names == ["id", "nom", "voyageurs", "id_2", "surface", "geometry", "geometry_wkt"]
    assert original_names(table.schema)[3] == "id"
    assert table.schema.field("voyageurs").type == pa.int64()
    assert table["geometry_wkt"].to_pylist() == [
        "POINT (2.3522 48.8566)",
        "POLYGON ((0 0, 1 0, 1 1, 0 0), (0.2 0.2, 0.5 0.2, 0.2 0.5, 0.2 0.2))",
        None,
    ]
    assert json.loads(table["geometry"][0].as_py()) == FEATURE_COLLECTION["features"][0]["geometry"]
    assert table["id"].to_pylist() == ["gare-1", None, None]


def test_empty_feature_collection_still_has_geometry_columns(tmp_path: Path) -> None:
    (part,) = open_tabular(write_json(tmp_path, "vide.geojson", {"type": "FeatureCollection", "features": []}))
    assert part.schema.names == ["geometry", "geometry_wkt"]
    assert read_part(part).num_rows == 0


@pytest.mark.parametrize(
    ("geometry", "wkt"),
    [
        ({"type": "Point", "coordinates": [1, 2, 3]}, "POINT Z (1 2 3)"),
        ({"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]}, "MULTIPOINT ((1 2), (3 4))"),
        ({"type": "LineString", "coordinates": [[1, 2], [3.5, 4]]}, "LINESTRING (1 2, 3.5 4)"),
        (
            {"type": "MultiLineString", "coordinates": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]},
            "MULTILINESTRING ((1 2, 3 4), (5 6, 7 8))",
        ),
        (
            {
                "type": "MultiPolygon",
                "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]], [[[5, 5], [6, 5], [6, 6], [5, 5]]]],
            },
            "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
        ),
        (
            {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}]},
            "GEOMETRYCOLLECTION (POINT (1 2))",
        ),
        ({"type": "LineString", "coordinates": [[1, 2, 3], [4, 5]]}, "LINESTRING (1 2, 4 5)"),
        ({"type": "Polygon", "coordinates": []}, "POLYGON EMPTY"),
    ],
)
def test_wkt(geometry: dict[str, object], wkt: str) -> None:
    assert geometry_to_wkt(geometry) == wkt


def test_invalid_geometry_is_named(tmp_path: Path) -> None:
    document = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": ["x", 1]}}],
    }
    (part,) = open_tabular(write_json(tmp_path, "bad.geojson", document))
    with pytest.raises(FormatError, match=r"^feature 1 has an invalid geometry: a coordinate must be a number"):
        read_part(part)


def test_empty_array_has_no_columns_to_build(tmp_path: Path) -> None:
    (part,) = open_tabular(write_json(tmp_path, "vide.json", []))
    with pytest.raises(FormatError, match=r"^no records to take column names from"):
        _ = part.schema

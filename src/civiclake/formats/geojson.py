"""GeoJSON FeatureCollections: one row per feature.

Columns: the feature ``id`` (when any feature has one), every property with its JSON type, then
``geometry`` as GeoJSON text and ``geometry_wkt`` as WKT, which every SQL engine can parse.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator, Mapping, Sequence

import ijson

from civiclake.errors import FormatError
from civiclake.formats.json import utf8_stream
from civiclake.formats.model import DetectedFormat
from civiclake.formats.records import RecordsPart
from civiclake.formats.sources import ByteSource

# Feature-level columns are keyed apart from properties, so a property called "geometry" or "id" keeps
# its own column (normalisation then gives it a distinct name).
_FEATURE_ID = ("feature", "id")
_GEOMETRY = ("feature", "geometry")
_GEOMETRY_WKT = ("feature", "geometry_wkt")


class GeoJsonPart(RecordsPart):
    def __init__(self, source: ByteSource, detected: DetectedFormat, name: str | None) -> None:
        super().__init__(name, detected)
        self._source = source

    def _records(self) -> Iterator[Mapping[Hashable, object]]:
        with utf8_stream(self._source, self.format.encoding) as stream:
            features = ijson.items(stream, "features.item", use_float=True)
            try:
                for position, feature in enumerate(features, start=1):
                    yield _feature_row(feature, position)
            except ijson.JSONError as error:
                raise FormatError(f"invalid JSON: {error}") from error

    def _original_name(self, key: Hashable) -> str:
        return str(key[1]) if isinstance(key, tuple) else str(key)

    def _order_columns(self, keys: list[Hashable]) -> list[Hashable]:
        properties = [key for key in keys if not isinstance(key, tuple)]
        head = [_FEATURE_ID] if _FEATURE_ID in keys else []
        return [*head, *properties, _GEOMETRY, _GEOMETRY_WKT]


def _feature_row(feature: object, position: int) -> dict[Hashable, object]:
    if not isinstance(feature, dict):
        raise FormatError(f"feature {position} is {type(feature).__name__}, not an object")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise FormatError(f"feature {position} has properties that are not an object")
    row: dict[Hashable, object] = {}
    if "id" in feature:
        row[_FEATURE_ID] = feature["id"]
    row.update(properties)
    geometry = feature.get("geometry")
    try:
        wkt = geometry_to_wkt(geometry) if geometry is not None else None
    except (KeyError, TypeError, ValueError) as error:
        raise FormatError(f"feature {position} has an invalid geometry: {error}") from error
    row[_GEOMETRY] = json.dumps(geometry, ensure_ascii=False) if geometry is not None else None
    row[_GEOMETRY_WKT] = wkt
    return row


def geometry_to_wkt(geometry: Mapping[str, object]) -> str:
    """WKT for a GeoJSON geometry (Point, LineString, Polygon, their Multi forms, GeometryCollection)."""
    kind = str(geometry["type"])
    if kind == "GeometryCollection":
        members = geometry["geometries"]
        if not isinstance(members, list):
            raise ValueError("GeometryCollection without a geometries array")
        if not members:
            return "GEOMETRYCOLLECTION EMPTY"
        return f"GEOMETRYCOLLECTION ({', '.join(geometry_to_wkt(member) for member in members)})"
    if kind not in _WKT_NAMES:
        raise ValueError(f"unknown geometry type {kind!r}")
    wkt_name, depth = _WKT_NAMES[kind]
    coordinates = geometry["coordinates"]
    if not coordinates:
        return f"{wkt_name} EMPTY"
    positions = list(_positions(coordinates, depth))
    # `Z` only when every position has a height: WKT needs the same dimension throughout.
    dimension = 3 if all(len(position) >= 3 for position in positions) else 2
    tag = f"{wkt_name} Z" if dimension == 3 else wkt_name
    wrap_points = wkt_name in _POINTS_IN_PARENTHESES
    return f"{tag} {_nested(coordinates, depth, dimension, wrap_points=wrap_points)}"


# GeoJSON type -> (WKT name, how many levels of lists hold the positions). MultiPoint is written with
# each point in parentheses, `MULTIPOINT ((1 2), (3 4))`, the unambiguous form of the standard.
_WKT_NAMES: dict[str, tuple[str, int]] = {
    "Point": ("POINT", 0),
    "MultiPoint": ("MULTIPOINT", 1),
    "LineString": ("LINESTRING", 1),
    "MultiLineString": ("MULTILINESTRING", 2),
    "Polygon": ("POLYGON", 2),
    "MultiPolygon": ("MULTIPOLYGON", 3),
}
_POINTS_IN_PARENTHESES = {"MULTIPOINT"}


def _positions(coordinates: object, depth: int) -> Iterator[Sequence[object]]:
    if depth == 0:
        if not isinstance(coordinates, list) or len(coordinates) < 2:
            raise ValueError(f"a position needs at least two numbers, got {coordinates!r}")
        yield coordinates
        return
    if not isinstance(coordinates, list):
        raise ValueError(f"expected a list of coordinates, got {coordinates!r}")
    for part in coordinates:
        yield from _positions(part, depth - 1)


def _nested(coordinates: object, depth: int, dimension: int, *, wrap_points: bool = False) -> str:
    if depth == 0:
        return f"({_position(coordinates, dimension)})"
    parts: list[str] = []
    for part in coordinates:  # type: ignore[attr-defined]
        if depth == 1 and not wrap_points:
            parts.append(_position(part, dimension))
        else:
            parts.append(_nested(part, depth - 1, dimension))
    return f"({', '.join(parts)})"


def _position(position: object, dimension: int) -> str:
    return " ".join(_number(value) for value in position[:dimension])  # type: ignore[index]


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a coordinate must be a number, got {value!r}")
    return repr(value)

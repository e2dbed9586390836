"""Small generated files for the formats the real samples do not cover, and a synthetic catalogue of any size.

Every generator is deterministic: fixed seeds, fixed timestamps inside archives and workbooks, so that
rebuilding the mirror gives the same bytes on the same machine (zlib versions may differ between
machines; the catalogue is recomputed from whatever bytes are on disk, so it never drifts).
The content is French and shaped like what the producers publish, but the figures are invented.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import random
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

# Zip entries carry a local timestamp: pin it so an archive does not change with the build time.
ARCHIVE_TIMESTAMP = (2024, 3, 1, 9, 30, 0)
WORKBOOK_TIMESTAMP = datetime(2024, 3, 1, 9, 30, 0)


# --- PDF -------------------------------------------------------------------------------------------


def _pdf_text(text: str) -> bytes:
    """A PDF string literal in WinAnsi (cp1252), which covers French accents and the em dash."""
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def notice_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF with a title and a few lines of text: the 'documentation' resources."""
    content = [b"BT", b"/F1 15 Tf", b"56 780 Td", _pdf_text(title) + b" Tj", b"/F1 10 Tf", b"0 -28 Td"]
    for line in lines:
        content += [_pdf_text(line) + b" Tj", b"0 -15 Td"]
    content.append(b"ET")
    stream = b"\n".join(content)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Title " + _pdf_text(title) + b" /Producer (civiclake demo) /CreationDate (D:20240301093000Z) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += str(number).encode() + b" 0 obj\n" + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 " + str(len(objects) + 1).encode() + b"\n0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, len(objects))
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


# --- IRVE: GeoJSON and JSON ------------------------------------------------------------------------

# (INSEE code, commune, centre lon/lat); the polygons drawn around them are rough outlines, not borders.
_COMMUNES = [
    ("28085", "Chartres", 1.4890, 48.4470),
    ("28134", "Dreux", 1.3660, 48.7370),
    ("28088", "Châteaudun", 1.3310, 48.0710),
]

# (station id, name, INSEE code, address, lon, lat, operator, commissioning date, charge points as kW)
_STATIONS = [
    ("FRS28P28085001", "Chartres - Place des Épars", "28085", "Place des Épars 28000 Chartres",
     1.4857, 48.4441, "Énergie Eure-et-Loir", "2021-06-14", [22.0, 22.0]),
    ("FRS28P28085002", "Chartres - Gare SNCF", "28085", "Place Pierre Sémard 28000 Chartres",
     1.4812, 48.4487, "Énergie Eure-et-Loir", "2021-09-02", [50.0, 22.0, 22.0]),
    ("FRS28P28085003", "Chartres - Parking Cathédrale", "28085", "Rue de la Volaille 28000 Chartres",
     1.4881, 48.4474, "Énergie Eure-et-Loir", "2022-03-28", [7.4]),
    ("FRS28P28134001", "Dreux - Hôtel de ville", "28134", "2 Rue de Châteaudun 28100 Dreux",
     1.3655, 48.7362, "Énergie Eure-et-Loir", "2020-11-19", [22.0, 22.0]),
    ("FRS28P28134002", "Dreux - Centre aquatique", "28134", "Rue Henri Dunant 28100 Dreux",
     1.3791, 48.7440, None, "2023-01-10", [150.0, 150.0]),
    ("FRS28P28088001", "Châteaudun - Place du 18 Octobre", "28088",
     "Place du 18 Octobre 28200 Châteaudun", 1.3306, 48.0702, "Énergie Eure-et-Loir", "2021-05-05",
     [22.0, 3.7]),
    ("FRS28P28088002", "Châteaudun - Gare", "28088", "Avenue de la Gare 28200 Châteaudun",
     1.3384, 48.0732, "Énergie Eure-et-Loir", None, [22.0]),
]  # fmt: skip


def _outline(lon: float, lat: float) -> list[list[float]]:
    """A closed hexagon-like ring around a point (counter-clockwise, as RFC 7946 wants)."""
    steps = [(0.045, 0.0), (0.025, 0.03), (-0.025, 0.032), (-0.05, 0.0), (-0.027, -0.029), (0.024, -0.031)]
    ring = [[round(lon + dx, 4), round(lat + dy, 4)] for dx, dy in steps]
    return [*ring, ring[0]]


def bornes_geojson() -> bytes:
    """A FeatureCollection mixing commune polygons and charging-station points."""
    features: list[dict[str, object]] = []
    for code, name, lon, lat in _COMMUNES:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [_outline(lon, lat)]},
                "properties": {"type": "commune", "code_insee": code, "nom": name, "departement": "28"},
            }
        )
    for station_id, name, code, address, lon, lat, operator, opened, points in _STATIONS:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "type": "borne",
                    "id_station_itinerance": station_id,
                    "nom_station": name,
                    "code_insee_commune": code,
                    "adresse_station": address,
                    "nom_operateur": operator,
                    "nbre_pdc": len(points),
                    "puissance_max_kw": max(points),
                    "date_mise_en_service": opened,
                },
            }
        )
    collection = {"type": "FeatureCollection", "name": "bornes-irve-eure-et-loir", "features": features}
    return (json.dumps(collection, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def irve_json() -> bytes:
    """An object with a ``data`` array of station records, each nesting its charge points."""
    records = []
    for station_id, name, code, address, lon, lat, operator, opened, points in _STATIONS:
        records.append(
            {
                "id_station_itinerance": station_id,
                "nom_station": name,
                "adresse_station": address,
                "code_insee_commune": code,
                "coordonneesXY": [lon, lat],
                "operateur": {"nom": operator, "contact": "contact@energie28.fr" if operator else None},
                "date_mise_en_service": opened,
                "points_de_charge": [
                    {
                        "id_pdc_itinerance": f"{station_id.replace('P', 'E', 1)}{index}",
                        "puissance_nominale": power,
                        "prise_type_2": power <= 22.0,
                        "prise_type_combo_ccs": power >= 50.0,
                        "gratuit": False if power >= 50.0 else None,
                    }
                    for index, power in enumerate(points, start=1)
                ],
            }
        )
    document = {
        "data": records,
        "meta": {"schema": "etalab/schema-irve-statique", "version": "2.3.1", "departement": "28"},
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# --- Accidents: XLSX and ZIP -----------------------------------------------------------------------

_DEPARTEMENTS = [
    ("01", "Ain"), ("02", "Aisne"), ("06", "Alpes-Maritimes"), ("13", "Bouches-du-Rhône"),
    ("2A", "Corse-du-Sud"), ("2B", "Haute-Corse"), ("28", "Eure-et-Loir"), ("33", "Gironde"),
    ("35", "Ille-et-Vilaine"), ("44", "Loire-Atlantique"), ("59", "Nord"), ("69", "Rhône"),
    ("75", "Paris"), ("93", "Seine-Saint-Denis"), ("971", "Guadeloupe"), ("974", "La Réunion"),
]  # fmt: skip


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ARCHIVE_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, whatever machine builds it
    info.external_attr = 0o644 << 16
    return info


def _rezip(data: bytes, rewrite: dict[str, bytes] | None = None) -> bytes:
    """Copy an archive member by member with pinned timestamps (openpyxl stamps the build time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            body = (rewrite or {}).get(name, source.read(name))
            target.writestr(_zip_entry(name), body)
    return out.getvalue()


def accidentalite_xlsx() -> bytes:
    """Two sheets, one per year; the 2023 one starts with a title row and a blank row, as producers do."""
    from openpyxl import Workbook

    rng = random.Random(2023)
    workbook = Workbook()
    workbook.properties.creator = "ONISR"
    workbook.properties.title = "Accidentalité routière par département"
    workbook.properties.created = WORKBOOK_TIMESTAMP
    header = ["Code département", "Département", "Accidents corporels", "Tués", "Blessés hospitalisés"]
    for index, year in enumerate((2023, 2022)):
        sheet = workbook.active if index == 0 else workbook.create_sheet()
        sheet.title = str(year)
        if year == 2023:
            sheet.append([f"Accidentalité routière {year} par département — données provisoires"])
            sheet.append([])
        sheet.append(header)
        for code, name in _DEPARTEMENTS:
            accidents = rng.randint(150, 4200)
            sheet.append([code, name, accidents, rng.randint(3, 90), round(accidents * rng.uniform(0.2, 0.5))])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _pin_modified(buffer.getvalue())


_LIEUX_COLUMNS = ["catr", "voie", "circ", "nbv", "vosp", "prof", "plan", "surf", "infra", "situ", "vma"]
_VOIES = ["RUE DE LA REPUBLIQUE", "D 910", "A 11", "AVENUE JEAN JAURES", "N 154", "CHEMIN DES VIGNES",
          "BOULEVARD CHASLES", "D 939", "RUE DU FAUBOURG SAINT-JEAN", ""]  # fmt: skip


def _lieux_csv(year: int, key_column: str, rows: int) -> bytes:
    rng = random.Random(year)
    lines = [";".join(f'"{column}"' for column in [key_column, *_LIEUX_COLUMNS])]
    for number in range(1, rows + 1):
        values = [
            f"{year}{number:08d}",
            str(rng.choice([1, 2, 3, 4, 7])),
            rng.choice(_VOIES),
            str(rng.choice([1, 2, 3])),
            str(rng.choice([1, 2, 3, 4])),
            str(rng.choice([0, 1, 2])),
            str(rng.choice([1, 1, 2])),
            str(rng.choice([1, 1, 2, 3])),
            str(rng.choice([1, 1, 2, 7])),
            str(rng.choice([0, 0, 1, 2])),
            str(rng.choice([1, 1, 3])),
            str(rng.choice([30, 50, 50, 80, 90, 110, 130])),
        ]
        lines.append(";".join(f'"{value}"' for value in values))
    return ("\n".join(lines) + "\n").encode("utf-8")


_LISEZMOI = """Bases de données annuelles des accidents corporels de la circulation routière
Fichiers « lieux » 2021 et 2022 (extrait)

Un fichier par année, séparateur « ; », valeurs entre guillemets, encodage UTF-8.
Attention : la clé de l'accident s'appelle Num_Acc en 2021 et Accident_Id en 2022.
Voir la notice « Description des bases de données annuelles » pour la signification des codes.
"""


def lieux_zip() -> bytes:
    """A ZIP of two yearly CSVs whose key column is renamed from one year to the next, plus a README."""
    members = {
        "lieux-2021.csv": _lieux_csv(2021, "Num_Acc", 24),
        "lieux-2022.csv": _lieux_csv(2022, "Accident_Id", 27),
        "LISEZMOI.txt": _LISEZMOI.encode("utf-8"),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in members.items():
            archive.writestr(_zip_entry(name), body)
    return out.getvalue()


# --- La Poste, an older release ------------------------------------------------------------------


def old_hexasmal_csv(current_release: Path, rows: int = 40) -> bytes:
    """The first rows of the current release, re-encoded as the older latin-1 files with a ``#`` header."""
    with current_release.open(encoding="utf-8", newline="") as source:
        source.readline()
        body = [source.readline().rstrip("\r\n") for _ in range(rows)]
    header = "#Code_commune_INSEE;Nom_commune;Code_postal;Libellé_acheminement;Ligne_5"
    return ("\r\n".join([header, *body]) + "\r\n").encode("latin-1")


# --- A synthetic catalogue of any size, for the scale benchmark -------------------------------------

# Every synthetic dataset carries this tag; one in ten also carries SEARCH_TAG, so that a registry can select
# those by a search and the others by id, as a real deployment mixes both.
CATALOGUE_TAG = "catalogue-synthetique"
SEARCH_TAG = "selection-par-recherche"
SEARCH_SHARE = 10
_THEMES = ["transports", "environnement", "sante", "education", "logement", "energie", "agriculture", "culture"]
_COMMUNE_NAMES = ["Chartres", "Dreux", "Châteaudun", "Nogent-le-Rotrou", "Lucé", "Vernouillet", "Mainvilliers"]
_CHANGED_AT = datetime(2024, 6, 1)


@dataclass(frozen=True)
class SyntheticDataset:
    """One dataset of the synthetic catalogue: its API object, the bytes of its files, and its broken parts.

    ``files`` maps resource ids to bytes; a resource in ``missing`` has a URL the mirror answers 404 for, and
    one in ``failing`` is to be answered with HTTP 500 every time (a fault the server arms).
    """

    index: int
    dataset: dict[str, object]
    files: dict[str, bytes]
    failing: frozenset[str] = frozenset()
    missing: frozenset[str] = frozenset()


def synthetic_dataset_id(seed: int, index: int) -> str:
    """A 24-hex id, shaped like data.gouv.fr's ObjectIds."""
    return hashlib.sha1(f"{seed}:{index}".encode()).hexdigest()[:24]


def _rows_csv(rng: random.Random, version: int) -> bytes:
    lines = ["code_commune;nom_commune;valeur;date_mesure"]
    for number in range(rng.randint(15, 60)):
        code = f"28{rng.randint(1, 420):03d}"
        lines.append(f"{code};{rng.choice(_COMMUNE_NAMES)};{rng.randint(0, 99999) + version};2024-0{1 + number % 9}-15")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _records_json(rng: random.Random) -> bytes:
    records = [
        {"identifiant": f"R{rng.randint(0, 10**6):07d}", "commune": rng.choice(_COMMUNE_NAMES), "mesure": rng.random()}
        for _ in range(rng.randint(5, 30))
    ]
    return json.dumps({"data": records}, ensure_ascii=False).encode("utf-8")


def _points_geojson(rng: random.Random) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [round(rng.uniform(1.0, 2.0), 5), round(rng.uniform(48.0, 49.0), 5)],
            },
            "properties": {"nom": rng.choice(_COMMUNE_NAMES), "capacite": rng.randint(1, 200)},
        }
        for _ in range(rng.randint(3, 20))
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode("utf-8")


def _csv_zip(rng: random.Random) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(_zip_entry("donnees.csv"), _rows_csv(rng, 0))
    return out.getvalue()


@functools.cache
def _workbook(variant: int) -> bytes:
    """A few XLSX workbooks shared by the catalogue: openpyxl takes milliseconds per workbook, 10,000 add up."""
    from openpyxl import Workbook

    rng = random.Random(variant)
    workbook = Workbook()
    workbook.properties.created = WORKBOOK_TIMESTAMP
    sheet = workbook.active
    sheet.title = "Donnees"
    sheet.append(["Code commune", "Commune", "Effectif"])
    for _ in range(20):
        sheet.append([f"28{rng.randint(1, 420):03d}", rng.choice(_COMMUNE_NAMES), rng.randint(0, 5000)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _pin_modified(buffer.getvalue())


def _pin_modified(workbook: bytes) -> bytes:
    """openpyxl stamps a workbook with the time it is saved: pin it, so that the same seed gives the same bytes."""
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        core = archive.read("docProps/core.xml").decode("utf-8")
    pinned = WORKBOOK_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    core = re.sub(r"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rf"\g<1>{pinned}\g<2>", core)
    return _rezip(workbook, {"docProps/core.xml": core.encode("utf-8")})


@functools.cache
def _notice(theme: str) -> bytes:
    return notice_pdf(f"Notice — {theme}", ["Description des champs du jeu de données synthétique."])


def synthetic_dataset(seed: int, index: int, version: int = 0) -> SyntheticDataset:
    """Dataset ``index`` of the catalogue of ``seed``; a higher ``version`` changes its first file (and its date).

    About four resources: a CSV; one JSON, GeoJSON, ZIP or XLSX; a PDF notice (documentation, which syncs skip);
    a second CSV. Out of every hundred datasets, one's second CSV is missing (404), one's answers 500, and one's is
    a broken file (ZIP bytes cut short, declared as CSV).
    """
    rng = random.Random(f"{seed}:{index}")
    dataset_id = synthetic_dataset_id(seed, index)
    theme = _THEMES[index % len(_THEMES)]
    slug = f"jeu-synthetique-{index:05d}-{theme}"
    created = datetime(2024, 1, 1) + timedelta(minutes=index)
    created_at = created.isoformat() + "+00:00"
    changed_at = (_CHANGED_AT + timedelta(seconds=version)).isoformat() + "+00:00" if version else created_at
    rids = [f"{dataset_id}-r{number}" for number in range(4)]
    second_kind = ["json", "geojson", "zip", "xlsx"][rng.randrange(4)]
    second = {
        "json": _records_json,
        "geojson": _points_geojson,
        "zip": _csv_zip,
        "xlsx": lambda generator: _workbook(generator.randrange(4)),
    }[second_kind](rng)
    files = {rids[0]: _rows_csv(random.Random(f"{seed}:{index}:{version}"), version), rids[1]: second}
    files[rids[2]] = _notice(theme)
    files[rids[3]] = _rows_csv(rng, 0)
    failing: frozenset[str] = frozenset()
    missing: frozenset[str] = frozenset()
    if index % 100 == 7:
        missing = frozenset({rids[3]})
        del files[rids[3]]
    elif index % 100 == 42:
        failing = frozenset({rids[3]})
    elif index % 100 == 77:
        files[rids[3]] = _csv_zip(rng)[:60]
    resources = [
        {"id": rids[0], "title": "Mesures par commune", "format": "csv", "type": "main", "last_modified": changed_at},
        {"id": rids[1], "title": f"Complément {second_kind}", "format": second_kind, "type": "main"},
        {"id": rids[2], "title": "Notice", "format": "pdf", "type": "documentation"},
        {"id": rids[3], "title": "Historique", "format": "csv", "type": "main"},
    ]
    for resource in resources:
        resource["created_at"] = created_at
        resource.setdefault("last_modified", created_at)
    tags = [CATALOGUE_TAG, theme] + ([SEARCH_TAG] if index % SEARCH_SHARE == 0 else [])
    organization = index % 40
    dataset: dict[str, object] = {
        "id": dataset_id,
        "slug": slug,
        "title": f"Jeu synthétique {index} — {theme}",
        "description": f"Données synthétiques ({theme}) pour mesurer la montée en charge.",
        "created_at": created_at,
        "tags": tags,
        "frequency": "monthly",
        "organization": {
            "id": f"org-{organization:02d}",
            "slug": f"organisation-{organization:02d}",
            "name": f"Organisation {organization:02d}",
        },
        "resources": resources,
    }
    return SyntheticDataset(index, dataset, files, failing, missing)

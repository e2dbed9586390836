"""Build the mirror's catalogue: regenerate the synthetic files, then recompute the JSON from files/.

Run ``python -m civiclake.demo.mirror.build_catalog`` after touching a file or a dataset below;
``--check`` only reports whether the catalogue on disk is what this script would write.

The dataset and resource metadata live here, in Python; sizes, SHA-1 sums and the ``check:*`` /
``analysis:*`` extras that depend on the bytes are computed from the files, so the catalogue cannot
drift from them. The JSON keeps the production hosts (``static.data.gouv.fr``, ``www.data.gouv.fr``);
the server rewrites them to its own address when it answers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from civiclake.demo.mirror import synthetic

MIRROR_DIR = Path(__file__).resolve().parent
CATALOG_DIR = MIRROR_DIR / "catalog"
FILES_DIR = MIRROR_DIR / "files"

STATIC_RESOURCES = "https://static.data.gouv.fr/resources"
WWW = "https://www.data.gouv.fr"

# The real files, copied byte for byte from the producers: never rewrite them, only check them.
REAL_FILES = {
    "019HexaSmal.csv": "8dddd248a1f9d9dd4eeb6eeffabbe271e7f72478",
    "liste-des-gares.csv": "7db5da0378344f49e2c971aa39b1a1d84a3131f5",
    "frequentation-gares.csv": "7aa423a7cdc49eecb61b1d8dc17308eb9b9252ac",
    "caract-2023.csv": "9d6378adedef987506af780a3caf5b25bde80992",
}

Json = dict[str, Any]


def sha1_of(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --- Synthetic files ------------------------------------------------------------------------------


def _notices() -> dict[str, Callable[[Path], bytes]]:
    def notice(title: str, *lines: str) -> Callable[[Path], bytes]:
        return lambda _files_dir: synthetic.notice_pdf(title, list(lines))

    return {
        "notice-base-officielle-des-codes-postaux.pdf": notice(
            "Base officielle des codes postaux — notice",
            "Fichier 019HexaSmal : une ligne par couple commune / code postal / libellé d'acheminement.",
            "Colonnes : Code_commune_INSEE ; Nom_de_la_commune ; Code_postal ; Libellé_d_acheminement ;",
            "Ligne_5. Séparateur point-virgule. Les codes gardent leurs zéros initiaux (01400).",
        ),
        "notice-liste-des-gares.pdf": notice(
            "Liste des gares — description des champs",
            "code_uic : code UIC de la gare ; libelle : nom de la gare ; fret / voyageurs : O ou N.",
            "x_l93, y_l93 : coordonnées Lambert-93 ; x_wgs84, y_wgs84 : coordonnées WGS84.",
            "geo_shape : géométrie GeoJSON du point. Fichier UTF-8 avec BOM, séparateur « ; ».",
        ),
        "notice-frequentation-gares.pdf": notice(
            "Fréquentation en gares — méthodologie",
            "Estimation annuelle du nombre de voyageurs et de non-voyageurs par gare, 2015 à 2022.",
            "Segmentation DRG : A (gares nationales), B (régionales), C (locales).",
        ),
        "description-des-bases-de-donnees-annuelles-2023.pdf": notice(
            "Bases de données annuelles des accidents corporels — description",
            "Quatre fichiers par année : caractéristiques, lieux, véhicules, usagers.",
            "Depuis 2019 : séparateur « ; », latitude et longitude en virgule décimale.",
            "La clé Num_Acc relie les fichiers d'une même année (Accident_Id en 2022).",
            "Source : Observatoire national interministériel de la sécurité routière (ONISR).",
        ),
        "notice-irve-statique.pdf": notice(
            "Infrastructures de recharge — schéma IRVE statique",
            "Une station (id_station_itinerance) porte un ou plusieurs points de charge (id_pdc_itinerance).",
            "Puissance nominale en kW ; coordonnées en WGS84 [longitude, latitude].",
        ),
        "guide-base-adresse-nationale.pdf": notice(
            "Base Adresse Nationale — guide des fichiers",
            "Les fichiers nationaux et départementaux se téléchargent sur adresse.data.gouv.fr.",
            "Format CSV « ; », UTF-8, une ligne par adresse, compressé en gzip.",
        ),
    }


def synthetic_generators() -> dict[str, Callable[[Path], bytes]]:
    """File name in files/ -> generator taking the files folder (some derive from the real files)."""
    return {
        **_notices(),
        "bornes-irve-eure-et-loir.geojson": lambda _files_dir: synthetic.bornes_geojson(),
        "irve-statique-eure-et-loir.json": lambda _files_dir: synthetic.irve_json(),
        "accidentalite-departements-2022-2023.xlsx": lambda _files_dir: synthetic.accidentalite_xlsx(),
        "baac-lieux-2021-2022.zip": lambda _files_dir: synthetic.lieux_zip(),
        "laposte_hexasmal_2014.csv": lambda files_dir: synthetic.old_hexasmal_csv(files_dir / "019HexaSmal.csv"),
    }


def check_real_files(files_dir: Path) -> None:
    for name, expected in REAL_FILES.items():
        actual = sha1_of(files_dir / name)
        if actual != expected:
            raise SystemExit(f"{files_dir / name} changed (sha1 {actual}, expected {expected}): restore the original")


def generate_files(files_dir: Path) -> list[str]:
    """(Re)write every synthetic file; return the names written."""
    written = []
    for name, generate in synthetic_generators().items():
        (files_dir / name).write_bytes(generate(files_dir))
        written.append(name)
    return written


# --- Catalogue objects ----------------------------------------------------------------------------


def _stamp(timestamp: str) -> str:
    """The upload folder name of a static URL: ``20240226-084117``."""
    return datetime.fromisoformat(timestamp).strftime("%Y%m%d-%H%M%S")


def organization(org_id: str, name: str, slug: str, acronym: str | None, badges: list[str]) -> Json:
    return {
        "name": name,
        "acronym": acronym,
        "uri": f"{WWW}/api/1/organizations/{slug}/",
        "slug": slug,
        "page": f"{WWW}/fr/organizations/{slug}/",
        "logo": f"https://static.data.gouv.fr/avatars/{org_id[-2:]}/{org_id}-original.png",
        "logo_thumbnail": f"https://static.data.gouv.fr/avatars/{org_id[-2:]}/{org_id}-100.png",
        "badges": [{"kind": kind} for kind in badges],
        "id": org_id,
        "class": "Organization",
    }


def _analysis_extras(sha1: str, size: int, sniffed_mime: str) -> Json:
    return {"analysis:checksum": sha1, "analysis:content-length": size, "analysis:mime-type": sniffed_mime}


def _parsing_extras(url: str, started_at: str) -> Json:
    table = hashlib.md5(url.encode()).hexdigest()  # what hydra names its table: not a security use
    return {
        "analysis:parsing:started_at": started_at,
        "analysis:parsing:finished_at": (datetime.fromisoformat(started_at) + timedelta(seconds=41)).isoformat(),
        "analysis:parsing:parsing_table": table,
        "analysis:parsing:parquet_url": f"https://object.files.data.gouv.fr/hydra-parquet/hydra-parquet/{table}.parquet",
    }


def file_resource(
    files_dir: Path,
    *,
    rid: str,
    dataset_slug: str,
    title: str,
    file: str,
    format: str,
    mime: str,
    sniffed_mime: str,
    created_at: str,
    uploaded_at: str,
    checked_at: str,
    rtype: str = "main",
    description: str = "",
    latest_on_api: bool = False,
    parsed_at: str | None = None,
    schema: Json | None = None,
    views: int = 0,
) -> Json:
    """A resource uploaded to data.gouv.fr: its bytes live on static.data.gouv.fr."""
    path = files_dir / file
    size = path.stat().st_size
    sha1 = sha1_of(path)
    url = f"{STATIC_RESOURCES}/{dataset_slug}/{_stamp(uploaded_at)}/{file}"
    latest_prefix = f"{WWW}/api/1/datasets/r/" if latest_on_api else f"{WWW}/fr/datasets/r/"
    extras: Json = {
        "check:available": True,
        "check:date": checked_at,
        "check:headers:content-type": mime,
        "check:headers:content-length": size,
        "check:status": 200,
        "check:timeout": False,
        **_analysis_extras(sha1, size, sniffed_mime),
    }
    if parsed_at:
        extras.update(_parsing_extras(url, parsed_at))
    return {
        "id": rid,
        "title": title,
        "description": description,
        "filetype": "file",
        "type": rtype,
        "format": format,
        "url": url,
        "latest": latest_prefix + rid,
        "checksum": {"type": "sha1", "value": sha1},
        "filesize": size,
        "mime": mime,
        "created_at": created_at,
        "last_modified": uploaded_at,
        "metrics": {"views": views},
        "harvest": None,
        "extras": extras,
        "preview_url": f"https://explore.data.gouv.fr/fr/resources/{rid}" if parsed_at else None,
        "schema": schema if schema is not None else {"name": None, "version": None, "url": None},
        "internal": {"created_at_internal": created_at, "last_modified_internal": uploaded_at},
    }


def remote_resource(
    *,
    rid: str,
    title: str,
    url: str,
    format: str,
    mime: str | None,
    created_at: str,
    modified_at: str,
    checked_at: str,
    extras: Json,
    description: str = "",
    views: int = 0,
) -> Json:
    """A link the producer typed: no size nor checksum; ``last_modified`` is what the analysis saw."""
    return {
        "id": rid,
        "title": title,
        "description": description,
        "filetype": "remote",
        "type": "main",
        "format": format,
        "url": url,
        "latest": f"{WWW}/fr/datasets/r/{rid}",
        "checksum": None,
        "filesize": None,
        "mime": mime,
        "created_at": created_at,
        "last_modified": modified_at,
        "metrics": {"views": views},
        "harvest": None,
        "extras": {"check:available": True, "check:date": checked_at, "check:status": 200, **extras},
        "preview_url": None,
        "schema": None,
        "internal": {"created_at_internal": created_at, "last_modified_internal": created_at},
    }


def dataset(
    *,
    dataset_id: str,
    title: str,
    slug: str,
    acronym: str | None,
    description: str,
    org: Json,
    created_at: str,
    tags: list[str],
    frequency: str,
    frequency_date: str | None,
    license: str,
    temporal_coverage: Json | None,
    spatial: Json | None,
    resources: list[Json],
    metrics: Json,
    badges: Sequence[str] = (),
    deleted: str | None = None,
) -> Json:
    last_modified = max(resource["last_modified"] for resource in resources)
    flags = {
        "license": license != "notspecified",
        "temporal_coverage": temporal_coverage is not None,
        "spatial": spatial is not None,
        "update_frequency": frequency not in ("unknown", "punctual"),
        "dataset_description_quality": len(description) > 200,
        "has_resources": bool(resources),
        "has_open_format": any(r["format"].lower() in ("csv", "json", "geojson", "txt") for r in resources),
        "all_resources_available": all(r["extras"].get("check:available") for r in resources),
        "resources_documentation": any(r["type"] == "documentation" for r in resources),
        "update_fulfilled_in_time": True,
    }
    return {
        "id": dataset_id,
        "title": title,
        "acronym": acronym,
        "slug": slug,
        "description": description,
        "description_short": description.split("\n\n")[0][:200],
        "created_at": created_at,
        "last_modified": last_modified,
        "deleted": deleted,
        "private": False,
        "tags": tags,
        "badges": [{"kind": kind} for kind in badges],
        "resources": resources,
        "frequency": frequency,
        "frequency_date": frequency_date,
        "extras": {},
        "harvest": None,
        "metrics": metrics,
        "organization": org,
        "owner": None,
        "schema": None,
        "temporal_coverage": temporal_coverage,
        "spatial": spatial,
        "license": license,
        "access_type": "open",
        "uri": f"{WWW}/api/1/datasets/{slug}/",
        "page": f"{WWW}/fr/datasets/{slug}/",
        "last_update": last_modified,
        "archived": None,
        "quality": {**flags, "score": round(sum(flags.values()) / len(flags), 2)},
        "internal": {"created_at_internal": created_at, "last_modified_internal": last_modified},
        "contact_points": [],
        "featured": False,
    }


def _metrics(views: int, followers: int, reuses: int, downloads: int, discussions: int = 0) -> Json:
    return {
        "discussions": discussions,
        "followers": followers,
        "reuses": reuses,
        "views": views,
        "resources_downloads": downloads,
    }


# --- The datasets ---------------------------------------------------------------------------------

LA_POSTE = ("534fff91a3a7292c64a77f53", "La Poste", "la-poste", None, ["certified"])
SNCF_RESEAU = ("57d665306d8d5efde975bef5", "SNCF Réseau", "sncf-reseau", None, ["certified"])
SNCF_VOYAGEURS = ("5ce4f2a8b0ca4fd9a4cde688", "SNCF Voyageurs", "sncf-voyageurs", None, ["certified"])
INTERIEUR = (
    "534fff81a3a7292c64a77e5c",
    "Ministère de l'Intérieur et des Outre-Mer",
    "ministere-de-linterieur-et-des-outre-mer",
    "MIOM",
    ["public-service", "certified"],
)
ETALAB = ("534fff75a3a7292c64a77de4", "Etalab", "etalab", None, ["public-service", "certified"])
BAN = (
    "5a8d7c8b88ee383b6eeb2a7a",
    "Base Adresse Nationale",
    "base-adresse-nationale",
    "BAN",
    ["public-service"],
)

ACCIDENTS_SLUG = "bases-de-donnees-annuelles-des-accidents-corporels-de-la-circulation-routiere-annees-de-2005-a-2023"


def codes_postaux(files_dir: Path) -> Json:
    slug = "base-officielle-des-codes-postaux"
    return dataset(
        dataset_id="53d65eb8bd2bb1511380c55a",
        title="Base officielle des codes postaux",
        slug=slug,
        acronym=None,
        description=(
            "Ce jeu de données contient la correspondance entre les codes postaux et les codes INSEE "
            "des communes, des communes déléguées et des communes associées de France, ainsi que le "
            "libellé d'acheminement du courrier.\n\nLa base est mise à jour chaque mois par La Poste. "
            "Les codes commencent parfois par un zéro (01400) : lisez-les comme du texte."
        ),
        org=organization(*LA_POSTE),
        created_at="2014-07-28T14:31:20.000000+00:00",
        tags=["adresse", "code-postal", "codes-postaux", "commune", "la-poste", "referentiel"],
        frequency="monthly",
        frequency_date="2024-03-26T08:41:17+00:00",
        license="lov2",
        temporal_coverage=None,
        spatial={"geom": None, "zones": ["country:fr"], "granularity": "fr:commune"},
        badges=[],
        metrics=_metrics(views=412093, followers=311, reuses=48, downloads=1220451, discussions=37),
        resources=[
            file_resource(
                files_dir,
                rid="9f697a55-e3cd-4d2f-bad0-58cbe0e01944",
                dataset_slug=slug,
                title="Base officielle des codes postaux",
                description="Fichier au format CSV, séparateur point-virgule.",
                file="019HexaSmal.csv",
                format="csv",
                mime="text/csv",
                sniffed_mime="text/plain",
                created_at="2014-07-28T14:35:02.118000+00:00",
                uploaded_at="2024-02-26T08:41:17.254000+00:00",
                checked_at="2024-03-14T04:12:51.093000+00:00",
                parsed_at="2024-02-26T08:45:00.512000+00:00",
                views=38211,
            ),
            file_resource(
                files_dir,
                rid="b00e3978-fa20-45a8-a648-e960786c2294",
                dataset_slug=slug,
                title="Notice descriptive",
                file="notice-base-officielle-des-codes-postaux.pdf",
                format="pdf",
                mime="application/pdf",
                sniffed_mime="application/pdf",
                rtype="documentation",
                created_at="2019-05-09T10:02:44.731000+00:00",
                uploaded_at="2019-05-09T10:02:44.731000+00:00",
                checked_at="2024-03-12T22:40:05.502000",
                views=1893,
            ),
        ],
    )


def liste_des_gares(files_dir: Path) -> Json:
    slug = "liste-des-gares"
    return dataset(
        dataset_id="581c510f9f9d1d436acab664",
        title="Liste des gares",
        slug=slug,
        acronym=None,
        description=(
            "Liste des gares du réseau ferré national, avec leur code UIC, leur commune, leur "
            "département, leurs coordonnées en Lambert-93 et en WGS84 et la nature du service "
            "(fret, voyageurs).\n\nDonnées issues du référentiel des gares de SNCF Réseau."
        ),
        org=organization(*SNCF_RESEAU),
        created_at="2016-11-04T09:12:47.000000+00:00",
        tags=["ferroviaire", "gares", "sncf", "transport", "uic"],
        frequency="quarterly",
        frequency_date="2024-04-15T00:00:00+00:00",
        license="odc-odbl",
        temporal_coverage=None,
        spatial={"geom": None, "zones": ["country:fr"], "granularity": "poi"},
        metrics=_metrics(views=98311, followers=87, reuses=21, downloads=154020, discussions=6),
        resources=[
            file_resource(
                files_dir,
                rid="18ab001a-0d6c-49ee-b64a-8195d9b76195",
                dataset_slug=slug,
                title="Liste des gares",
                description="Export CSV du référentiel des gares (séparateur « ; »).",
                file="liste-des-gares.csv",
                format="CSV",
                mime="text/csv",
                sniffed_mime="text/plain",
                created_at="2016-11-04T09:15:10.227000+00:00",
                uploaded_at="2024-01-15T13:22:08.904000+00:00",
                checked_at="2024-03-13T07:55:31.660000+00:00",
                parsed_at="2024-01-15T13:30:00.017000+00:00",
                latest_on_api=True,
                views=9120,
            ),
            file_resource(
                files_dir,
                rid="e890fc58-6489-4a16-b78f-0ec46c36ee3d",
                dataset_slug=slug,
                title="Description des champs",
                file="notice-liste-des-gares.pdf",
                format="pdf",
                mime="application/pdf",
                sniffed_mime="application/pdf",
                rtype="documentation",
                created_at="2016-11-04T09:16:41.002000+00:00",
                uploaded_at="2021-06-30T15:04:12.385000+00:00",
                checked_at="2024-03-13T07:55:33.120000+00:00",
                views=402,
            ),
        ],
    )


def frequentation_en_gares(files_dir: Path) -> Json:
    slug = "frequentation-en-gares"
    gares = files_dir / "liste-des-gares.csv"
    return dataset(
        dataset_id="5ce572bf226c7f3345dfbc63",
        title="Fréquentation en gares",
        slug=slug,
        acronym=None,
        description=(
            "Nombre annuel de voyageurs et de non-voyageurs dans les gares de voyageurs, de 2015 à "
            "2022, estimé à partir des ventes de billets et des comptages.\n\nUne colonne par année "
            "(format large). Les gares sont identifiées par leur code UIC, comme dans la liste des "
            "gares publiée par SNCF Réseau, reprise ici comme ressource distante."
        ),
        org=organization(*SNCF_VOYAGEURS),
        created_at="2019-05-22T16:03:11.000000+00:00",
        tags=["frequentation", "gares", "sncf", "transport", "voyageurs"],
        frequency="annual",
        frequency_date="2024-06-30T00:00:00+00:00",
        license="odc-odbl",
        temporal_coverage={"start": "2015-01-01", "end": "2022-12-31"},
        spatial={"geom": None, "zones": ["country:fr"], "granularity": "poi"},
        metrics=_metrics(views=54210, followers=42, reuses=9, downloads=61874),
        resources=[
            file_resource(
                files_dir,
                rid="7fddf601-70d0-4031-a839-2a4e316255d1",
                dataset_slug=slug,
                title="Fréquentation en gares 2015-2022",
                file="frequentation-gares.csv",
                format="csv",
                mime="text/csv",
                sniffed_mime="text/plain",
                created_at="2019-05-22T16:05:40.833000+00:00",
                uploaded_at="2023-07-04T09:18:26.455000+00:00",
                checked_at="2024-03-10T18:02:11.347000",
                parsed_at="2023-07-04T09:20:00.302000+00:00",
                views=6605,
            ),
            remote_resource(
                rid="5a8f03c8-4d81-4587-8746-6d6bfb993bd4",
                title="Référentiel des gares (jeu « Liste des gares » de SNCF Réseau)",
                description="Lien permanent vers la dernière version de la liste des gares.",
                url=f"{WWW}/fr/datasets/r/18ab001a-0d6c-49ee-b64a-8195d9b76195",
                format="csv",
                mime="text/csv",
                created_at="2019-05-22T16:09:02.560000+00:00",
                modified_at="2024-01-15T13:22:08+00:00",
                checked_at="2024-03-10T18:02:14.901000",
                extras={
                    "check:headers:content-type": "text/csv",
                    "check:headers:content-length": gares.stat().st_size,
                    **_analysis_extras(sha1_of(gares), gares.stat().st_size, "text/plain"),
                    "analysis:last-modified-at": "2024-01-15T13:22:08+00:00",
                    "analysis:last-modified-detection": "last-modified-header",
                },
                views=733,
            ),
            file_resource(
                files_dir,
                rid="d64b6d08-f100-441b-83fe-7b75add75e26",
                dataset_slug=slug,
                title="Méthodologie",
                file="notice-frequentation-gares.pdf",
                format="pdf",
                mime="application/pdf",
                sniffed_mime="application/pdf",
                rtype="documentation",
                created_at="2019-05-22T16:07:13.092000+00:00",
                uploaded_at="2023-07-04T09:19:02.118000+00:00",
                checked_at="2024-03-10T18:02:16.772000",
                views=215,
            ),
        ],
    )


def accidents(files_dir: Path) -> Json:
    slug = ACCIDENTS_SLUG
    return dataset(
        dataset_id="53698f4ca3a729239d2036df",
        title="Bases de données annuelles des accidents corporels de la circulation routière - Années de 2005 à 2023",
        slug=slug,
        acronym="BAAC",
        description=(
            "Pour chaque accident corporel (soit un accident survenu sur une voie ouverte à la "
            "circulation publique, impliquant au moins un véhicule et ayant fait au moins une victime "
            "ayant nécessité des soins), des saisies d'information décrivant l'accident sont effectuées "
            "par l'unité des forces de l'ordre intervenue sur le lieu de l'accident.\n\nLes bases sont "
            "produites par l'Observatoire national interministériel de la sécurité routière (ONISR) : "
            "quatre fichiers par année (caractéristiques, lieux, véhicules, usagers)."
        ),
        org=organization(*INTERIEUR),
        created_at="2014-05-07T01:41:32.000000+00:00",
        tags=["accidents", "accidentologie", "baac", "circulation", "route", "securite-routiere"],
        frequency="annual",
        frequency_date="2024-10-15T00:00:00+00:00",
        license="lov2",
        temporal_coverage={"start": "2005-01-01", "end": "2023-12-31"},
        spatial={"geom": None, "zones": ["country:fr"], "granularity": "fr:commune"},
        badges=["spd"],
        metrics=_metrics(views=702155, followers=540, reuses=112, downloads=988312, discussions=61),
        resources=[
            file_resource(
                files_dir,
                rid="17ede5d7-693c-44cf-b0ac-38cff71a1136",
                dataset_slug=slug,
                title="Caractéristiques - 2023",
                file="caract-2023.csv",
                format="csv",
                mime="text/csv",
                sniffed_mime="text/plain",
                created_at="2024-10-02T14:10:55.619000+00:00",
                uploaded_at="2024-10-02T14:10:55.619000+00:00",
                checked_at="2024-10-09T03:21:40.008000+00:00",
                parsed_at="2024-10-02T14:12:00.734000+00:00",
                views=11873,
            ),
            file_resource(
                files_dir,
                rid="9644c603-d996-4c95-809d-9de5bc5dc665",
                dataset_slug=slug,
                title="Lieux - 2021 et 2022 (archive)",
                description="Les fichiers « lieux » de 2021 et 2022 réunis dans une archive.",
                file="baac-lieux-2021-2022.zip",
                format="zip",
                mime="application/zip",
                sniffed_mime="application/zip",
                created_at="2023-10-05T10:01:18.201000+00:00",
                uploaded_at="2023-10-05T10:01:18.201000+00:00",
                checked_at="2024-10-09T03:21:42.510000+00:00",
                views=2301,
            ),
            file_resource(
                files_dir,
                rid="f049fd76-ded8-4277-9cc4-1216d6a45423",
                dataset_slug=slug,
                title="Accidentalité par département 2022-2023",
                description="Un onglet par année.",
                file="accidentalite-departements-2022-2023.xlsx",
                format="xlsx",
                mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                sniffed_mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                created_at="2024-10-02T14:20:31.447000+00:00",
                uploaded_at="2024-10-02T14:20:31.447000+00:00",
                checked_at="2024-10-09T03:21:44.873000+00:00",
                views=1502,
            ),
            file_resource(
                files_dir,
                rid="fd2f32ad-ba5f-4d02-a373-3a21473da6fd",
                dataset_slug=slug,
                title="Description des bases de données annuelles 2005-2023",
                file="description-des-bases-de-donnees-annuelles-2023.pdf",
                format="pdf",
                mime="application/pdf",
                sniffed_mime="application/pdf",
                rtype="documentation",
                created_at="2024-10-02T14:05:12.993000+00:00",
                uploaded_at="2024-10-02T14:05:12.993000+00:00",
                checked_at="2024-10-09T03:21:46.115000+00:00",
                views=4410,
            ),
        ],
    )


def bornes_irve(files_dir: Path) -> Json:
    slug = "bornes-de-recharge-pour-vehicules-electriques-en-eure-et-loir"
    return dataset(
        dataset_id="604f3a7237e3d1284af2d2f4",
        title="Bornes de recharge pour véhicules électriques en Eure-et-Loir",
        slug=slug,
        acronym="IRVE",
        description=(
            "Extrait départemental du fichier consolidé des infrastructures de recharge pour véhicules "
            "électriques (IRVE), au schéma IRVE statique.\n\nLe fichier GeoJSON réunit les contours "
            "des communes équipées et la position des stations ; le fichier JSON décrit chaque station "
            "et ses points de charge."
        ),
        org=organization(*ETALAB),
        created_at="2021-03-15T10:44:02.000000+00:00",
        tags=["bornes", "eure-et-loir", "irve", "mobilite", "recharge", "vehicules-electriques"],
        frequency="daily",
        frequency_date="2024-03-15T00:00:00+00:00",
        license="lov2",
        temporal_coverage=None,
        spatial={"geom": None, "zones": ["fr:departement:28"], "granularity": "poi"},
        metrics=_metrics(views=3120, followers=12, reuses=2, downloads=4471),
        resources=[
            file_resource(
                files_dir,
                rid="e766279b-84ce-4532-8c6c-2f3da4fe3e40",
                dataset_slug=slug,
                title="Stations et communes équipées (GeoJSON)",
                file="bornes-irve-eure-et-loir.geojson",
                format="geojson",
                mime="application/json",
                sniffed_mime="application/json",
                created_at="2021-03-15T10:50:19.330000+00:00",
                uploaded_at="2024-03-14T02:00:07.581000+00:00",
                checked_at="2024-03-14T06:31:10.004000+00:00",
                views=640,
            ),
            file_resource(
                files_dir,
                rid="6af10dd5-62b4-4600-819b-002f21d4e371",
                dataset_slug=slug,
                title="Mise à jour du fichier consolidé IRVE statique (JSON)",
                file="irve-statique-eure-et-loir.json",
                format="json",
                mime="application/json",
                sniffed_mime="application/json",
                rtype="update",
                created_at="2021-03-15T10:52:47.811000+00:00",
                uploaded_at="2024-03-14T02:00:09.046000+00:00",
                checked_at="2024-03-14T06:31:12.250000+00:00",
                schema={
                    "name": "etalab/schema-irve-statique",
                    "version": "2.3.1",
                    "url": "https://schema.data.gouv.fr/schemas/etalab/schema-irve-statique/2.3.1/schema-statique.json",
                },
                views=388,
            ),
            file_resource(
                files_dir,
                rid="0c23aa0c-a3b3-4eca-9756-64f51a1c2a8f",
                dataset_slug=slug,
                title="Notice du schéma IRVE statique",
                file="notice-irve-statique.pdf",
                format="pdf",
                mime="application/pdf",
                sniffed_mime="application/pdf",
                rtype="documentation",
                created_at="2021-03-15T10:55:30.404000+00:00",
                uploaded_at="2023-02-20T11:41:58.675000+00:00",
                checked_at="2024-03-14T06:31:13.980000+00:00",
                views=97,
            ),
        ],
    )


def base_adresse_nationale(files_dir: Path) -> Json:
    slug = "base-adresse-nationale"
    return dataset(
        dataset_id="5530fbacc751df5ff937dddb",
        title="Base Adresse Nationale (BAN)",
        slug=slug,
        acronym="BAN",
        description=(
            "La Base Adresse Nationale est la base de données de référence pour l'ensemble des adresses "
            "en France.\n\nLes fichiers nationaux (CSV « ; » compressés, environ 900 Mo) se téléchargent "
            "sur adresse.data.gouv.fr : la ressource ci-dessous est un lien vers cette page."
        ),
        org=organization(*BAN),
        created_at="2015-04-17T12:25:16.000000+00:00",
        tags=["adresse", "adresses", "ban", "base-adresse-nationale", "geocodage", "referentiel"],
        frequency="weekly",
        frequency_date="2024-03-18T00:00:00+00:00",
        license="lov2",
        temporal_coverage=None,
        spatial={"geom": None, "zones": ["country:fr"], "granularity": "poi"},
        badges=["spd"],
        metrics=_metrics(views=890122, followers=702, reuses=150, downloads=302114, discussions=88),
        resources=[
            remote_resource(
                rid="01f575f9-6684-4b24-ac01-c6f499d53c92",
                title="Téléchargement des fichiers nationaux et départementaux",
                url="https://adresse.data.gouv.fr/donnees-nationales",
                format="www",
                mime=None,
                created_at="2015-04-17T12:31:50.120000+00:00",
                modified_at="2023-11-06T09:12:40.778000+00:00",
                checked_at="2024-03-15T11:04:59.305000+00:00",
                extras={"check:headers:content-type": "text/html; charset=utf-8"},
                views=120344,
            ),
            file_resource(
                files_dir,
                rid="6b1b3131-6ebb-468d-90d2-07b2f6e6442d",
                dataset_slug=slug,
                title="Guide des fichiers de la Base Adresse Nationale",
                file="guide-base-adresse-nationale.pdf",
                format="pdf",
                mime="application/pdf",
                sniffed_mime="application/pdf",
                rtype="documentation",
                created_at="2020-09-01T08:22:05.913000+00:00",
                uploaded_at="2020-09-01T08:22:05.913000+00:00",
                checked_at="2024-03-15T11:05:02.441000+00:00",
                views=5031,
            ),
        ],
    )


def codes_postaux_2014(files_dir: Path) -> Json:
    """A dataset La Poste deleted: the API answers 410 for it and search leaves it out."""
    slug = "base-officielle-des-codes-postaux-2014"
    return dataset(
        dataset_id="542d130caaa9942b00d06dd4",
        title="Base officielle des codes postaux (2014)",
        slug=slug,
        acronym=None,
        description=("Ancienne version de la base officielle des codes postaux, remplacée par la version mensuelle."),
        org=organization(*LA_POSTE),
        created_at="2014-10-02T08:55:40.000000+00:00",
        tags=["code-postal", "codes-postaux", "la-poste"],
        frequency="unknown",
        frequency_date=None,
        license="fr-lo",
        temporal_coverage=None,
        spatial=None,
        deleted="2019-06-03T12:00:41.118000+00:00",
        metrics=_metrics(views=20511, followers=4, reuses=0, downloads=8890),
        resources=[
            file_resource(
                files_dir,
                rid="c3c4f98b-204f-40c9-86e8-384c0d5eca39",
                dataset_slug=slug,
                title="Base officielle des codes postaux - octobre 2014",
                file="laposte_hexasmal_2014.csv",
                format="txt",
                mime="text/plain",
                sniffed_mime="text/plain",
                created_at="2014-10-02T09:01:13.540000+00:00",
                uploaded_at="2014-10-02T09:01:13.540000+00:00",
                checked_at="2019-06-01T02:11:30.600000",
                views=3021,
            ),
        ],
    )


DATASET_BUILDERS: list[Callable[[Path], Json]] = [
    codes_postaux,
    liste_des_gares,
    frequentation_en_gares,
    accidents,
    bornes_irve,
    base_adresse_nationale,
    codes_postaux_2014,
]


def build_datasets(files_dir: Path = FILES_DIR) -> list[Json]:
    return [build(files_dir) for build in DATASET_BUILDERS]


def render_catalog(datasets: list[Json]) -> dict[str, str]:
    """Catalogue file name -> JSON text (one file per dataset, named after its slug)."""
    return {f"{item['slug']}.json": json.dumps(item, ensure_ascii=False, indent=2) + "\n" for item in datasets}


def write_catalog(catalog_dir: Path = CATALOG_DIR, files_dir: Path = FILES_DIR) -> list[str]:
    catalog_dir.mkdir(parents=True, exist_ok=True)
    rendered = render_catalog(build_datasets(files_dir))
    for stale in set(path.name for path in catalog_dir.glob("*.json")) - rendered.keys():
        (catalog_dir / stale).unlink()
    for name, text in rendered.items():
        (catalog_dir / name).write_text(text, encoding="utf-8")
    return sorted(rendered)


def stale_catalog_files(catalog_dir: Path = CATALOG_DIR, files_dir: Path = FILES_DIR) -> list[str]:
    """Names of catalogue files that differ from what the files on disk give (empty: up to date)."""
    rendered = render_catalog(build_datasets(files_dir))
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in catalog_dir.glob("*.json")}
    return sorted(name for name in rendered.keys() | on_disk.keys() if rendered.get(name) != on_disk.get(name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the catalogue is up to date")
    parser.add_argument(
        "--catalog-only", action="store_true", help="recompute the JSON without regenerating synthetic files"
    )
    args = parser.parse_args(argv)
    check_real_files(FILES_DIR)
    if args.check:
        stale = stale_catalog_files()
        for name in stale:
            print(f"out of date: {CATALOG_DIR / name}", file=sys.stderr)
        return 1 if stale else 0
    if not args.catalog_only:
        for name in generate_files(FILES_DIR):
            print(f"generated {FILES_DIR / name}")
    for name in write_catalog():
        print(f"wrote {CATALOG_DIR / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

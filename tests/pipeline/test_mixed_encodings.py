"""Files that mix encodings: refused with the line and byte where the other encoding shows, never stored as mojibake."""

from __future__ import annotations

import hashlib
import re

import pytest

from civiclake.demo.mirror.server import MirrorServer
from tests.pipeline.lakehouse import Lakehouse

pytestmark = pytest.mark.integration

GOOD_ID = "aaaaaaaa-0000-4000-8000-000000000001"
MIXED_ID = "bbbbbbbb-0000-4000-8000-000000000001"
HEADER = "code;ville\n"
# Past the 1 MiB sniffing sample: the encoding is chosen on ASCII alone, and the reader falls back to cp1252 later.
LONG_ASCII = "".join(f"{index:05d};Paris\n" for index in range(100_000))

MIXED_FILES = {
    "cp1252-then-utf8": HEADER.encode() + "25056;Besançon\n".encode("cp1252") + "25057;Besançon\n".encode(),
    "ascii-utf8-cp1252": (HEADER + "01001;Ain\n").encode()
    + "25056;Besançon\n".encode()
    + "97;Orléans\n".encode("cp1252"),
    "long-ascii-utf8-cp1252": (HEADER + LONG_ASCII).encode()
    + "25056;Besançon\n".encode()
    + "45234;Orléans\n".encode("cp1252"),
}


@pytest.mark.parametrize("case", list(MIXED_FILES), ids=list(MIXED_FILES))
def test_a_file_mixing_utf8_and_cp1252_is_refused_and_kept(
    lakehouse: Lakehouse, mirror: MirrorServer, case: str
) -> None:
    data = MIXED_FILES[case]
    utf8_at = data.index("ç".encode())  # the first UTF-8 multi-byte sequence
    mirror.add_dataset(
        {
            "id": "encodages",
            "resources": [
                {"id": GOOD_ID, "title": "Fichier sain", "format": "csv"},
                {"id": MIXED_ID, "title": "Fichier mixte", "format": "csv"},
            ],
        },
        {GOOD_ID: "code;ville\n25056;Besançon\n".encode(), MIXED_ID: data},
    )

    report = lakehouse.sync("encodages")

    assert report.exit_code == 1
    outcomes = {outcome.resource_id: outcome for outcome in report.outcomes}
    assert outcomes[GOOD_ID].status == "loaded"
    mixed = outcomes[MIXED_ID]
    assert mixed.status == "failed", mixed
    assert "Fichier mixte" in mixed.error and MIXED_ID in mixed.error
    assert re.search(r"mixes encodings", mixed.error), mixed.error
    # The reason points at the UTF-8 text (its line, its byte offset in the file).
    line = data[:utf8_at].count(b"\n") + 1
    assert re.search(rf"line {line}\b", mixed.error), mixed.error
    assert re.search(rf"byte {utf8_at}\b", mixed.error), mixed.error
    sha256 = hashlib.sha256(data).hexdigest()
    kept = [
        path for path in (lakehouse.settings.home / "lake").rglob(f"*_{sha256[:12]}_*") if "manifest" not in path.name
    ]
    assert len(kept) == 1 and kept[0].read_bytes() == data
    assert lakehouse.table_names() == {"bronze.datagouv__encodages__fichier_sain"}
    assert lakehouse.table("bronze.datagouv__encodages__fichier_sain").column("ville").to_pylist() == ["Besançon"]
    failed = [row for row in lakehouse.meta("ingestions").to_pylist() if row["resource_id"] == MIXED_ID]
    assert [row["status"] for row in failed] == ["failed"] and failed[0]["error"] == mixed.error


def test_a_json_file_mixing_utf8_and_cp1252_is_refused(lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    data = '[{"ville": "Orléans"},\n'.encode("cp1252") + '{"ville": "Besançon"}]\n'.encode()
    mirror.add_dataset(
        {"id": "json-mixte", "resources": [{"id": MIXED_ID, "title": "Villes", "format": "json"}]}, {MIXED_ID: data}
    )

    report = lakehouse.sync("json-mixte")

    (failed,) = report.failed
    assert MIXED_ID in failed.error and re.search(r"line 2 \(byte \d+\).*mixes encodings", failed.error), failed.error
    assert lakehouse.table_names() == set()

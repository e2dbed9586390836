"""Bad files: a clear error naming the resource and the reason, raw bytes kept, no table, the rest loaded."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from civiclake.demo.mirror.server import MirrorServer
from tests.pipeline.lakehouse import Lakehouse, zip_bytes

pytestmark = pytest.mark.integration

GOOD_ID = "aaaaaaaa-0000-4000-8000-000000000000"
BAD_ID = "bbbbbbbb-0000-4000-8000-000000000000"


def zip_bomb() -> bytes:
    # 64 MiB of zeros deflate to ~64 KiB: a ratio of ~1000, far past the 200 allowed per member.
    return zip_bytes({"donnees.csv": b"a;b\n" + b"0" * (64 * 1024 * 1024)})


BAD_FILES = {
    "ragged": (
        b"code;nom;valeur\n01001;Ain;1\n01002;Aisne\n01003;Allier;3;extra\n",
        "csv",
        r"row \d+ .*has \d+ fields",
    ),
    "truncated": (b'code;nom\n01001;"Ain\n01002;Ais', "csv", r"(unterminated|truncated|quote)"),
    "garbage": (bytes(range(256)) * 64, "csv", r"(binary|not a tabular|NUL|not valid)"),
    "empty": (b"", "csv", r"empty"),
    "zip-slip": (zip_bytes({"../../evil.csv": b"a;b\n1;2\n"}), "zip", r"outside"),
    "zip-bomb": (zip_bomb(), "zip", r"(ratio|expand|limit)"),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_a_bad_file_is_refused_clearly_and_kept(lakehouse: Lakehouse, mirror: MirrorServer, case: str) -> None:
    data, declared_format, reason = BAD_FILES[case]
    mirror.add_dataset(
        {
            "id": "fichiers-de-test",
            "resources": [
                {"id": GOOD_ID, "title": "Fichier sain", "format": "csv"},
                {"id": BAD_ID, "title": f"Fichier {case}", "format": declared_format},
            ],
        },
        {GOOD_ID: b"code;nom\n01001;Ain\n", BAD_ID: data},
    )

    report = lakehouse.sync("fichiers-de-test")

    assert report.exit_code == 1
    outcomes = {outcome.resource_id: outcome for outcome in report.outcomes}
    assert outcomes[GOOD_ID].status == "loaded"
    bad = outcomes[BAD_ID]
    assert bad.status == "failed"
    assert f"Fichier {case}" in bad.error and BAD_ID in bad.error
    assert re.search(reason, bad.error), bad.error
    # The raw bytes are kept, byte for byte, with their manifest.
    sha256 = hashlib.sha256(data).hexdigest()
    kept = [
        path for path in (lakehouse.settings.home / "lake").rglob(f"*_{sha256[:12]}_*") if "manifest" not in path.name
    ]
    assert len(kept) == 1 and kept[0].read_bytes() == data
    # No table (nor part of one) for the bad resource; its refusal is on record.
    assert lakehouse.table_names() == {"bronze.datagouv__fichiers_de_test__fichier_sain"}
    refused = [row for row in lakehouse.meta("ingestions").to_pylist() if row["resource_id"] == BAD_ID]
    assert [row["status"] for row in refused] == ["failed"] and refused[0]["error"] == bad.error
    assert refused[0]["raw_sha256"] == sha256


# Typographic characters that cp1252 has and latin-1 lacks are the point of this test.
def test_a_cp1252_file_is_decoded_right(lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    text = "commune;libellé;montant\n2A004;Ajaccio – cœur de ville;12,50 €\n01001;L’Abergement;7\n"  # noqa: RUF001
    mirror.add_dataset(
        {"id": "windows", "resources": [{"id": GOOD_ID, "title": "Export tableur", "format": "csv"}]},
        {GOOD_ID: text.encode("cp1252")},
    )
    assert lakehouse.sync("windows").exit_code == 0
    rows = lakehouse.table("bronze.datagouv__windows__export_tableur").to_pylist()
    assert [row["libelle"] for row in rows] == ["Ajaccio – cœur de ville", "L’Abergement"]  # noqa: RUF001
    assert [row["commune"] for row in rows] == ["2A004", "01001"]
    assert rows[0]["montant"] == "12,50 €"


def test_a_failure_while_committing_leaves_no_partial_table(
    lakehouse: Lakehouse, mirror: MirrorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault injected at the last step, the Iceberg commit: no table, no orphan data file."""
    from pyiceberg.table import Transaction

    mirror.add_dataset(
        {"id": "commit", "resources": [{"id": GOOD_ID, "title": "Fichier", "format": "csv"}]},
        {GOOD_ID: b"code;nom\n01001;Ain\n"},
    )

    def failing_add_files(self: Transaction, *args: object, **kwargs: object) -> None:
        raise OSError("catalog database went away")

    monkeypatch.setattr(Transaction, "add_files", failing_add_files)
    report = lakehouse.sync("commit")

    (failed,) = report.failed
    assert "catalog database went away" in failed.error
    assert lakehouse.table_names() == set()
    bronze_files = Path(lakehouse.settings.home / "warehouse" / "bronze")
    assert not list(bronze_files.rglob("*.parquet"))
    monkeypatch.undo()
    assert lakehouse.sync("commit").exit_code == 0
    assert lakehouse.table("bronze.datagouv__commit__fichier").num_rows == 1


def test_a_gzip_bomb_is_refused_naming_the_resource_not_a_scratch_file(
    lakehouse: Lakehouse, mirror: MirrorServer
) -> None:
    import gzip

    bomb = gzip.compress(b"a;b\n" + b"0;0\n" * (16 * 1024 * 1024))  # ~1000 times smaller than what it expands to
    mirror.add_dataset(
        {"id": "bombe", "resources": [{"id": BAD_ID, "title": "Adresses compressees", "format": "csv.gz"}]},
        {BAD_ID: bomb},
    )

    report = lakehouse.sync("bombe")

    (failed,) = report.failed
    assert failed.error is not None and "Adresses compressees" in failed.error and BAD_ID in failed.error
    assert re.search(r"gzip.* expands past the compression ratio limit", failed.error), failed.error
    # Downloads land in scratch files named after the batch; such a name tells the reader nothing.
    assert report.batch_id not in failed.error, failed.error


def test_a_sha2_mismatch_says_which_digest_the_bytes_have(lakehouse: Lakehouse, mirror: MirrorServer) -> None:
    data = b"code;nom\n01001;Ain\n"
    published = "0" * 64
    mirror.add_dataset(
        {
            "id": "empreinte",
            "resources": [
                {"id": BAD_ID, "title": "Fichier", "format": "csv", "checksum": {"type": "sha2", "value": published}}
            ],
        },
        {BAD_ID: data},
    )

    (failed,) = lakehouse.sync("empreinte").failed

    assert failed.error is not None
    assert f"catalogue's sha2 {published} (got {hashlib.sha256(data).hexdigest()})" in failed.error, failed.error

"""ZIP archives: one part per tabular member, and refusals for unsafe archives."""

from __future__ import annotations

import gc
import io
import struct
import zipfile
from pathlib import Path

import openpyxl
import pytest

from civiclake.errors import ArchiveError, FormatError
from civiclake.formats import ReadLimits, open_tabular
from civiclake.formats.sources import ExpansionGuard

from .conftest import read_part

ZEROS_CHUNK = bytes(1024 * 1024)


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def make_zeros_zip(path: Path, member: str, megabytes: int) -> Path:
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open(member, "w") as stream,
    ):
        for _ in range(megabytes):
            stream.write(ZEROS_CHUNK)
    return path


def test_one_part_per_tabular_member_in_nested_folders(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "accidents.zip",
        {
            "2023/caract-2023.csv": b"Num_Acc;jour\n202300000001;7\n",
            "2023/usagers-2023.csv": b"Num_Acc;grav\n202300000001;1\n202300000001;4\n",
            "docs/": b"",
            "docs/notice.pdf": b"%PDF-1.4\n",
            "docs/LISEZMOI.txt": b"Fichiers de l'ONISR, accidents,\nannee 2023. Voir la notice.\n",
            "__MACOSX/2023/._caract-2023.csv": b"\x00\x05\x16\x07junk",
        },
    )

    parts = open_tabular(path, "zip")

    assert [part.name for part in parts] == ["2023/caract-2023.csv", "2023/usagers-2023.csv"]
    assert [read_part(part).num_rows for part in parts] == [1, 2]
    assert parts[1].schema.names == ["num_acc", "grav"]
    assert parts[0].format.delimiter == ";"


def test_member_pointing_outside_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "evil.zip", {"ok.csv": b"a\n1\n", "../../etc/passwd": b"root:x:0:0\n"})
    with pytest.raises(ArchiveError, match=r"^ZIP member '\.\./\.\./etc/passwd' points outside the archive$"):
        open_tabular(path)


@pytest.mark.parametrize("name", ["/etc/passwd", "C:/Windows/win.ini", "data\\..\\..\\x.csv"])
def test_absolute_and_backslash_paths_are_refused(tmp_path: Path, name: str) -> None:
    path = make_zip(tmp_path / "evil.zip", {"ok.csv": b"a\n1\n", name: b"x"})
    with zipfile.ZipFile(path) as archive:
        assert name in archive.namelist()  # stored as given: only extraction sanitises names
    with pytest.raises(ArchiveError, match="points outside the archive"):
        open_tabular(path)


def test_zip_bomb_refused_from_the_central_directory(tmp_path: Path) -> None:
    path = make_zeros_zip(tmp_path / "bomb.zip", "zeros.csv", megabytes=64)
    assert path.stat().st_size < 200_000
    with pytest.raises(
        ArchiveError, match=r"^ZIP member 'zeros.csv' expands \d+ times .* over the ratio limit of 200$"
    ):
        open_tabular(path)


def test_expanded_size_over_the_limit_is_refused(tmp_path: Path) -> None:
    members = {f"part-{index}.csv": b"a;b\n" + b"1;2\n" * 50_000 for index in range(3)}
    path = make_zip(tmp_path / "big.zip", members)
    with pytest.raises(ArchiveError, match=r"^ZIP expands to 600012 bytes, over the limit of 500000 bytes$"):
        open_tabular(path, limits=ReadLimits(max_expanded_bytes=500_000))


def test_too_many_members(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "many.zip", {f"{index}.csv": b"a\n1\n" for index in range(5)})
    with pytest.raises(ArchiveError, match=r"^ZIP has 5 members, over the limit of 4$"):
        open_tabular(path, limits=ReadLimits(max_archive_members=4))


def test_lying_sizes_are_caught_while_reading(tmp_path: Path) -> None:
    path = make_zeros_zip(tmp_path / "liar.zip", "data.csv", megabytes=4)
    raw = bytearray(path.read_bytes())
    # Claim 100 bytes in both headers: the central directory check passes, the content does not.
    struct.pack_into("<I", raw, 22, 100)
    directory = raw.find(b"PK\x01\x02")
    struct.pack_into("<I", raw, directory + 24, 100)
    path.write_bytes(bytes(raw))

    with pytest.raises(ArchiveError, match=r"^ZIP member 'data.csv' "):
        for part in open_tabular(path):
            read_part(part)


def test_expansion_guard_stops_at_its_limit() -> None:
    guard = ExpansionGuard(io.BytesIO(bytes(5000)), what="ZIP member 'x.csv'", max_bytes=4096, max_ratio_bytes=None)
    with pytest.raises(ArchiveError, match=r"^ZIP member 'x.csv' expands past 4096 bytes"):
        while guard.read(1000):
            pass


def test_expansion_guard_enforces_the_ratio() -> None:
    guard = ExpansionGuard(io.BytesIO(bytes(5000)), what="gzip file 'x.gz'", max_bytes=10**9, max_ratio_bytes=2048)
    with pytest.raises(ArchiveError, match="expands past the compression ratio limit"):
        while guard.read(1000):
            pass


def test_archive_without_tabular_member(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "docs.zip", {"notice.pdf": b"%PDF-1.4\n", "LISEZMOI.txt": b"Rien ici.\n"})
    with pytest.raises(
        FormatError,
        match=r"^not a tabular file: ZIP archive has no tabular member "
        r"\(members: 'notice.pdf', 'LISEZMOI.txt'\)$",
    ):
        open_tabular(path)


def test_bad_member_is_named(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "bad.zip", {"good.csv": b"a;b\n1;2\n", "bad.csv": b"a;b\n1;2;3\n"})
    good, bad = open_tabular(path)
    assert read_part(good).num_rows == 1
    with pytest.raises(FormatError, match=r"^row 1 \(line 2\) has 3 fields, header has 2$"):
        read_part(bad)


def test_binary_member_named_csv_is_an_error(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "bad.zip", {"data.csv": b"\x00\x01\x02garbage"})
    with pytest.raises(FormatError, match=r"^ZIP member 'data.csv': binary content, not text: NUL byte at byte 0$"):
        open_tabular(path)


def test_workbook_and_json_members(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "Feuil1"
    workbook.active.append(["code", "valeur"])
    workbook.active.append(["01", 3])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = make_zip(
        tmp_path / "mixed.zip",
        {"tableau.xlsx": buffer.getvalue(), "api/records.json": b'{"data": [{"x": 1}, {"x": 2}]}'},
    )

    parts = open_tabular(path, workdir=tmp_path / "work")

    assert [part.name for part in parts] == ["tableau.xlsx!Feuil1", "api/records.json"]
    assert read_part(parts[0]).to_pylist() == [{"code": "01", "valeur": 3}]
    assert read_part(parts[1]).to_pylist() == [{"x": 1}, {"x": 2}]
    assert list((tmp_path / "work").iterdir()), "the workbook is copied to the workdir for random access"


def test_truncated_zip(tmp_path: Path) -> None:
    rows = "".join(f"{index};{index * 7919 % 10007}\n" for index in range(5000))
    path = make_zip(tmp_path / "cut.zip", {"a.csv": ("a;b\n" + rows).encode()})
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ArchiveError, match=r"^not a readable ZIP archive: "):
        open_tabular(path)


def test_tar_gz_is_not_tabular(tmp_path: Path) -> None:
    import tarfile

    path = tmp_path / "data.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        member = tmp_path / "a.csv"
        member.write_bytes(b"a;b\n1;2\n")
        archive.add(member, arcname="a.csv")
    with pytest.raises(FormatError, match=r"^not a tabular file: detected tar$"):
        open_tabular(path)


def test_temporary_copies_go_with_their_parts(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(["a"])
    workbook.active.append([1])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = make_zip(tmp_path / "book.zip", {"book.xlsx": buffer.getvalue()})

    (part,) = open_tabular(path)
    assert read_part(part).to_pylist() == [{"a": 1}]
    copy = part._path  # type: ignore[attr-defined]
    assert copy.exists()
    del part
    gc.collect()
    assert not copy.exists()

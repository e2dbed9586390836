"""Delimited text: sniffing, bad files, encodings, compression and streaming."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pytest

from civiclake.errors import FormatError
from civiclake.formats import DetectedFormat, ReadLimits, detect_format, open_tabular

from .conftest import original_names, read_part


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def read_single(path: Path, declared_format: str | None = None) -> pa.Table:
    (part,) = open_tabular(path, declared_format)
    return read_part(part)


def test_hash_prefixed_header_loses_its_hash(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "laposte.csv",
        b"#Code_commune_INSEE;Nom_commune;Code_postal;Ligne_5\n01001;L ABERGEMENT;01400;\n",
    )
    (part,) = open_tabular(path)
    assert part.schema.names == ["code_commune_insee", "nom_commune", "code_postal", "ligne_5"]
    assert original_names(part.schema)[0] == "Code_commune_INSEE"
    assert read_part(part)["code_commune_insee"].to_pylist() == ["01001"]


def test_pipe_separated_txt_with_decimal_comma(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "valeursfoncieres-2023.txt",
        b"No disposition|Date mutation|Valeur fonciere|Code postal|Surface\r\n"
        b"000001|05/01/2023|1200000,00|01000|45\r\n"
        b"000002|13/01/2023|95000,50|75001|\r\n",
    )
    assert detect_format(path, "txt") == DetectedFormat("csv", encoding="utf-8", delimiter="|")

    table = read_single(path, "txt")

    assert table.schema.field("valeur_fonciere").type == pa.float64()
    assert table["valeur_fonciere"].to_pylist() == [1200000.0, 95000.5]
    assert table.schema.field("date_mutation").type == pa.date32()
    assert str(table["date_mutation"][1].as_py()) == "2023-01-13"
    assert table["no_disposition"].to_pylist() == ["000001", "000002"]
    assert table["code_postal"].to_pylist() == ["01000", "75001"]
    assert table["surface"].to_pylist() == [45, None]


def test_semicolon_file_with_decimal_commas_is_not_split_on_commas(tmp_path: Path) -> None:
    path = write(tmp_path, "baac.csv", b"Num_Acc;lat;long\n202300000001;48,8566;2,3522\n202300000002;45,1;5,7\n")
    assert detect_format(path).delimiter == ";"
    table = read_single(path)
    assert table["lat"].to_pylist() == [48.8566, 45.1]
    assert table["num_acc"].type == pa.string()


def test_tab_separated(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tsv", b"a\tb\n1\tx\n")
    assert detect_format(path).delimiter == "\t"
    assert read_single(path).to_pylist() == [{"a": 1, "b": "x"}]


def test_single_column_file(tmp_path: Path) -> None:
    path = write(tmp_path, "codes.csv", b"code_insee\n01001\n2A004\n")
    assert detect_format(path).delimiter is None
    assert read_single(path)["code_insee"].to_pylist() == ["01001", "2A004"]


def test_empty_header_cells_get_positional_names(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.csv", b"a;;c;\n1;2;3;4\n")
    (part,) = open_tabular(path)
    assert part.schema.names == ["a", "column_2", "c", "column_4"]
    assert original_names(part.schema) == ["a", "", "c", ""]


def test_header_only_file_has_columns_and_no_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", b"a;b\r\n")
    (part,) = open_tabular(path)
    assert part.schema.names == ["a", "b"]
    assert read_part(part).num_rows == 0
    assert part.rows_read == 0


def test_ragged_row_is_named(tmp_path: Path) -> None:
    rows = ["a;b;c"] + [f"{i};x;y" for i in range(1, 1234)] + ["1234;x", "1235;x;y"]
    path = write(tmp_path, "ragged.csv", "\n".join(rows).encode() + b"\n")
    (part,) = open_tabular(path)
    with pytest.raises(FormatError, match=r"^row 1234 \(line 1235\) has 2 fields, header has 3$"):
        read_part(part)


def test_row_with_too_many_fields_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "ragged.csv", b'a,b\n1,"x\ny"\n2,3,4\n')
    (part,) = open_tabular(path)
    with pytest.raises(FormatError, match=r"^row 2 \(line 4\) has 3 fields, header has 2$"):
        _ = part.schema


def test_truncated_file_with_unterminated_quote_in_last_column(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.csv", b'a;b;c\n1;2;3\n4;5;"unterminated\n7;8;9\n')
    (part,) = open_tabular(path)
    with pytest.raises(FormatError, match="unterminated quoted value at end of file"):
        _ = part.schema


def test_truncated_file_with_unterminated_quote_in_middle_column(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.csv", b'a;b;c\n1;2;3\n4;"unterminated;5\n')
    (part,) = open_tabular(path)
    with pytest.raises(FormatError, match="unterminated quoted value at end of file"):
        _ = part.schema


def test_closed_quotes_at_end_are_not_truncation(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.csv", b'a;b\n1;""\n2;"x"""\n3;"multi\nline"')
    table = read_single(path)
    assert table["b"].to_pylist() == [None, 'x"', "multi\nline"]


def test_binary_garbage_named_csv(tmp_path: Path) -> None:
    garbage = bytes((index * 7919 + 13) % 256 for index in range(4096))
    path = write(tmp_path, "data.csv", garbage)
    with pytest.raises(FormatError, match=r"binary content, not text: NUL byte at byte \d+"):
        open_tabular(path, "csv")


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.csv", b"")
    with pytest.raises(FormatError, match=r"^empty file$"):
        detect_format(path)
    with pytest.raises(FormatError, match=r"^empty file$"):
        open_tabular(path)


def test_cp1252_specific_characters(tmp_path: Path) -> None:
    text = "libellé;prix;note\nCœur de bœuf;12,50 €;l\u2019été\nÉlan;3;«ok»\n"
    path = write(tmp_path, "cp1252.csv", text.encode("cp1252"))
    assert detect_format(path).encoding == "cp1252"

    (part,) = open_tabular(path)
    table = read_part(part)

    assert part.schema.names == ["libelle", "prix", "note"]
    assert original_names(part.schema)[0] == "libellé"
    assert table.to_pylist() == [
        {"libelle": "Cœur de bœuf", "prix": "12,50 €", "note": "l\u2019été"},
        {"libelle": "Élan", "prix": "3", "note": "«ok»"},
    ]


def test_cp1252_after_an_ascii_sample_falls_back(tmp_path: Path) -> None:
    lines = ["code;libelle"] + [f"{index:05d};commune" for index in range(200)] + ["99999;Sainte-Hélène €"]
    path = write(tmp_path, "late.csv", "\n".join(lines).encode("cp1252") + b"\n")
    (part,) = open_tabular(path, limits=ReadLimits(sample_bytes=256))
    assert part.format.encoding == "utf-8"  # all the sample showed
    table = read_part(part)
    assert table["libelle"][-1].as_py() == "Sainte-Hélène €"
    assert part.format.encoding == "cp1252"


def test_neither_utf8_nor_cp1252(tmp_path: Path) -> None:
    # 0x81 is undefined in cp1252 and cannot start a UTF-8 sequence.
    path = write(tmp_path, "bad.csv", b"a;b\n" + b"x;y\n" * 10 + b"\xe9\x81;z\n")
    with pytest.raises(FormatError, match=r"^not valid utf-8 nor cp1252 at byte 45$"):
        detect_format(path)


def test_utf8_file_with_a_bad_byte_past_the_sample(tmp_path: Path) -> None:
    content = "a;b\né;1\n".encode() + b"x;2\n" * 100 + b"\xe9;3\n"
    path = write(tmp_path, "mixed.csv", content)
    (part,) = open_tabular(path, limits=ReadLimits(sample_bytes=64))
    with pytest.raises(FormatError, match=rf"^not valid utf-8 at byte {len(content) - 4}"):
        _ = part.schema


def test_csv_gz(tmp_path: Path) -> None:
    content = b"id;commune;population\n1;Paris;2100000\n2;Lyon;520000\n"
    path = write(tmp_path, "adresses.csv.gz", gzip.compress(content))
    assert detect_format(path) == DetectedFormat("csv", encoding="utf-8", delimiter=";", compression="gzip")
    (part,) = open_tabular(path)
    assert part.format.compression == "gzip"
    assert read_part(part)["population"].to_pylist() == [2100000, 520000]


def test_truncated_gzip(tmp_path: Path) -> None:
    content = gzip.compress(b"a;b\n" + b"1;2\n" * 100_000)
    path = write(tmp_path, "cut.csv.gz", content[: len(content) // 2])
    with pytest.raises(FormatError, match=r"^gzip-compressed content is corrupt or truncated: "):
        for part in open_tabular(path):
            read_part(part)


def test_html_error_page_named_csv_is_not_tabular(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", b"<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n")
    assert detect_format(path, "csv").format == "html"
    with pytest.raises(FormatError, match=r"^not a tabular file: detected html$"):
        open_tabular(path, "csv")


def test_large_file_streams_in_several_batches(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows_per_block, block_count = 10_000, 50
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("code_commune;nom;population;surface;date_maj;commentaire\n")
        for block in range(block_count):
            handle.write(
                "".join(
                    f"{index % 99999:05d};Commune numéro {index};{index};{index / 7:.3f};2024-01-31;"
                    f'"un commentaire ; assez long pour peser, ligne {block}"\n'
                    for index in range(rows_per_block)
                )
            )
    assert path.stat().st_size > 45 * 1024 * 1024

    (part,) = open_tabular(path)
    batch_sizes = [batch.num_rows for batch in part.batches()]

    row_count = rows_per_block * block_count
    assert len(batch_sizes) >= 5
    assert max(batch_sizes) < row_count // 4
    assert sum(batch_sizes) == part.rows_read == row_count
    assert part.schema.types == [pa.string(), pa.string(), pa.int64(), pa.float64(), pa.date32(), pa.string()]

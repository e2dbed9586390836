"""Finding UTF-8 text in a file read as cp1252: the line and byte offset, across read chunks, without taking
cp1252 text for UTF-8."""

from __future__ import annotations

from pathlib import Path

from civiclake.formats.sources import FileSource, utf8_line_in_single_byte_text

CP1252_LINE = "01001;Clémenciat;CAFÉ’S;12 €\n".encode("cp1252")  # noqa: RUF001 - typographic quote on purpose


def _find(tmp_path: Path, data: bytes) -> tuple[int, int] | None:
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    return utf8_line_in_single_byte_text(FileSource(path))


def test_cp1252_text_whose_bytes_pair_like_utf8_is_not_taken_for_utf8(tmp_path: Path) -> None:
    # É and the right quote are C9 92 in cp1252, a valid UTF-8 pair; the é (E9) makes the line invalid UTF-8.
    assert _find(tmp_path, b"code;nom;enseigne;prix\n" + CP1252_LINE * 1000) is None


def test_a_utf8_line_is_found_past_the_first_read_chunk_with_its_line_and_byte(tmp_path: Path) -> None:
    head = CP1252_LINE * (3 * 1024 * 1024 // len(CP1252_LINE))  # three read chunks of cp1252 lines
    utf8 = "25056;Besançon\n".encode()
    data = head + utf8 + CP1252_LINE
    assert _find(tmp_path, data) == (head.count(b"\n") + 1, len(head) + utf8.index("ç".encode()))


def test_a_utf8_last_line_without_a_line_break_is_found(tmp_path: Path) -> None:
    data = CP1252_LINE + "Orléans".encode()
    assert _find(tmp_path, data) == (2, len(CP1252_LINE) + len("Orl"))

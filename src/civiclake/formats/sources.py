"""Byte streams a reader can open again and again: a plain file, a gzip file, a ZIP member.

Readers make two passes (infer types, then cast), so a source is a recipe to open a fresh stream, not a
stream. Compressed sources count what they expand to and stop past their limits, whatever the headers said.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import shutil
import tempfile
import weakref
import zipfile
import zlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO, BinaryIO

from civiclake.errors import ArchiveError, FormatError
from civiclake.formats.model import ReadLimits

# Small members of a ZIP legitimately compress far better than 200:1 (a column of empty cells, a repeated
# header); only an expansion that is both lopsided and large is a bomb.
RATIO_CHECK_FLOOR_BYTES = 1024 * 1024
_COPY_CHUNK_BYTES = 1024 * 1024
# What zipfile raises on a damaged archive besides BadZipFile: an unknown version or method
# (NotImplementedError), a member needing a password (RuntimeError), a header pointing before the file start or
# past its end (OSError, EOFError, ValueError), a corrupt deflate stream (zlib.error).
ZIP_READ_ERRORS = (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError, ValueError, zlib.error)
# A multi-byte UTF-8 character: a lead byte and its continuation bytes. cp1252 decodes nearly any byte, so in a
# file read as cp1252 these are the only trace UTF-8 text leaves (``ç`` reads as ``Ã§``).
_BYTE_CLASSES = bytes(
    ord("L") if 0xC2 <= byte <= 0xF4 else ord("C") if 0x80 <= byte <= 0xBF else ord(".") for byte in range(256)
)  # UTF-8 lead bytes of multi-byte characters, continuation bytes, the rest
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


class ByteSource(ABC):
    """Where a part's bytes come from; ``describe`` is how error messages name it."""

    @abstractmethod
    def open(self) -> BinaryIO: ...

    @abstractmethod
    def describe(self) -> str: ...

    @property
    @abstractmethod
    def suffix(self) -> str:
        """The file name extension, lower case, used as a hint only."""

    def read_sample(self, size: int) -> tuple[bytes, bool]:
        """The first ``size`` bytes, and whether they are the whole content."""
        with self.open() as stream:
            sample = _read_exactly(stream, size)
            at_end = len(sample) < size or not stream.read(1)
        return sample, at_end

    def local_path(self, workdir: Path | None, owner: object) -> Path:
        """A path on disk with the content, for readers that need random access (xlsx, parquet).

        Without a workdir the copy goes to a temporary folder removed when ``owner`` is collected.
        """
        if workdir is None:
            folder = Path(tempfile.mkdtemp(prefix="civiclake-"))
            weakref.finalize(owner, shutil.rmtree, folder, ignore_errors=True)
        else:
            folder = Path(workdir)
            folder.mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkstemp(dir=folder, suffix=self.suffix)[1])
        with self.open() as stream, target.open("wb") as out:
            shutil.copyfileobj(stream, out, _COPY_CHUNK_BYTES)
        return target


class FileSource(ByteSource):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def open(self) -> BinaryIO:
        return self.path.open("rb")

    def describe(self) -> str:
        return self.path.name

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    def local_path(self, workdir: Path | None, owner: object) -> Path:
        return self.path


class GzipSource(ByteSource):
    def __init__(self, path: Path, limits: ReadLimits) -> None:
        self.path = Path(path)
        self.limits = limits

    def open(self) -> BinaryIO:
        compressed_size = self.path.stat().st_size
        raw = gzip.GzipFile(self.path, "rb")  # closed by the guard that wraps it
        guard = ExpansionGuard(
            raw,
            what="gzip-compressed content",  # the file is a scratch copy: its name means nothing to the reader
            max_bytes=self.limits.max_expanded_bytes,
            max_ratio_bytes=_ratio_limit(compressed_size, self.limits),
        )
        return io.BufferedReader(guard, _COPY_CHUNK_BYTES)

    def describe(self) -> str:
        return self.path.name

    @property
    def suffix(self) -> str:
        # data.csv.gz -> .csv: the hint is about the content, not the wrapping.
        return Path(self.path.stem).suffix.lower()


class ZipMemberSource(ByteSource):
    def __init__(self, zip_path: Path, info: zipfile.ZipInfo, limits: ReadLimits) -> None:
        self.zip_path = Path(zip_path)
        self.info = info
        self.limits = limits

    def open(self) -> BinaryIO:
        try:
            archive = zipfile.ZipFile(self.zip_path)
        except ZIP_READ_ERRORS as error:
            raise ArchiveError(f"not a readable ZIP archive: {error}") from error
        try:
            member = archive.open(self.info)
        except ZIP_READ_ERRORS as error:
            archive.close()
            raise ArchiveError(f"ZIP member {self.info.filename!r} cannot be read: {error}") from error
        guard = ExpansionGuard(
            member,
            what=f"ZIP member {self.info.filename!r}",
            max_bytes=min(self.info.file_size, self.limits.max_expanded_bytes),
            max_ratio_bytes=_ratio_limit(self.info.compress_size, self.limits),
            also_close=archive,
        )
        return io.BufferedReader(guard, _COPY_CHUNK_BYTES)

    def describe(self) -> str:
        return f"ZIP member {self.info.filename!r}"

    @property
    def suffix(self) -> str:
        return Path(self.info.filename).suffix.lower()


class ExpansionGuard(io.RawIOBase):
    """Counts decompressed bytes and refuses to go past the limits; turns codec errors into ours.

    ZIP headers are checked before anything is read, but a header can lie; this is the check that
    holds whatever the archive claims.
    """

    def __init__(
        self,
        inner: IO[bytes] | gzip.GzipFile,
        *,
        what: str,
        max_bytes: int,
        max_ratio_bytes: int | None,
        also_close: zipfile.ZipFile | None = None,
    ) -> None:
        super().__init__()
        self._inner = inner
        self._what = what
        self._max_bytes = max_bytes
        self._max_ratio_bytes = max_ratio_bytes
        self._also_close = also_close
        self.bytes_out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except (*ZIP_READ_ERRORS, gzip.BadGzipFile) as error:
            raise ArchiveError(f"{self._what} is corrupt or truncated: {error}") from error
        count = len(data)
        buffer[:count] = data
        self.bytes_out += count
        if self.bytes_out > self._max_bytes:
            raise ArchiveError(f"{self._what} expands past {self._max_bytes} bytes (its declared size or the limit)")
        if self._max_ratio_bytes is not None and self.bytes_out > self._max_ratio_bytes:
            raise ArchiveError(f"{self._what} expands past the compression ratio limit")
        return count

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
            if self._also_close is not None:
                self._also_close.close()
        super().close()


def _ratio_limit(compressed_size: int, limits: ReadLimits) -> int:
    return max(int(compressed_size * limits.max_compression_ratio), RATIO_CHECK_FLOOR_BYTES)


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def first_undecodable_byte(source: ByteSource, encoding: str) -> int | None:
    """Offset of the first byte ``encoding`` cannot decode, scanning the whole stream; None if all decode."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0  # bytes fed to the decoder before the current chunk
    with source.open() as stream:
        while chunk := stream.read(_COPY_CHUNK_BYTES):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return offset - pending + error.start
            offset += len(chunk)
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset - pending
    return None


def utf8_line_in_single_byte_text(source: ByteSource) -> tuple[int, int] | None:
    """(line, byte offset) of the first multi-byte UTF-8 character on a line that is valid UTF-8, in a stream
    read in a single-byte encoding (cp1252); None if there is none.

    Such a line is UTF-8 text in a file that is not: decoded as cp1252 it would be stored as mojibake. A line
    must be valid UTF-8 as a whole to count: cp1252 text where an accented capital happens to precede a
    typographic quote (bytes C9 92, also a UTF-8 pair) is not taken for UTF-8 unless the whole line agrees.
    """
    lines_before = 0  # line breaks before ``buffer``
    offset = 0  # file offset of ``buffer``
    buffer = b""
    with source.open() as stream:
        while True:
            chunk = stream.read(_COPY_CHUNK_BYTES)
            buffer += chunk
            # Whole lines only, but for the file's last line.
            end = len(buffer) if not chunk else buffer.rfind(b"\n") + 1
            # A lead byte followed by a continuation byte is where a multi-byte character can start: translate
            # and find spot those pairs at C speed, where a regular expression search runs byte by byte.
            classes = buffer[:end].translate(_BYTE_CLASSES)
            position = 0
            while (candidate := classes.find(b"LC", position)) != -1:
                found = _UTF8_MULTIBYTE.match(buffer, candidate, end)
                if found is None:
                    position = candidate + 1
                    continue
                line_start = buffer.rfind(b"\n", 0, found.start()) + 1
                line_end = buffer.find(b"\n", found.start(), end)
                line_end = end if line_end == -1 else line_end
                try:
                    buffer[line_start:line_end].decode("utf-8")
                except UnicodeDecodeError:
                    position = line_end  # cp1252 text: the next line may still be UTF-8
                    continue
                return lines_before + buffer.count(b"\n", 0, line_start) + 1, offset + found.start()
            if not chunk:
                return None
            lines_before += buffer.count(b"\n", 0, end)
            offset += end
            buffer = buffer[end:]


def refuse_utf8_in_single_byte_text(source: ByteSource, encoding: str | None) -> None:
    """cp1252 decodes almost any byte: a file read as cp1252 that holds UTF-8 lines would load as mojibake."""
    if encoding != "cp1252":
        return
    found = utf8_line_in_single_byte_text(source)
    if found is not None:
        line, offset = found
        raise FormatError(
            f"UTF-8 text at line {line} (byte {offset}) in a file read as cp1252: the file mixes encodings"
        )

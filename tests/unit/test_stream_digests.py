"""Digests computed on other threads equal hashlib's and zlib's over the same bytes, however they are chunked;
the copy written on another thread holds the same bytes, and its failure reaches the reading thread."""

from __future__ import annotations

import hashlib
import io
import threading
import zlib
from pathlib import Path

import pytest

from civiclake.sources.digests import BLOCK_BYTES, StreamDigests

DATA = bytes(range(256)) * (3 * BLOCK_BYTES // 256 + 7)  # three blocks and a bit: a partial last block


@pytest.mark.parametrize("chunk", [1000, 64 * 1024, BLOCK_BYTES, len(DATA)])
def test_digests_match_the_reference_functions(chunk: int) -> None:
    with StreamDigests(("sha1", "md5", "crc", "sha256", "unknown")) as digests:
        for start in range(0, len(DATA), chunk):
            digests.update(DATA[start : start + chunk])
        found = digests.hexdigests()
    assert found == {
        "sha256": hashlib.sha256(DATA).hexdigest(),
        "sha1": hashlib.sha1(DATA).hexdigest(),
        "md5": hashlib.md5(DATA).hexdigest(),
        "crc": f"{zlib.crc32(DATA):08x}",
    }
    assert digests.size == len(DATA)


def test_nothing_read_gives_the_digests_of_no_bytes() -> None:
    with StreamDigests(("sha1",)) as digests:
        assert digests.hexdigests() == {"sha256": hashlib.sha256().hexdigest(), "sha1": hashlib.sha1().hexdigest()}


def test_a_stream_that_fails_midway_stops_the_threads() -> None:
    before = threading.active_count()
    with pytest.raises(OSError, match="connection reset"), StreamDigests(("sha1",)) as digests:
        digests.update(DATA)
        raise OSError("connection reset")
    assert threading.active_count() == before


@pytest.mark.parametrize("chunk", [1000, BLOCK_BYTES + 1])
def test_the_copy_holds_every_byte_in_order(chunk: int, tmp_path: Path) -> None:
    with (tmp_path / "copy").open("wb") as sink, StreamDigests(copy_to=sink) as digests:
        for start in range(0, len(DATA), chunk):
            digests.update(DATA[start : start + chunk])
        found = digests.hexdigests()
    assert (tmp_path / "copy").read_bytes() == DATA
    assert found == {"sha256": hashlib.sha256(DATA).hexdigest()}


class _FullDisk(io.RawIOBase):
    """Takes one block, then fails as a full disk does."""

    def __init__(self) -> None:
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.written:
            raise OSError(28, "No space left on device")
        self.written += len(data)
        return len(data)


def test_a_failed_write_is_raised_in_the_reading_thread_and_stops_the_threads() -> None:
    before = threading.active_count()
    with pytest.raises(OSError, match="No space left"), StreamDigests(("sha1",), copy_to=_FullDisk()) as digests:
        for start in range(0, len(DATA), 1000):
            digests.update(DATA[start : start + 1000])
        digests.hexdigests()
    assert threading.active_count() == before

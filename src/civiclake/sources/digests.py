"""Digests of a byte stream, computed beside the read instead of inside it.

A download or a copy hands its chunks to ``StreamDigests`` as they come. Chunks are gathered into blocks of
1 MiB and every algorithm hashes them on a thread of its own: hashlib and zlib release the GIL on large
buffers, so sha256, the catalogue's sha1 (or md5, sha512, crc) and the socket or disk reads run on separate
cores. On a fast link, hashing a gigabyte inline cost about as long as receiving it.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from types import TracebackType
from typing import Any, Protocol

# Blocks of 1 MiB, joined from the socket's chunks: queued 64 KiB chunks left 25 MB in the allocator's heap
# after a download, which the load then added to its own peak; joined blocks leave 5 MB.
BLOCK_BYTES = 1024 * 1024
# Blocks waiting per algorithm: memory stays bounded (a few MiB) when hashing is slower than the read.
_QUEUED_BLOCKS = 8
_ALGORITHMS = ("sha256", "sha1", "md5", "sha512", "crc")


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


class _Crc32:
    """zlib's crc32 with hashlib's interface; the hex digest is the 8-digit form catalogues publish."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value:08x}"


class StreamDigests:
    """sha256 always, plus each of ``extra_algorithms`` civiclake can compute (others are ignored).

    Use as a context manager: leaving the block stops the threads, also when the stream failed midway.
    """

    def __init__(self, extra_algorithms: tuple[str, ...] = ()) -> None:
        wanted = ["sha256", *(name for name in extra_algorithms if name in _ALGORITHMS and name != "sha256")]
        self._digests: dict[str, _Digest] = {
            name: _Crc32() if name == "crc" else hashlib.new(name) for name in dict.fromkeys(wanted)
        }
        self._queues: list[queue.Queue[bytes | None]] = []
        self._threads: list[threading.Thread] = []
        for digest in self._digests.values():
            blocks: queue.Queue[bytes | None] = queue.Queue(_QUEUED_BLOCKS)
            thread = threading.Thread(target=_hash_blocks, args=(digest, blocks), daemon=True)
            thread.start()
            self._queues.append(blocks)
            self._threads.append(thread)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        if self._pending_bytes >= BLOCK_BYTES:
            self._flush()

    def hexdigests(self) -> dict[str, str]:
        """Every digest once all bytes are hashed: ``{"sha256": ..., "sha1": ...}``."""
        self._flush()
        self._stop()
        return {name: digest.hexdigest() for name, digest in self._digests.items()}

    def _flush(self) -> None:
        if not self._pending:
            return
        block = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending, self._pending_bytes = [], 0
        for blocks in self._queues:
            blocks.put(block)

    def _stop(self) -> None:
        for blocks in self._queues:
            blocks.put(None)
        for thread in self._threads:
            thread.join()
        self._queues, self._threads = [], []

    def __enter__(self) -> StreamDigests:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop()


def _hash_blocks(digest: Any, blocks: queue.Queue[bytes | None]) -> None:
    while (block := blocks.get()) is not None:
        digest.update(block)

"""Digests of a byte stream, and its copy on disk, computed beside the read instead of inside it.

A download or a copy hands its chunks to ``StreamDigests`` as they come. Chunks are gathered into blocks of
1 MiB and every algorithm hashes them on a thread of its own, as does the writer of the copy: hashlib, zlib
and file writes release the GIL on large buffers, so sha256, the catalogue's sha1 (or md5, sha512, crc), the
disk writes and the socket or disk reads run on separate cores. On a fast link, hashing a gigabyte inline
cost about as long as receiving it, and writing it a chunk at a time from the reading thread a fifth of that.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
import zlib
from collections.abc import Callable
from types import TracebackType
from typing import BinaryIO, Protocol

# Blocks of 1 MiB, joined from the socket's chunks: queued 64 KiB chunks left 25 MB in the allocator's heap
# after a download, which the load then added to its own peak; joined blocks leave 5 MB.
BLOCK_BYTES = 1024 * 1024
# Blocks waiting per algorithm and for the copy: memory stays bounded (a few MiB) when hashing or writing is
# slower than the read.
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
    """sha256 always, plus each of ``extra_algorithms`` civiclake can compute (others are ignored); with
    ``copy_to``, every byte is also written there, in order.

    Use as a context manager: leaving the block stops the threads, also when the stream failed midway. A
    failed write is raised by the next ``update`` or by ``hexdigests``, which also waits for the last write.
    """

    def __init__(self, extra_algorithms: tuple[str, ...] = (), *, copy_to: BinaryIO | None = None) -> None:
        wanted = ["sha256", *(name for name in extra_algorithms if name in _ALGORITHMS and name != "sha256")]
        self._digests: dict[str, _Digest] = {
            name: _Crc32() if name == "crc" else hashlib.new(name) for name in dict.fromkeys(wanted)
        }
        consumers: list[Callable[[bytes], object]] = [digest.update for digest in self._digests.values()]
        if copy_to is not None:
            consumers.append(copy_to.write)
        self._workers = [_BlockWorker(consume) for consume in consumers]
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
        """Every digest once all bytes are hashed (and written): ``{"sha256": ..., "sha1": ...}``."""
        self._flush()
        self._stop()
        return {name: digest.hexdigest() for name, digest in self._digests.items()}

    def _flush(self) -> None:
        if not self._pending:
            return
        block = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending, self._pending_bytes = [], 0
        for worker in self._workers:
            worker.put(block)

    def _stop(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.finish()
        for worker in workers:
            worker.join()

    def __enter__(self) -> StreamDigests:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self._stop()
            return
        with contextlib.suppress(Exception):  # the stream's own failure is the one to report
            self._stop()


class _BlockWorker:
    """One thread feeding queued blocks to ``consume``; its failure is raised in the thread that queues."""

    def __init__(self, consume: Callable[[bytes], object]) -> None:
        self._consume = consume
        self._blocks: queue.Queue[bytes | None] = queue.Queue(_QUEUED_BLOCKS)
        self._failure: Exception | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def put(self, block: bytes) -> None:
        self._raise_failure()
        self._blocks.put(block)

    def finish(self) -> None:
        self._blocks.put(None)

    def join(self) -> None:
        self._thread.join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        while (block := self._blocks.get()) is not None:
            if self._failure is None:  # after a failure, blocks are only drained: the reader must not wait
                try:
                    self._consume(block)
                except Exception as error:  # handed to the reading thread
                    self._failure = error

"""Scratch space of a sync run: downloads in flight, inner files of archives, copies made to be read.

Each run works in a folder of its own under ``$CIVICLAKE_HOME/tmp`` and holds an exclusive ``flock`` on a lock
file beside it (``<run>.lock``) for as long as it lives. A run that ends deletes its folder; a run that is killed
(SIGKILL, a lost pod) cannot, but the kernel drops its lock, so the next run to start knows that folder is
abandoned and deletes it. A folder whose lock is held belongs to a run still going: it is left alone, so two
syncs can share a CIVICLAKE_HOME.

The lock file is taken before the folder is made and deleted after the folder is gone: a folder without its lock
file is never a live run's. Entries without a lock file (left by a version that wrote loose files there) are
deleted once untouched for an hour, in case such a version is still running.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Final, Self

log = logging.getLogger(__name__)

LOCK_SUFFIX: Final = ".lock"
LOOSE_ENTRY_GRACE_SECONDS: Final = 3600.0


class RunScratch:
    """A run's scratch folder, locked while the run lives; ``close`` deletes it."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    @classmethod
    def create(cls, scratch_dir: Path, run_id: str) -> Self:
        scratch_dir.mkdir(parents=True, exist_ok=True)
        while True:
            name = f"{run_id}-{uuid.uuid4().hex[:8]}"
            lock_path = scratch_dir / f"{name}{LOCK_SUFFIX}"
            descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # Between our create and our lock, a cleaner may have taken the unheld file for a dead run's and
                # deleted it: the lock would then protect nothing. Start again under another name.
                if _same_file(descriptor, lock_path):
                    break
            except BlockingIOError:
                pass  # that cleaner holds it right now
            os.close(descriptor)
        path = scratch_dir / name
        path.mkdir()
        return cls(path, descriptor)

    def new_folder(self) -> Path:
        """A fresh folder inside the run's, for one resource."""
        folder = self.path / uuid.uuid4().hex
        folder.mkdir()
        return folder

    def close(self) -> None:
        if self._descriptor is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        (self.path.parent / f"{self.path.name}{LOCK_SUFFIX}").unlink(missing_ok=True)
        os.close(self._descriptor)  # releases the lock
        self._descriptor = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def remove_abandoned(scratch_dir: Path) -> list[str]:
    """Delete what runs no longer alive left in ``scratch_dir``; returns the names deleted."""
    if not scratch_dir.is_dir():
        return []
    removed: list[str] = []
    for lock_path in sorted(scratch_dir.glob(f"*{LOCK_SUFFIX}")):
        name = lock_path.name.removesuffix(LOCK_SUFFIX)
        if _remove_if_unlocked(lock_path, scratch_dir / name):
            removed.append(name)
    locked = {path.name.removesuffix(LOCK_SUFFIX) for path in scratch_dir.glob(f"*{LOCK_SUFFIX}")}
    now = time.time()
    for entry in sorted(scratch_dir.iterdir()):
        if entry.name.endswith(LOCK_SUFFIX) or entry.name in locked:
            continue
        with contextlib.suppress(FileNotFoundError):  # another run's cleanup got there first
            if now - entry.lstat().st_mtime < LOOSE_ENTRY_GRACE_SECONDS:
                continue
            _remove(entry)
            removed.append(entry.name)
    if removed:
        log.info("deleted scratch files of runs that did not finish: %s", ", ".join(removed))
    return removed


def _remove_if_unlocked(lock_path: Path, folder: Path) -> bool:
    try:
        descriptor = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:  # its run just ended, or another cleaner took it
        return False
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a run still going
        if not _same_file(descriptor, lock_path):
            return False  # deleted and maybe made again since we opened it: not ours to judge
        _remove(folder)
        lock_path.unlink(missing_ok=True)
        return True
    finally:
        os.close(descriptor)


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)

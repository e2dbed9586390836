"""Scratch folders per run: what a dead run left is deleted, a live run's never, loose old entries after a grace."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from civiclake.lake.scratch import LOOSE_ENTRY_GRACE_SECONDS, RunScratch, remove_abandoned

# Another process opens a run folder, writes in it, says where, and is killed without closing it.
RUN = """
import sys, threading
from pathlib import Path
from civiclake.lake.scratch import RunScratch
scratch = RunScratch.create(Path(sys.argv[1]), "run")
(scratch.new_folder() / "download").write_bytes(b"partial")
print(scratch.path, flush=True)
threading.Event().wait()
"""


def test_a_killed_runs_folder_goes_and_a_live_runs_stays(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", RUN, str(tmp_path)], stdout=subprocess.PIPE, text=True) as other:
        assert other.stdout is not None
        other_folder = Path(other.stdout.readline().strip())
        with RunScratch.create(tmp_path, "mine") as mine:
            (mine.new_folder() / "download").write_bytes(b"in flight")
            assert remove_abandoned(tmp_path) == [] and other_folder.is_dir(), "both runs are alive"
            other.kill()
            other.wait(timeout=30)
            assert remove_abandoned(tmp_path) == [other_folder.name]
            assert not other_folder.exists() and not Path(f"{other_folder}.lock").exists()
            assert [path.name for path in mine.path.glob("*/download")] == ["download"]
        assert sorted(tmp_path.iterdir()) == [], "a run that ends deletes its folder and lock file"


def test_loose_entries_go_only_once_untouched_for_the_grace_period(tmp_path: Path) -> None:
    old, young = tmp_path / "20250101T000000-abcd1234-0123", tmp_path / "20250101T000000-abcd1234-4567.parts"
    old.write_bytes(b"a download of a version without run folders")
    young.mkdir()
    (young / "inner.xlsx").write_bytes(b"")
    then = time.time() - LOOSE_ENTRY_GRACE_SECONDS - 60
    os.utime(old, (then, then))
    assert remove_abandoned(tmp_path) == [old.name]
    assert young.is_dir()

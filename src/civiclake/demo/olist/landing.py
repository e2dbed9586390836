"""A small Olist landing zone for the demo: generated, then replayed, offline and in a few seconds."""

from __future__ import annotations

import tempfile
from pathlib import Path

from civiclake.demo.olist.generate import DEFAULT_SEED, generate_olist
from civiclake.demo.olist.replay import ReplayReport, batch_folder_name, replay_olist

DEMO_ORDERS = 1_000
DEMO_BATCHES = 3


def build_demo_landing(
    landing: Path, *, orders: int = DEMO_ORDERS, batches: int = DEMO_BATCHES, seed: int = DEFAULT_SEED
) -> ReplayReport | None:
    """Generate ``orders`` Olist orders and replay them into ``landing`` as ``batches`` micro-batches.

    Nothing is read outside the package (the real samples are not part of it) and nothing is
    downloaded. Point ``files.landing`` (``CIVICLAKE__FILES__LANDING``) at ``landing`` and run
    ``civiclake sync --source files``. When ``landing`` already holds the batches (a second demo run),
    nothing is written and None is returned: untouched files are not even copied by the next sync.
    """
    if all((landing / batch_folder_name(number)).is_dir() for number in range(1, batches + 1)):
        return None
    with tempfile.TemporaryDirectory(prefix="civiclake-olist-") as generated:
        generate_olist(Path(generated), orders, seed=seed)
        return replay_olist(Path(generated), landing, batches, seed=seed)

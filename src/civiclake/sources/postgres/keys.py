"""Hard-delete detection: the key set of the last successful extraction against the key set now.

An incremental cursor never sees a deleted row. For the tables configured for it, every extraction also reads
all keys (in the same snapshot as the rows) and compares them with the key set the last *successful* extraction
saw, kept as a small Parquet file in the lake; keys that disappeared become tombstone rows.

Each extraction writes its key set to a new file and names it in its cursor; the cursor (and so the file) only
becomes "the last successful one" when the pipeline records the load as a success. A run that fails after the
key file was written leaves the saved cursor pointing at the previous file: the rerun finds the same deletions
again, and since the failed load committed nothing, they are loaded exactly once.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from civiclake.errors import SourceError
from civiclake.lake.filesystem import LakeStorage
from civiclake.warehouse.state import name_part

KEY_FIELD = "key"


class KeyFiles:
    """Key sets under ``raw/postgres/<dataset>/<table>/_keys/`` in the lake."""

    def __init__(self, lake: LakeStorage, source: str, dataset: str) -> None:
        self.lake = lake
        self.source = source
        self.dataset = dataset

    def folder(self, table: str) -> str:
        return f"raw/{self.source}/{name_part(self.dataset, 'dataset')}/{name_part(table, 'table')}/_keys"

    def read(self, relative: str, what: str) -> pa.Array:
        if not self.lake.exists(relative):
            raise SourceError(
                f"the key set of the last extraction of {what} ({self.lake.uri(relative)}) is missing, so deleted "
                "rows cannot be found: run `civiclake sync --source postgres --full-refresh` to start over"
            )
        with self.lake.filesystem.open_input_file(self.lake.path(relative)) as stream:
            return pq.read_table(stream).column(KEY_FIELD).combine_chunks()

    def write(self, table: str, keys: pa.Array, scratch: Path) -> str:
        """Save a key set under a new name; returns its path relative to the lake root."""
        relative = f"{self.folder(table)}/{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.parquet"
        local = scratch.with_name(f"{scratch.name}.keys.parquet")
        try:
            pq.write_table(pa.table({KEY_FIELD: keys}), local)
            self.lake.put_file(local, relative)
        finally:
            local.unlink(missing_ok=True)
        return relative

    def prune(self, table: str, keep: set[str]) -> None:
        """Delete the table's key files other than ``keep``: superseded sets, and those of failed runs."""
        for relative in self.lake.list_files(self.folder(table)):
            if relative not in keep:
                with contextlib.suppress(OSError):  # already gone: nothing to clean
                    self.lake.delete(relative)


def deleted_keys(previous: pa.Array, current: pa.Array) -> pa.Array:
    """Keys present in ``previous`` and absent from ``current``, in ``previous``'s order."""
    if previous.type != current.type:
        previous = previous.cast(current.type)
    still_there = pc.is_in(previous, value_set=current)
    return previous.filter(pc.invert(still_there))


def same_key_set(previous: pa.Array, current: pa.Array, deleted: pa.Array) -> bool:
    # Nothing deleted and as many keys as before: nothing was added either, so the saved file still holds.
    return len(deleted) == 0 and len(previous) == len(current)

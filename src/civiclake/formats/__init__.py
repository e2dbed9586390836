"""Readers for the files civiclake ingests: detect what the bytes are, then stream them as Arrow tables.

``detect_format`` sniffs a file; ``open_tabular`` turns it into ``TabularPart`` objects, one per table
(the CSV itself, each ZIP member, each sheet, the JSON data array), each with its final Arrow schema and
a ``batches()`` stream. Every refusal is a ``FormatError`` (``ArchiveError`` for unsafe archives) whose
message names the reason; the caller adds the resource name.
"""

from civiclake.formats.detect import detect_format
from civiclake.formats.model import ORIGINAL_NAME_KEY, DetectedFormat, ReadLimits, TabularPart
from civiclake.formats.tabular import open_tabular

__all__ = [
    "ORIGINAL_NAME_KEY",
    "DetectedFormat",
    "ReadLimits",
    "TabularPart",
    "detect_format",
    "open_tabular",
]
